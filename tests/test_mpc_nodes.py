"""MPC across nodes: API.md section 6 on VirtualWorkers, pointer sharing, and the release rule."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.mpc_trust_support import trusted_crypto

import unseen
from unseen.client._mpc import close_sessions
from unseen.mpc import SGD


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    close_sessions()


@pytest.fixture
def hook() -> Iterator[unseen.TorchHook]:
    h = unseen.TorchHook(torch)
    yield h
    h.unhook()


@pytest.fixture
def workers() -> tuple[unseen.VirtualWorker, ...]:
    return tuple(unseen.VirtualWorker(name=n) for n in ("bob", "alice", "theo", "openmined"))


def test_section_6_values_match_plaintext(
    hook: unseen.TorchHook, workers: tuple[unseen.VirtualWorker, ...]
) -> None:
    bob, alice, theo, crypto = workers
    plain = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    x = plain.share(bob, alice, theo, crypto_provider=crypto)
    text = repr(x)
    assert text.startswith("(Wrapper)>[AdditiveSharingTensor]")
    for name in ("bob", "alice", "theo"):
        assert f"-> [PointerTensor | me:{x.sid} -> {name}:{x.sid}]" in text
    assert "*crypto provider: openmined*" in text
    y = x + x
    torch.testing.assert_close(y.get(), torch.tensor([2.0, 4.0, 6.0, 8.0, 10.0]))
    torch.testing.assert_close((x * x).get(), plain * plain, atol=1e-3, rtol=0)
    torch.testing.assert_close((x @ x).get(), plain @ plain, atol=1e-3, rtol=0)
    torch.testing.assert_close((x > 3).get(), (plain > 3).float())
    torch.testing.assert_close(x.relu().get(), plain.relu())
    z = unseen.share(plain * 2, bob, alice, theo, crypto_provider=crypto)  # same session
    torch.testing.assert_close((x + z).get(), plain * 3)


def test_model_inference_and_a_training_step(
    hook: unseen.TorchHook, workers: tuple[unseen.VirtualWorker, ...]
) -> None:
    bob, alice, theo, crypto = workers
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    data, target = torch.randn(16, 4), torch.randn(16, 1)
    encrypted_model = model.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_data = data.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_target = target.share(bob, alice, theo, crypto_provider=crypto)
    encrypted_pred = encrypted_model(encrypted_data)
    with torch.no_grad():
        expected = model(data)
    torch.testing.assert_close(encrypted_pred.get(), expected, atol=2e-3, rtol=0)
    encrypted_loss = ((encrypted_pred - encrypted_target) ** 2).sum()
    before = encrypted_loss.get().item()
    encrypted_loss.backward()
    SGD(encrypted_model.parameters(), lr=0.01).step()
    after = ((encrypted_model(encrypted_data) - encrypted_target) ** 2).sum().get().item()
    assert after < before


@pytest.fixture
def hospitals() -> list[unseen.VirtualWorker]:
    rng = np.random.default_rng(3)
    out = []
    for name in ("St Mary", "General", "Mercy"):
        h = unseen.VirtualWorker(name=name)
        ds = unseen.Dataset(name="stays", description="patients and days per month")
        ds.add_asset(name="stays", data=rng.integers(1, 30, size=(12, 2)).astype(float),
                     mock=np.zeros((12, 2)))  # fmt: skip
        h.upload_dataset(ds)
        out.append(h)
    return out


def _columns(hospitals: list[unseen.VirtualWorker]) -> tuple[list[unseen.Client], list[float]]:
    clients = [h.new_client("Ana") for h in hospitals]
    truth = [float(h.search("stays", verbose=False)[0].get()[:, 0].sum()) for h in hospitals]
    return clients, truth


def test_private_sum_across_hospitals_needs_every_release(
    hospitals: list[unseen.VirtualWorker],
) -> None:
    clients, truth = _columns(hospitals)
    crypto = trusted_crypto(hospitals)
    shared = [
        c.search("stays", verbose=False)[0][:, 0].share(*clients, crypto_provider=crypto)
        for c in clients
    ]
    total = (shared[0] + shared[1] + shared[2]).sum()
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"St Mary.*General.*Mercy.*request"):
        total.get()
    request = total.request(name="total days", reason="capacity planning")
    assert len(request) == 3 and request.status == "pending"
    views = [h.requests for h in hospitals]
    assert all(len(v) == 1 and v[0].name == "total days" for v in views)
    assert any("secure multi-party" in line for line in views[0][0].graph)
    views[0][0].accept()
    views[1][0].accept()
    with pytest.raises(unseen.CannotRequestPrivateData, match="Mercy") as info:
        total.get()
    assert "St Mary" not in str(info.value)
    views[2][0].accept()
    assert request.status == "accepted"
    assert total.get().item() == pytest.approx(sum(truth))
    with pytest.raises(unseen.CannotRequestPrivateData):  # a new result needs a new release
        (total * 2).get()
    own = unseen.share(torch.ones(3), *clients, crypto_provider=crypto)
    torch.testing.assert_close((own + 1).get(), torch.full((3,), 2.0))  # no sources: free


def test_a_source_nodes_denial_keeps_it_private(hospitals: list[unseen.VirtualWorker]) -> None:
    clients, _ = _columns(hospitals)
    crypto = trusted_crypto(hospitals)
    mine = clients[0].search("stays", verbose=False)[0].share(*clients, crypto_provider=crypto)
    assert mine.shape == (12, 2)
    doubled = mine * 2
    request = doubled.request(name="doubled")
    assert len(request) == 1  # only St Mary's data is involved
    hospitals[0].requests[0].deny("no")
    assert request.status == "denied"
    with pytest.raises(unseen.CannotRequestPrivateData, match="St Mary"):
        doubled.get()


def test_owner_may_reveal_own_data(hospitals: list[unseen.VirtualWorker]) -> None:
    crypto = unseen.VirtualWorker(name="crypto")
    ptr = hospitals[0].search("stays", verbose=False)[0]
    x = ptr.share(*hospitals, crypto_provider=crypto)
    np.testing.assert_allclose(x.get().numpy(), ptr.get())


def test_role_errors(hook: unseen.TorchHook, workers: tuple[unseen.VirtualWorker, ...]) -> None:
    bob, alice, theo, crypto = workers
    t = torch.ones(2)
    with pytest.raises(unseen.UsageError, match="'bob' appears twice"):
        t.share(bob, alice, bob, crypto_provider=crypto)
    with pytest.raises(unseen.UsageError, match="crypto provider 'alice' is also a party"):
        t.share(bob, alice, crypto_provider=alice)
    with pytest.raises(unseen.UsageError, match="crypto_provider"):
        t.share(bob, alice)
    with pytest.raises(unseen.UsageError, match="at least 2 parties"):
        t.share(bob, crypto_provider=crypto)
    other = unseen.VirtualWorker(name="elsewhere")
    ptr = other.send(np.ones(3))
    with pytest.raises(unseen.UsageError, match="'elsewhere', which is not among the parties"):
        ptr.share(bob, alice, crypto_provider=crypto)
    # a failed attempt leaves the session usable
    torch.testing.assert_close(t.share(bob, alice, crypto_provider=crypto).get(), t)


def test_node_routes_check_the_caller(hospitals: list[unseen.VirtualWorker]) -> None:
    ana = hospitals[0].new_client("Ana")
    with pytest.raises(unseen.NotFound):
        ana.call("mpc.input", {"session": "x" * 32, "object_id": "abc", "name": "n", "shape": []})
    keys = [hospitals[0].node_key, "ab" * 32, "cd" * 32]
    with pytest.raises(unseen.UsageError, match="no in-process MPC session"):
        ana.call(
            "mpc.join", {"session": "y" * 32, "role": "party", "rank": 0, "n": 2, "keys": keys}
        )
    with pytest.raises(unseen.UsageError, match="another node key for 'St Mary'"):
        ana.call(
            "mpc.join", {"session": "y" * 32, "role": "party", "rank": 1, "n": 2, "keys": keys}
        )
    with pytest.raises(unseen.UsageError, match="'keys'"):
        ana.call("mpc.join", {"session": "y" * 32, "role": "party", "rank": 0, "n": 2})
    guest = hospitals[0].new_client("Guest", role="guest")
    with pytest.raises(unseen.PermissionDenied):
        guest.call("mpc.join", {"session": "y" * 32, "role": "dealer", "n": 2})


def test_a_script_that_shared_on_virtual_workers_exits_at_once(tmp_path: Path) -> None:
    # A regression: the session's __del__ at interpreter exit waited ~66 s for acks from party
    # threads that finalization had already stopped.
    script = tmp_path / "share.py"
    script.write_text(
        "import torch, unseen\n"
        "unseen.TorchHook(torch)\n"
        "bob, alice, crypto = (unseen.VirtualWorker(name=n) for n in ('bob', 'alice', 'crypto'))\n"
        "x = torch.tensor([1., 2.]).share(bob, alice, crypto_provider=crypto)\n"
        "print((x * x).get())\n"
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    work_and_exit = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert "tensor([1., 4.])" in done.stdout
    assert work_and_exit < 20, f"the script took {work_and_exit:.0f} s: it hung at exit"
