"""``unseen launch network`` in the foreground, and a registry that survives a restart."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import unseen

LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", LAUNCH, "launch", "network", "--name", "CLI Net"]
    cmd += ["--port", str(port), "--data-dir", str(data_dir), "--auto-approve"]
    cmd += ["--owner-email", "net@cli.org", "--owner-password", "net-pw-1234"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/network/v1/info", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(log.read_text())


@pytest.mark.slow
def test_launch_network_and_restart(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = tmp_path / "net.log"
    url = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path / "net", port, log)
    domain = unseen.launch_domain(
        name="CLI Clinic", data_dir=tmp_path / "dom", owner_email="o@cli.org",
        owner_password="owner-pw-123",
    )  # fmt: skip
    try:
        owner = unseen.login(url=domain.url, email="o@cli.org", password="owner-pw-123")
        ds = unseen.Dataset(name="Sleep", description="sleep study", tags=["#sleep"])
        ds.add_asset(name="x", data=np.ones(3), mock=np.zeros(3))
        owner.upload_dataset(ds)
        assert owner.join_network(url)["status"] == "approved"  # --auto-approve
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        printed = log.read_text()
        assert f"unseen network 'CLI Net' is running at {url}" in printed
        assert "password:  net-pw-1234" in printed and "approval: automatic" in printed
        proc = _start(tmp_path / "net", port, log)
        net = unseen.connect_network(url)
        assert [d.name for d in net.domains] == ["CLI Clinic"]
        assert net.search("#sleep", verbose=False).total == 1
        assert "exists already" in log.read_text()
        owner.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        domain.stop()


def test_any_signed_registration_needs_a_reachable_network(tmp_path: Path, network: Any) -> None:
    domain = unseen.launch_domain(
        name="Lonely", data_dir=tmp_path / "dom", owner_email="o@lonely.org",
        owner_password="owner-pw-123",
    )  # fmt: skip
    try:
        owner = unseen.login(url=domain.url, email="o@lonely.org", password="owner-pw-123")
        try:
            owner.join_network("http://127.0.0.1:9")
        except unseen.UsageError as exc:
            assert "could not reach a network" in str(exc)
        else:
            raise AssertionError("joining an unreachable network must fail")
        assert owner.call("network.list") == []
        owner.close()
    finally:
        domain.stop()
