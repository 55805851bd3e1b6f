"""Per-user fair scheduling and quotas: one scientist's flood cannot slow another user down.

The scheduler is tested directly with real threads (turn order, refusals), then end to end on
a real domain server on loopback: a flood of heavy graphs by one scientist, the other's tiny
op timed before and during it, and each quota planted over its limit and seen refused.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from server_support import ServerProcess

import unseen
from unseen.messages import Message, decode_reply, encode_message
from unseen.node import Principal
from unseen.node._quotas import QuotaSettings, Scheduler

ANA = ("ana@uni.edu", "ana-pw-123")  # floods
BOB = ("bob@uni.edu", "bob-pw-123")  # the other user
CARA = ("cara@uni.edu", "cara-pw-123")  # no use before her test


def scientist(name: str) -> Principal:
    return Principal(name, "data_scientist", name)


# -- the scheduler, directly --------------------------------------------------------------------


def hold(scheduler: Scheduler, who: Principal, entered: list[str], release: threading.Event) -> Any:
    def run() -> None:
        with scheduler.turn(who):
            entered.append(who.user_id)
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_turns_alternate_between_users() -> None:
    """One worker; ana holds it with three more graphs queued; bob's graph, queued last,
    runs next: users take turns, not arrival order."""
    scheduler = Scheduler(QuotaSettings(workers=1, max_running=1, max_waiting=8))
    ana, bob = scientist("ana"), scientist("bob")
    entered: list[str] = []
    gates = [threading.Event() for _ in range(5)]
    threads = [hold(scheduler, ana, entered, gates[0])]
    wait_until(lambda: entered == ["ana"])
    for i in (1, 2, 3):
        threads.append(hold(scheduler, ana, entered, gates[i]))
    wait_until(lambda: scheduler.usage("ana")["waiting"] == 3)
    threads.append(hold(scheduler, bob, entered, gates[4]))
    wait_until(lambda: scheduler.usage("bob")["waiting"] == 1)
    gates[0].set()
    wait_until(lambda: len(entered) == 2)
    assert entered == ["ana", "bob"]
    for gate in gates:
        gate.set()
    for thread in threads:
        thread.join(5)
    assert entered == ["ana", "bob", "ana", "ana", "ana"]


def test_a_user_never_holds_more_than_max_running() -> None:
    scheduler = Scheduler(QuotaSettings(workers=4, max_running=2, max_waiting=8))
    ana = scientist("ana")
    entered: list[str] = []
    release = threading.Event()
    threads = [hold(scheduler, ana, entered, release) for _ in range(4)]
    wait_until(lambda: scheduler.usage("ana")["waiting"] == 2)
    assert len(entered) == 2 and scheduler.usage("ana")["running"] == 2
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(entered) == 4


def test_a_full_queue_is_refused_with_retry_after() -> None:
    scheduler = Scheduler(QuotaSettings(workers=2, max_running=1, max_waiting=1))
    ana = scientist("ana")
    entered: list[str] = []
    release = threading.Event()
    threads = [hold(scheduler, ana, entered, release)]
    wait_until(lambda: entered == ["ana"])
    threads.append(hold(scheduler, ana, entered, release))
    wait_until(lambda: scheduler.usage("ana")["waiting"] == 1)
    with pytest.raises(unseen.TooManyRequests, match="at once") as info:
        with scheduler.turn(ana):
            pass
    assert info.value.retry_after > 0
    start = time.monotonic()
    with scheduler.turn(scientist("bob")):  # bob's queue is his own, and a slot is free
        pass
    assert time.monotonic() - start < 1.0
    release.set()
    for thread in threads:
        thread.join(5)


def test_planted_cpu_use_over_the_quota_is_refused_until_it_ages() -> None:
    scheduler = Scheduler(QuotaSettings(cpu_seconds_per_minute=5.0))
    ana = scientist("ana")
    scheduler.charge("ana", 4.0)
    with scheduler.turn(ana):  # under the quota: runs
        pass
    scheduler.charge("ana", 2.0)
    with pytest.raises(unseen.TooManyRequests, match="CPU seconds") as info:
        with scheduler.turn(ana):
            pass
    assert 50.0 < info.value.retry_after <= 60.0
    with scheduler.turn(Principal("own", "owner", "owner")):  # owners have no quota
        pass
    scheduler.charge("own", 100.0)
    with scheduler.turn(Principal("own", "owner", "owner")):
        pass
    assert scheduler.usage("ana")["cpu_seconds"] >= 6.0


def test_settings_are_checked() -> None:
    for bad in (
        {"workers": 0},
        {"max_running": -1},
        {"max_waiting": -1},
        {"cpu_seconds_per_minute": 0.0},
        {"cpu_seconds_per_minute": float("nan")},
        {"max_stored_bytes": -5},
        {"no_such_setting": 1},
    ):
        with pytest.raises(unseen.UsageError):
            QuotaSettings.from_dict(bad)


# -- end to end, on a real server -------------------------------------------------------------


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("quotas") / "data", None)
    proc.start()
    owner = proc.login()
    for email, password in (ANA, BOB, CARA):
        owner.users.create(email=email, password=password, role="data_scientist")
    owner.close()
    yield proc
    proc.kill()


@pytest.fixture(scope="module")
def owner(domain: ServerProcess) -> Iterator[unseen.Client]:
    client = domain.login()
    yield client
    client.close()


def heavy(x: Any) -> Any:
    """About a third of a second of elementwise work on the node (single-threaded numpy)."""
    y = x
    for _ in range(24):
        y = y * 1.0001 + 0.5
    return y.sum()


def latency(client: unseen.Client, ptr: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        (ptr + 1).get()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_another_users_tiny_op_stays_fast_during_a_flood(
    domain: ServerProcess, owner: unseen.Client
) -> None:
    owner.quota_settings(workers=2, max_running=1, max_waiting=4)
    bob = domain.login(*BOB, transport="http")
    tiny = bob.send(np.arange(3.0))
    latency(bob, tiny, 3)  # warm up
    idle = latency(bob, tiny, 15)

    stop = threading.Event()
    done: list[int] = []
    refused: list[float] = []

    def flood() -> None:
        ana = domain.login(*ANA, transport="http")
        x = ana.send(np.random.default_rng(0).random(1_000_000))
        while not stop.is_set():
            try:
                heavy(x).get()
                done.append(1)
            except unseen.TooManyRequests as exc:
                refused.append(exc.retry_after)
                time.sleep(min(exc.retry_after, 0.5))  # as a client that honours it
        ana.close()

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(12)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(done) >= 2, timeout=20)
        loaded = latency(bob, tiny, 15)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
    bob.close()
    owner.quota_settings(workers=None, max_running=None, max_waiting=None)  # the defaults
    print(f"bob's tiny op: {idle * 1e3:.1f} ms idle, {loaded * 1e3:.1f} ms during the flood")
    assert loaded < 10 * idle, f"bob's tiny op: {idle * 1e3:.1f} ms idle, {loaded * 1e3:.1f} ms"
    assert refused and all(r > 0 for r in refused)  # ana's excess graphs were refused


def test_cpu_quota_over_http(domain: ServerProcess, owner: unseen.Client) -> None:
    owner.quota_settings(cpu_seconds_per_minute=0.01)
    cara = domain.login(*CARA)
    x = cara.send(np.random.default_rng(0).random(1_000_000))
    heavy(x).get()  # under the quota when it starts; its time is charged
    with pytest.raises(unseen.TooManyRequests, match="CPU seconds") as info:
        heavy(x).get()
    assert info.value.retry_after > 0
    assert cara.quota_usage()["cpu_seconds"] >= 0.01
    # over plain HTTP: 429 with Retry-After, the reply carrying the same error
    token = cara._conn.http.session.token()  # type: ignore[attr-defined]
    message = Message("graph.run", {"actions": [], "keep": [], "get": []})
    response = httpx.post(
        f"{domain.url}/api/v1/message",
        content=bytes(encode_message(message)),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    with pytest.raises(unseen.TooManyRequests) as info:
        decode_reply(response.content).unwrap()
    assert info.value.retry_after > 0
    owner.quota_settings(cpu_seconds_per_minute=None)
    heavy(x).get()  # the default quota again
    cara.close()


def test_stored_bytes_quota(domain: ServerProcess, owner: unseen.Client) -> None:
    bob = domain.login(*BOB)
    used = bob.quota_usage()["stored_bytes"]
    owner.quota_settings(max_stored_bytes=used + 1_000_000)
    with pytest.raises(unseen.QuotaExceeded, match="stored bytes"):
        bob.send(np.zeros(200_000))  # 1.6 MB
    with pytest.raises(unseen.QuotaExceeded, match="stored bytes"):
        bob.send(np.zeros(2_200_000))  # 17.6 MB: streamed ahead to /api/v1/upload, refused there
    small = bob.send(np.zeros(50_000))  # 0.4 MB
    assert bob.quota_usage()["stored_bytes"] >= used + 400_000
    with pytest.raises(unseen.QuotaExceeded, match="stored bytes"):
        bob.send(np.zeros(100_000))  # 0.8 MB more: over
    owner.quota_settings(max_stored_bytes=used + 1000)  # plant: bob is over the quota now
    with pytest.raises(unseen.QuotaExceeded, match="stored bytes"):
        (small + 1).get()  # a graph's results would add to it: refused
    with pytest.raises(unseen.PermissionDenied):
        bob.quota_settings(max_stored_bytes=10**12)  # only owners and admins set quotas
    assert owner.quota_settings()["max_stored_bytes"] == used + 1000  # stored
    owner.quota_settings(max_stored_bytes=None)
    assert (small + 1).get().shape == (50_000,)
    bob.close()


@pytest.mark.slow
def test_settings_persist_across_a_restart(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", None)
    proc.start()
    try:
        owner = proc.login()
        defaults = owner.quota_settings()
        assert defaults["max_running"] >= 1 and defaults["cpu_seconds_per_minute"] > 0
        owner.quota_settings(max_waiting=3, cpu_seconds_per_minute=12.5)
        owner.close()
        proc.restart()
        owner = proc.login()
        now = owner.quota_settings()
        assert now["max_waiting"] == 3 and now["cpu_seconds_per_minute"] == 12.5
        with pytest.raises(unseen.UsageError, match="max_waiting"):
            owner.quota_settings(max_waiting=-1)
        owner.close()
    finally:
        proc.kill()


def test_a_virtual_worker_schedules_but_has_no_quotas() -> None:
    """An in-process node belongs to the person running it: no CPU or storage quotas (a
    long local run must not be refused), while a node built for others keeps the defaults."""
    worker = unseen.VirtualWorker(name="Local")
    ana = worker.new_client("Ana")
    x = ana.send(np.arange(4.0))
    worker.node.scheduler.charge(ana.user_id, 10_000.0)  # plant: far past any CPU quota
    assert (x + 1).get().tolist() == [1.0, 2.0, 3.0, 4.0]
    shared = unseen.node.Node("Shared")
    user = shared.add_user("Bob", "data_scientist")
    shared.scheduler.charge(user.user_id, 10_000.0)
    with pytest.raises(unseen.TooManyRequests):
        with shared.scheduler.turn(user):
            pass
