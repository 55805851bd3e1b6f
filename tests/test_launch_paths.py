"""Every launch path says and does the same for the same inputs (issue 13): ``unseen launch
domain``, ``unseen launch network`` and their APIs print the same owner and data lines at a URL
that answers; a node and a Duet owner's direct link bind their sockets alike (a port in use is
the same error, an IPv6 host a URL that works)."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import unseen
from unseen.network import describe as describe_network
from unseen.network import open_network
from unseen.server import describe as describe_domain

CLI = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
OWNER = ("boss@clinic.org", "boss-pw-1234")
FIRST_LINE = re.compile(r"unseen (domain|network) '(.+)' is running at (http://127\.0\.0\.1:\d+)")
INFO = {"domain": "/api/v1/info", "network": "/network/v1/info"}


@contextlib.contextmanager
def _cli_lines(kind: str, data_dir: Path) -> Iterator[list[str]]:
    """Run ``unseen launch <kind>`` on a free port; the lines it printed, then Ctrl-C."""
    cmd = [sys.executable, "-c", CLI, "launch", kind, "--name", "Same", "--port", "0"]
    cmd += ["--data-dir", str(data_dir), "--owner-email", OWNER[0], "--owner-password", OWNER[1]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []
        for line in proc.stdout:  # the last line printed is the next step: log in / join
            lines.append(line.rstrip("\n"))
            if line.startswith(("  log in:", "  domains:")):
                break
        assert lines and FIRST_LINE.fullmatch(lines[0]), (lines, proc.stderr.read())
        yield lines
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def _expected(kind: str, data_dir: Path, *, new_owner: bool) -> list[str]:
    """The lines both launchers print about the data and the owner (the oracle, literally)."""
    owner = [f"  owner:     {OWNER[0]}", f"  password:  {OWNER[1]}"]
    if not new_owner:
        owner = [f"  owner:     {OWNER[0]} (exists already; password unchanged)"]
    return [
        f"  data:      {data_dir}  (database: sqlite+pysqlite:///{data_dir / 'node.db'})",
        *owner,
    ]


def _shared(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("  data:", "  owner:", "  password:"))]


@pytest.mark.parametrize("kind", ["domain", "network"])
def test_the_cli_and_the_api_print_the_same_for_the_same_inputs(kind: str, tmp_path: Path) -> None:
    data_dir = tmp_path / kind
    with _cli_lines(kind, data_dir) as printed:
        kind_said, name, url = FIRST_LINE.fullmatch(printed[0]).groups()  # type: ignore[union-attr]
        assert (kind_said, name) == (kind, "Same")
        assert httpx.get(url + INFO[kind]).status_code == 200  # it runs where it says
        assert _shared(printed) == _expected(kind, data_dir, new_owner=True)

    launch: Any = {"domain": unseen.launch_domain, "network": unseen.launch_network}[kind]
    describe: Any = {"domain": describe_domain, "network": describe_network}[kind]
    with launch("Same", data_dir=data_dir, owner_email=OWNER[0]) as running:
        again = describe(running)
    assert again[0] == f"unseen {kind} 'Same' is running at {running.url}"
    assert _shared(again) == _expected(kind, data_dir, new_owner=False)
    key_lines = [line for line in again if line.startswith("  node key:")]
    assert key_lines == [f"  node key:  {running.domain.identity.public_key}"]


@contextlib.contextmanager
def _busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        yield int(busy.getsockname()[1])


def test_a_port_in_use_is_the_same_error_for_a_node_and_a_duet_link(tmp_path: Path) -> None:
    from unseen.duet import Host
    from unseen.duet._links import DirectServer
    from unseen.node import Node

    with _busy_port() as port:
        said = f"port {port} on 127.0.0.1 is in use: pick another with --port"
        with pytest.raises(unseen.UsageError, match=said):
            unseen.launch_domain("Busy", port=port, data_dir=tmp_path / "d")
        with pytest.raises(unseen.UsageError, match=said):
            unseen.launch_network("Busy", port=port, data_dir=tmp_path / "n")
        node = Node("owner's")
        with pytest.raises(unseen.UsageError, match=said):
            DirectServer(Host(node, bytes(32)), "127.0.0.1", port)
    # the refused launches released their data directories: the same ones open again
    unseen.launch_domain("Busy", data_dir=tmp_path / "d").stop()
    unseen.launch_network("Busy", data_dir=tmp_path / "n").stop()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_duet_on_an_ipv6_host_is_reached_directly(tmp_path: Path) -> None:
    with unseen.launch_network("Net6", data_dir=tmp_path / "net") as network:
        with unseen.launch_duet(
            network.url, direct_host="::1", webrtc=False, verbose=False
        ) as duet:
            assert re.fullmatch(r"http://\[::1\]:\d+/duet", duet.direct_url), duet.direct_url
            duet.send(np.arange(4), tags=["x"], searchable=True)
            partner = unseen.join_duet(duet.id, network_url=network.url, verbose=False)
            assert partner.link == "direct"
            assert partner.store["x"].shape == (4,)
            partner.close()


def test_open_network_refuses_a_bad_offline_after_before_touching_disk(tmp_path: Path) -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(unseen.UsageError, match="offline_after must be a positive"):
            open_network("N", data_dir=tmp_path / "n", offline_after=bad)
    assert not (tmp_path / "n").exists()
