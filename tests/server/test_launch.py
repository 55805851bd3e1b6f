"""launch_domain in-process: port 0, credentials, identity, the data directory, the CLI."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from server_support import LAUNCH

import unseen
from unseen.server import ACCESS, slug


def test_launch_in_a_thread_with_generated_password(tmp_path: Path) -> None:
    with unseen.launch_domain(name="May Clinic", port=0, data_dir=tmp_path / "d") as node:
        assert node.url.startswith("http://127.0.0.1:") and node.port > 0
        assert node.owner_email == "owner@may-clinic.local"
        assert node.owner_password and len(node.owner_password) >= 12
        owner = unseen.login(
            url=node.url, email=node.owner_email, password=node.owner_password, verbose=False
        )
        assert owner.role == "owner"
        info = httpx.get(f"{node.url}/api/v1/info").json()
        assert info["id"] == owner.node_id
        owner.close()
    assert not node.running
    identity = tmp_path / "d" / "identity.json"
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700

    again = unseen.launch_domain(name="May Clinic", data_dir=tmp_path / "d")
    try:
        assert again.owner_password is None and again.domain.owner_created is False
        assert httpx.get(f"{again.url}/api/v1/info").json()["public_key"] == info["public_key"]
    finally:
        again.stop()


def test_owner_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSEEN_OWNER_EMAIL", "boss@clinic.org")
    monkeypatch.setenv("UNSEEN_OWNER_PASSWORD", "env-pass-123")
    with unseen.launch_domain(name="Env", data_dir=tmp_path) as node:
        assert (node.owner_email, node.owner_password) == ("boss@clinic.org", "env-pass-123")
        unseen.login(
            url=node.url, email="boss@clinic.org", password="env-pass-123", verbose=False
        ).close()


def test_one_node_per_data_directory_and_port(tmp_path: Path) -> None:
    with unseen.launch_domain(
        name="A", data_dir=tmp_path / "a", owner_password="a-pass-123"
    ) as node:
        with pytest.raises(unseen.UsageError, match="in use"):
            unseen.launch_domain(name="A", data_dir=tmp_path / "a")
        with pytest.raises(unseen.UsageError, match=f"port {node.port} .* is in use"):
            unseen.launch_domain(name="B", port=node.port, data_dir=tmp_path / "b")


def test_default_data_dir_is_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert slug("May Clinic") == "may-clinic" and slug("  ") == "node"
    with unseen.launch_domain(name="May Clinic", owner_password="home-pass-1") as node:
        assert node.data_dir == tmp_path / ".unseen" / "may-clinic"
        assert (node.data_dir / "node.db").exists() and (node.data_dir / "blobs").is_dir()


def test_every_endpoint_declares_its_callers(tmp_path: Path) -> None:
    with unseen.launch_domain(name="Docs", data_dir=tmp_path, owner_password="docs-pass-1") as node:
        schema = httpx.get(f"{node.url}/openapi.json").json()
        assert httpx.get(f"{node.url}/docs").status_code == 200
    documented = set(schema["paths"])
    assert documented <= set(ACCESS)
    assert {p for p, who in ACCESS.items() if who == "anonymous"} == {
        "/",
        "/api/v1/health",
        "/api/v1/info",
        "/api/v1/login",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
    }
    assert schema["paths"]["/api/v1/message"]["post"]["security"] == [{"HTTPBearer": []}]


def test_cli_help() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LAUNCH, "launch", "domain", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--owner-password" in out.stdout and "--database" in out.stdout


def test_a_launched_domain_can_join_networks_without_importing_the_network_package(
    tmp_path: Path,
) -> None:
    # The domain server installs its own membership agents (create_app): no import of the
    # higher unseen.network package, for its side effect or otherwise (tests/test_layers.py).
    script = (
        "import sys\n"
        "import unseen\n"
        "from unseen.node import _network\n"
        f"with unseen.launch_domain(name='Solo', port=0, data_dir={str(tmp_path / 'd')!r}):\n"
        "    assert _network._AGENTS, 'no membership agents installed'\n"
        "    assert 'unseen.network' not in sys.modules, 'the domain imported unseen.network'\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_root_url_says_what_this_is(tmp_path: Path) -> None:
    # issue 19: a browser at the node's URL got {"detail":"Not Found"}
    with unseen.launch_domain(
        name="May <Clinic>", data_dir=tmp_path, owner_password="pw-pw-pw-1"
    ) as node:
        page = httpx.get(node.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "May &lt;Clinic&gt;" in page.text and "<Clinic>" not in page.text  # escaped
    assert 'href="/docs"' in page.text and "unseen.login(" in page.text
