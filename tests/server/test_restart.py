"""Persistence: a stopped or killed domain restarts with everything it had accepted."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from server_support import OWNER_PASSWORD, ServerProcess, fresh_pg_database

import unseen

pytestmark = pytest.mark.slow  # restarts and SIGKILLs of real servers: `pytest -m slow`

ANA = ("ana@uni.edu", "ana-pw-123")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server on a fresh data directory and database (per test)."""
    if request.param == "sqlite":
        proc = ServerProcess(tmp_path / "data", None)
        proc.start()
        yield proc
        proc.kill()
    else:
        with fresh_pg_database() as url:
            proc = ServerProcess(tmp_path / "data", url)
            proc.start()
            yield proc
            proc.kill()


def setup_world(server: ServerProcess) -> tuple[unseen.Client, np.ndarray]:
    owner = server.login()
    owner.users.create(
        email=ANA[0], password=ANA[1], name="Ana", role="data_scientist", budget=10.0
    )
    X = np.random.default_rng(0).random((200, 4))
    ds = unseen.Dataset(name="Diabetes", description="patients", tags=["#diabetes"])
    ds.add_asset(name="data", data=X, mock=np.zeros((10, 4)), bounds=(0.0, 1.0))
    owner.upload_dataset(ds)
    return owner, X


def test_restart_keeps_users_datasets_objects_requests_handlers(fresh: ServerProcess) -> None:
    owner, X = setup_world(fresh)
    assert f"password:  {OWNER_PASSWORD}" in fresh.output
    ana = fresh.login(*ANA)
    own = ana.send(np.arange(5.0), tags=["#mine"])
    asset = ana.search("#diabetes", verbose=False)[0]
    accepted = asset.mean(axis=0).request(name="mean", reason="r")
    pending = asset.sum(axis=0).request(name="sum", reason="r")
    owner.requests.add_handler(action="accept", name="auto")
    [r for r in owner.requests if r.id == accepted.id][0].accept()
    node_id = owner.node_id

    assert fresh.stop() == 0 and "Stopped." in fresh.output
    out = fresh.start()
    assert "exists already" in out and "password:" not in out

    assert ana.call("user.me")["budget"] == 10.0  # the old session: same token secret, new socket
    again = fresh.login(*ANA)
    assert again.node_id == node_id
    assert [d.name for d in again.datasets] == ["Diabetes"]
    assert {u["email"] for u in owner.call("user.list")} == {"owner@clinic.org", ANA[0]}
    statuses = {r.id: r.status for r in again.requests}
    assert statuses == {accepted.id: "accepted", pending.id: "pending"}
    np.testing.assert_allclose(
        [r for r in again.requests if r.id == accepted.id][0].get(), X.mean(axis=0)
    )
    assert [h.name for h in owner.requests.handlers] == ["auto"]
    np.testing.assert_array_equal(again.store["#mine"].get(), np.arange(5.0))
    np.testing.assert_array_equal(own.get(), np.arange(5.0))
    for client in (owner, ana, again):
        client.close()


def ledger_is_persistent(tmp: Path) -> bool:
    from unseen.store import open_stores

    with open_stores(None, tmp) as stores:
        return "Memory" not in type(stores.ledger).__name__


def test_restart_keeps_the_privacy_spend(fresh: ServerProcess, tmp_path: Path) -> None:
    if not ledger_is_persistent(tmp_path / "probe"):
        pytest.xfail("the SQL stores keep the DP ledger in memory so far (store issue)")
    setup_world(fresh)[0].close()
    ana = fresh.login(*ANA)
    ana.search("#diabetes", verbose=False)[0].mean(axis=0).get(epsilon=1.0)
    remaining = ana.budget
    assert remaining < 10.0
    fresh.restart()
    assert fresh.login(*ANA).budget == pytest.approx(remaining)


def test_offline_request_workflow(fresh: ServerProcess) -> None:
    owner, X = setup_world(fresh)
    ana = fresh.login(*ANA)
    data = ana.search("#diabetes", verbose=False)[0]
    data.mean(axis=0).request(name="mean", reason="for my paper")
    ana.close()  # the scientist goes home

    owner.requests[0].accept()
    assert fresh.stop(signal.SIGTERM) == 0  # the night passes
    fresh.start()

    ana = fresh.login(*ANA)
    [request] = ana.requests
    assert request.status == "accepted"
    np.testing.assert_allclose(ana.requests[0].get(), X.mean(axis=0))
    ana.close()
    owner.close()


def test_sigkill_during_a_large_upload(fresh: ServerProcess) -> None:
    owner, _ = setup_world(fresh)
    before = owner.call("store.list")
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            owner.send(np.ones(100_000_000, dtype=np.float32))  # 400 MB
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(0.4)
    fresh.kill()
    thread.join(30)
    assert errors and isinstance(errors[0], unseen.TransportError), errors
    out = fresh.start()
    owner = fresh.login()
    assert owner.call("store.list") == before  # nothing half-visible
    blobs = fresh.data_dir / "blobs"
    assert not [p for p in blobs.rglob("*") if p.is_file() and "tmp" in p.name], out
    np.testing.assert_array_equal(owner.send(np.arange(3)).get(), np.arange(3))
    owner.close()


def test_sigkill_during_request_decisions(fresh: ServerProcess) -> None:
    owner, X = setup_world(fresh)
    ana = fresh.login(*ANA)
    data = ana.search("#diabetes", verbose=False)[0]
    requests = [(data + float(i)).sum(axis=0).request(name=f"r{i}", reason="r") for i in range(40)]
    done: list[str] = []

    def accept_all() -> None:
        try:
            for r in owner.requests:
                r.accept()
                done.append(r.id)
        except unseen.TransportError:
            pass

    thread = threading.Thread(target=accept_all)
    thread.start()
    while len(done) < 5:
        time.sleep(0.005)
    fresh.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
    fresh.proc.wait(10)  # type: ignore[union-attr]
    fresh.proc = None
    thread.join(30)
    assert 5 <= len(done) < len(requests)

    fresh.start()
    ana = fresh.login(*ANA)
    statuses = {r.id: r for r in ana.requests}
    for request_id in done:  # nothing accepted is lost
        assert statuses[request_id].status == "accepted"
    for i, request in enumerate(requests):
        r = statuses[request.id]
        assert r.status in ("accepted", "pending")
        if r.status == "accepted":
            np.testing.assert_allclose(r.get(), (X + float(i)).sum(axis=0))
    ana.close()


def test_wrong_password_and_slowdown(fresh: ServerProcess) -> None:
    with pytest.raises(unseen.AuthError, match="wrong email or password"):
        fresh.login(password="not-the-password")
    for _ in range(4):
        with pytest.raises(unseen.AuthError):
            fresh.login(password="not-the-password")
    with pytest.raises(unseen.TooManyAttempts, match="too many failed logins") as refused:
        fresh.login()  # even the right password waits now
    assert isinstance(refused.value, unseen.AuthError) and 0 < refused.value.retry_after <= 1
    raw = httpx.post(f"{fresh.url}/api/v1/login", json={"email": "x@y.org", "password": "wrong-pw"})
    assert raw.status_code == 429 and raw.headers["retry-after"] == "1"
    assert "too many failed logins" in raw.json()["detail"]
    time.sleep(1.2)
    fresh.login().close()
