"""MPC with domain servers as parties: API.md section 6 over the network (an encrypted mesh).

Four domains run in this process (``launch_domain``, port 0): three hospitals with a private
dataset each and a crypto provider. A data scientist logs in to each over HTTP/WebSocket;
the parties' runtimes link node to node over TCP, the scientist's process orchestrates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import unseen
from unseen.client._mpc import close_sessions
from unseen.mpc import SGD
from unseen.server import launch_domain

PASSWORD = "owner-pw-123"
ANA = ("ana@lab.org", "ana-pw-1234")
NAMES = ("St Mary", "General", "Mercy")


def _launch(root: Path, name: str) -> Any:
    slug = name.lower().replace(" ", "-")
    return launch_domain(
        name=name, port=0, data_dir=root / slug, owner_email=f"owner@{slug}.org",
        owner_password=PASSWORD,
    )  # fmt: skip


def _login(server: Any, email: str | None = None, password: str = PASSWORD) -> unseen.Client:
    return unseen.login(
        url=server.url, email=email or server.owner_email, password=password, verbose=False
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three hospitals (a private 'stays' dataset each) and a crypto provider; Ana's logins."""
    root = tmp_path_factory.mktemp("mpc-remote")
    rng = np.random.default_rng(5)
    servers = [_launch(root, n) for n in (*NAMES, "Crypto")]
    owners = [_login(s) for s in servers]
    truth = []
    for owner in owners:
        owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist", name="Ana")
    for owner in owners[:3]:
        data = rng.integers(1, 30, size=(12, 2)).astype(float)
        truth.append(float(data[:, 0].sum()))
        ds = unseen.Dataset(name="stays", description="patients and days per month")
        ds.add_asset(name="stays", data=data, mock=np.zeros((12, 2)))
        owner.upload_dataset(ds)
    for owner in owners[:3]:  # each hospital trusts the others and the crypto provider
        owner.mpc.trust(dealer=owners[3])
        for other in owners[:3]:
            if other is not owner:
                owner.mpc.trust(party=other)
    ana = [_login(s, *ANA) for s in servers]
    yield {"servers": servers, "owners": owners, "ana": ana, "truth": truth}
    close_sessions()
    for c in [*owners, *ana]:
        c.close()
    for s in servers:
        s.stop()


@pytest.fixture
def hook() -> Iterator[unseen.TorchHook]:
    h = unseen.TorchHook(torch)
    yield h
    h.unhook()


def test_section_6_arithmetic_matches_plaintext(hook: unseen.TorchHook, world: dict) -> None:
    bob, alice, theo, crypto = world["ana"]
    plain = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    x = plain.share(bob, alice, theo, crypto_provider=crypto)
    text = repr(x)
    for name in NAMES:
        assert f"-> [PointerTensor | me:{x.sid} -> {name}:{x.sid}]" in text
    assert "*crypto provider: Crypto*" in text
    torch.testing.assert_close((x + x).get(), torch.tensor([2.0, 4.0, 6.0, 8.0, 10.0]))
    torch.testing.assert_close((x * x).get(), plain * plain, atol=1e-3, rtol=0)
    torch.testing.assert_close((x @ x).get(), plain @ plain, atol=1e-3, rtol=0)
    torch.testing.assert_close((x > 3).get(), (plain > 3).float())
    torch.testing.assert_close(x.relu().get(), plain.relu())
    assert x.cluster.link == "tcp"


def test_model_inference_and_a_training_step(hook: unseen.TorchHook, world: dict) -> None:
    bob, alice, theo, crypto = world["ana"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    data, target = torch.randn(16, 4), torch.randn(16, 1)
    encrypted_model = model.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_data = data.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_target = target.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_pred = encrypted_model(encrypted_data)
    with torch.no_grad():
        torch.testing.assert_close(encrypted_pred.get(), model(data), atol=2e-3, rtol=0)
    encrypted_loss = ((encrypted_pred - encrypted_target) ** 2).sum()
    before = encrypted_loss.get().item()
    encrypted_loss.backward()
    SGD(encrypted_model.parameters(), lr=0.01).step()
    after = ((encrypted_model(encrypted_data) - encrypted_target) ** 2).sum().get().item()
    assert after < before


def test_nothing_but_acks_and_releases_reach_the_scientist(world: dict) -> None:
    """Seeds, corrections and openings go node to node: the orchestrator receives acks."""
    bob, alice, theo, crypto = world["ana"]
    x = unseen.share(torch.arange(6.0), bob, alice, theo, crypto_provider=crypto)
    comm = x.cluster.comm
    seen: list[tuple[int, str, int]] = []
    deliver = comm._deliver

    def record(src: int, msg: Any) -> None:
        seen.append((src, msg.tag, len(msg.tensors)))
        deliver(src, msg)

    comm._deliver = record  # type: ignore[method-assign]
    try:
        y = (x * x).relu() @ x
        y.cluster.sync()
    finally:
        comm._deliver = deliver  # type: ignore[method-assign]
    assert seen and {tag for _, tag, _ in seen} == {"ack"}
    assert all(n == 0 for _, _, n in seen)  # no tensor at all until a reveal


def test_private_sum_across_hospitals_needs_every_release(world: dict) -> None:
    ana, owners = world["ana"], world["owners"]
    clients, crypto = ana[:3], ana[3]
    shared = [
        c.search("stays", verbose=False)[0][:, 0].share(*clients, crypto_provider=crypto)
        for c in clients
    ]
    total = (shared[0] + shared[1] + shared[2]).sum()
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"St Mary.*General.*Mercy.*request"):
        total.get()
    request = total.request(name="total days", reason="capacity planning")
    assert len(request) == 3 and request.status == "pending"
    views = [o.requests for o in owners[:3]]  # each owner, through their own login
    assert all(len(v) == 1 and v[0].name == "total days" for v in views)
    views[0][0].accept()
    views[1][0].accept()
    with pytest.raises(unseen.CannotRequestPrivateData, match="Mercy") as info:
        total.get()  # refused: Mercy has not released
    assert "St Mary" not in str(info.value)
    views[2][0].accept()
    assert request.status == "accepted"
    assert total.get().item() == pytest.approx(sum(world["truth"]))
    with pytest.raises(unseen.CannotRequestPrivateData):  # a new result needs a new release
        (total * 2).get()


def test_mixed_in_process_and_remote_parties_are_refused(world: dict) -> None:
    bob, alice, _, crypto = world["ana"]
    worker = unseen.VirtualWorker(name="local")
    with pytest.raises(unseen.UsageError, match="in-process and others remote"):
        unseen.share(torch.ones(2), bob, worker, crypto_provider=crypto)


def test_a_dropped_server_gives_a_protocol_error(tmp_path: Path) -> None:
    servers = [_launch(tmp_path, n) for n in ("Left", "Right", "Dealer")]
    clients = [_login(s) for s in servers]
    try:
        x = unseen.share(torch.ones(1000), *clients[:2], crypto_provider=clients[2], timeout=5.0)
        torch.testing.assert_close((x * x).get(), torch.ones(1000))
        servers[1].stop()  # the party's links break with its server
        start = time.monotonic()
        with pytest.raises(unseen.ProtocolError, match="Right"):
            (x * x).relu().get()
        assert time.monotonic() - start < 8.0
        with pytest.raises(unseen.ProtocolError, match="failed earlier"):
            (x + x).get()
    finally:
        close_sessions()
        for c in clients:
            c.close()
        for s in servers:
            s.stop()
