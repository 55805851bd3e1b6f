"""A domain's network memberships survive a restart of its process: no second join_network.

The domains here are real ``unseen launch domain`` processes on loopback, stopped with SIGTERM
or SIGKILL and started again on the same data directory; the network runs in this process (so
the test can see its tunnels), approving by its owner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import unseen
from unseen.node._network import MEMBERSHIP_PREFIX

pytestmark = pytest.mark.slow  # soak, crash and restart runs: `pytest -m slow`

LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
NET_OWNER = ("net@resume.org", "net-owner-pw")
ANA = ("ana@uni.edu", "ana-pw-123")
OWNER_PASSWORD = "owner-pw-123"
BEAT = 0.2
OFFLINE_AFTER = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


class DomainProcess:
    """``unseen launch domain`` as a child process, on one port and data directory."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.name = name
        self.email = f"owner@{name.split()[0].lower()}.org"
        self.data_dir = tmp / name.replace(" ", "-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name.replace(' ', '-')}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.logs = ""  # what the stopped runs printed

    def start(self) -> None:
        cmd = [sys.executable, "-c", LAUNCH, "launch", "domain", "--name", self.name]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        cmd += ["--owner-email", self.email, "--owner-password", OWNER_PASSWORD]
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNSEEN_OWNER")}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the domain exited at start:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"the domain did not answer:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
            self.proc = None
            self.logs += self.log.read_text()

    def output(self) -> str:
        return self.logs + (self.log.read_text() if self.proc is not None else "")

    def owner(self) -> unseen.Client:
        return unseen.login(url=self.url, email=self.email, password=OWNER_PASSWORD, verbose=False)

    def kept(self) -> dict[str, Any]:
        """The memberships kept in its store (read while the process is stopped)."""
        from unseen.store import open_stores

        assert self.proc is None
        stores = open_stores(None, self.data_dir)
        try:
            items = stores.settings.items()
        finally:
            stores.close()
        return {k: v for k, v in items.items() if k.startswith(MEMBERSHIP_PREFIX)}


@pytest.fixture
def domain_process(tmp_path: Path) -> Iterator[Callable[[str, str], DomainProcess]]:
    """Start a domain process with one dataset tagged ``tag`` and the scientist Ana."""
    made: list[DomainProcess] = []

    def make(name: str, tag: str) -> DomainProcess:
        domain = DomainProcess(tmp_path, name)
        made.append(domain)
        domain.start()
        owner = domain.owner()
        ds = unseen.Dataset(name=f"{name} data", description="a cohort", tags=[tag])
        ds.add_asset(name="features", data=np.ones((4, 2)), mock=np.zeros((4, 2)))
        owner.upload_dataset(ds)
        owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist")
        owner.close()
        return domain

    yield make
    for domain in made:
        domain.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    net = unseen.launch_network(
        name="Resume Net",
        data_dir=tmp_path_factory.mktemp("network"),
        owner_email=NET_OWNER[0],
        owner_password=NET_OWNER[1],
        offline_after=OFFLINE_AFTER,
    )
    yield net
    net.stop()


@pytest.fixture(scope="module")
def netowner(network: Any) -> Iterator[unseen.Client]:
    client = unseen.login(url=network.url, email=NET_OWNER[0], password=NET_OWNER[1], verbose=False)
    yield client
    client.close()


def _listed(network: Any, name: str) -> Any:
    """The network's public view of a domain (None when it is not listed)."""
    return next((d for d in unseen.connect_network(network.url).domains if d.name == name), None)


def _online(network: Any, name: str) -> bool:
    found = _listed(network, name)
    return bool(found is not None and found.online)


def _join(domain: DomainProcess, network: Any, netowner: unseen.Client, **options: Any) -> None:
    owner = domain.owner()
    assert owner.join_network(network.url, heartbeat_s=BEAT, **options)["status"] == "pending"
    owner.close()
    next(r for r in netowner.registrations if r["name"] == domain.name).approve()
    _until(lambda: _online(network, domain.name), what=f"{domain.name} online")


def _memberships(domain: DomainProcess) -> list[dict[str, Any]]:
    owner = domain.owner()
    try:
        return list(owner.call("network.list"))
    finally:
        owner.close()


def _scientist_through_the_tunnel(network: Any, tag: str, name: str) -> None:
    found = unseen.connect_network(network.url).search(tag, verbose=False)
    result = next(r for r in found if r.domain.name == name)
    assert result.domain.online and result.domain.url is None  # reached through the network
    ana = result.domain.login(email=ANA[0], password=ANA[1], verbose=False)
    try:
        assert ana.node_name == name
        assert (ana.send(np.arange(3.0)) + 1).get().tolist() == [1.0, 2.0, 3.0]
        assert result.pointer(ana).shape == (4, 2)
    finally:
        ana.close()


def test_a_tunnelled_domain_is_back_after_sigterm_and_sigkill_without_joining_again(
    network: Any, netowner: unseen.Client, domain_process: Any
) -> None:
    domain = domain_process("Birch Clinic", "#resume")
    _join(domain, network, netowner, tunnel=True)
    _until(lambda: network.registry.tunnels, what="the tunnel")
    _scientist_through_the_tunnel(network, "#resume", "Birch Clinic")
    key = _listed(network, "Birch Clinic")["public_key"]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        domain.stop(sig)
        _until(lambda: not _online(network, "Birch Clinic"), what="the domain offline")
        assert key not in network.registry.tunnels
        domain.start()  # no join_network: the domain resumes what it kept
        _until(lambda: _online(network, "Birch Clinic"), what="the domain online again")
        _until(lambda: key in network.registry.tunnels, what="the tunnel again")
        _scientist_through_the_tunnel(network, "#resume", "Birch Clinic")
        [membership] = _memberships(domain)
        assert membership["url"] == network.url and membership["network"] == "Resume Net"
        assert membership["status"] == "approved" and membership["tunnel_open"]
        assert membership["running"] and membership["last_error"] is None
    mine = [r for r in netowner.registrations if r["name"] == "Birch Clinic"]
    assert [r["status"] for r in mine] == ["approved"]  # no second registration, no new approval


def test_a_domain_that_left_stays_out_after_a_restart(
    network: Any, netowner: unseen.Client, domain_process: Any
) -> None:
    domain = domain_process("Cedar Lab", "#cedar")
    _join(domain, network, netowner, description="direct")
    domain.stop()
    [(key, kept)] = domain.kept().items()
    assert key == MEMBERSHIP_PREFIX + network.url
    assert kept["network"]["id"] == network.node.id
    assert kept["network"]["public_key"] == network.domain.identity.public_key
    assert kept["options"]["domain_url"] == domain.url and kept["options"]["tunnel"] is False
    assert "password" not in repr(kept) and "token" not in repr(kept)  # nothing secret kept

    domain.start()
    _until(lambda: _online(network, "Cedar Lab"), what="resumed")
    owner = domain.owner()
    assert owner.call("network.leave", {"url": network.url}) is True  # a resumed one leaves
    assert owner.call("network.list") == []
    owner.close()
    domain.stop(signal.SIGKILL)
    assert domain.kept() == {}
    domain.start()
    assert _memberships(domain) == []
    _until(lambda: not _online(network, "Cedar Lab"), what="offline")
    seen = _listed(network, "Cedar Lab")["last_seen"]
    time.sleep(5 * BEAT)  # heartbeats would have come by now
    assert _listed(network, "Cedar Lab")["last_seen"] == seen


def test_a_domain_the_network_removed_drops_its_membership_with_a_warning(
    network: Any, netowner: unseen.Client, domain_process: Any
) -> None:
    domain = domain_process("Elm Institute", "#elm")
    _join(domain, network, netowner, description="direct")
    domain.stop()
    netowner.call("registry.remove", {"id": "Elm Institute"})
    domain.start()
    _until(lambda: _memberships(domain) == [], what="the membership dropped")
    _until(lambda: "dropped this domain's membership" in domain.output(), what="the warning")
    assert "no longer knows this domain" in domain.output()
    assert not any(r["name"] == "Elm Institute" for r in netowner.registrations)  # no new one
    domain.stop()
    assert domain.kept() == {}


def test_a_domain_waits_for_a_network_that_is_down_and_checks_it_is_the_same_one(
    tmp_path: Path, domain_process: Any
) -> None:
    port = _free_port()

    def launch(data: str = "flaky") -> Any:
        return unseen.launch_network(
            name="Flaky Net", port=port, data_dir=tmp_path / data, auto_approve=True,
            owner_email=NET_OWNER[0], owner_password=NET_OWNER[1], offline_after=OFFLINE_AFTER,
        )  # fmt: skip

    network = launch()
    try:
        domain = domain_process("Fir Hospital", "#fir")
        owner = domain.owner()
        assert owner.join_network(network.url, heartbeat_s=BEAT)["status"] == "approved"
        owner.close()
        domain.stop(signal.SIGKILL)
        network.stop()
        started = time.monotonic()
        domain.start()  # the network is down: the domain serves all the same
        assert time.monotonic() - started < 20
        [membership] = _until(lambda: _memberships(domain), what="listed")
        assert membership["status"] == "resuming" and membership["running"]
        _until(lambda: _memberships(domain)[0]["last_error"], what="an error")
        assert "could not resume this domain's membership" in domain.output()
        network = launch()
        _until(lambda: _online(network, "Fir Hospital"), what="resumed once the network is up")
        [membership] = _memberships(domain)
        assert membership["status"] == "approved" and membership["last_error"] is None

        # another network (another id and key) at the same URL: not the one joined
        domain.stop(signal.SIGKILL)
        network.stop()
        network = launch("another")
        domain.start()
        _until(lambda: _memberships(domain) == [], what="the membership dropped")
        _until(lambda: "is not the one this domain joined" in domain.output(), what="a warning")
        assert _listed(network, "Fir Hospital") is None  # nothing was sent to it
    finally:
        network.stop()
