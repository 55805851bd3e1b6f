"""Crash recovery: SIGKILL a domain server (a subprocess) at random points during uploads,
request decisions and DP budget charges; restart it; check that the store is consistent.

Used by tests/security/test_crash.py (a few kill points) and bench/bench_security.py (a longer
loop). The invariants checked after every restart:

- every upload the scientist saw acknowledged is there, with its exact value; every object
  the node lists has a readable value (no half-written blob is visible);
- every decision the owner saw acknowledged stands; an accepted request's result is released;
  no request is accepted that the owner did not accept;
- the DP ledger: every answer the scientist received has its ledger entry (no release without
  a charge); at most one entry per in-flight call has no answer (charged, answer lost in the
  crash: the conservative side); entries are unique (nothing charged twice); the balance the
  node reports counts exactly the ledger's entries.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import unseen

LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
OWNER = ("owner@crash.org", "crash-owner-pw")
SCI = ("sci@crash.org", "crash-sci-pw1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-c", LAUNCH, "launch", "domain", "--name", "Crash", "--port",
               str(self.port), "--data-dir", str(self.data_dir), "--owner-email", OWNER[0],
               "--owner-password", OWNER[1]]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNSEEN_OWNER")}
        log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(20)
            self.proc = None

    def login(self, who: tuple[str, str]) -> unseen.Client:
        return unseen.login(url=self.url, email=who[0], password=who[1], verbose=False)


@dataclass
class Seen:
    """What the clients saw acknowledged before the kill."""

    uploads: dict[str, float] = field(default_factory=dict)  # object id -> its fill value
    accepted: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    answers: int = 0
    in_flight_dp: int = 0
    errors: list[str] = field(default_factory=list)


def setup(server: Server) -> None:
    owner = server.login(OWNER)
    owner.users.create(email=SCI[0], password=SCI[1], role="data_scientist", budget=1e6)
    ds = unseen.Dataset(name="Stays", description="crash data", tags=["#crash"])
    ds.add_asset(name="data", data=np.random.default_rng(0).random((500, 3)),
                 mock=np.zeros((5, 3)), bounds=(0.0, 1.0), public_rows=500)  # fmt: skip
    owner.upload_dataset(ds)
    owner.close()


def _loop(stop: threading.Event, seen: Seen, fn: Any) -> None:
    while not stop.is_set():
        try:
            fn()
        except Exception as exc:  # the kill: connection errors are expected
            seen.errors.append(type(exc).__name__)
            if stop.wait(0.05):
                return


def one_round(server: Server, rng: random.Random) -> dict[str, Any]:
    """Load the node with uploads, decisions and DP charges; SIGKILL it at a random moment;
    restart; check the invariants. Returns what was checked."""
    sci, owner = server.login(SCI), server.login(OWNER)
    sci_http = unseen.login(url=server.url, email=SCI[0], password=SCI[1], verbose=False,
                            transport="http")  # fmt: skip
    data = sci.search("#crash", verbose=False)[0]
    seen, stop = Seen(), threading.Event()
    alive: list[Any] = []
    lock = threading.Lock()
    data.mean(axis=0).get(epsilon=0.01)  # warm up (the first DP release imports OpenDP)
    before = {e["seq"] for e in sci.call("dp.history")}

    def upload() -> None:
        fill = rng.random()
        ptr = sci_http.send(np.full(rng.choice([10, 300_000, 1_000_000]), fill), tags=["#up"])
        with lock:
            seen.uploads[ptr.id] = fill

    def decide() -> None:
        mean = data.mean(axis=0).compute()
        alive.append(mean)  # a dropped pointer deletes its object (and the request's value)
        req = sci.call("request.create", {"object_id": mean.id, "name": "m", "reason": "r"})

        action = rng.choice(["accept", "deny"])
        owner.call("request.decide", {"id": req["id"], "action": action})
        with lock:
            (seen.accepted if action == "accept" else seen.denied).add(req["id"])

    def charge() -> None:
        with lock:
            seen.in_flight_dp += 1
        data.mean(axis=0).get(epsilon=0.01)
        with lock:
            seen.answers += 1
            seen.in_flight_dp -= 1

    threads = [
        threading.Thread(target=_loop, args=(stop, seen, fn)) for fn in (upload, decide, charge)
    ]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.3, 2.0))
    server.kill()  # SIGKILL, mid-flight
    stop.set()
    for t in threads:
        t.join(30)
    for c in (sci, sci_http, owner):
        with contextlib.suppress(Exception):
            c.close()
    server.start()
    return check(server, seen, before)


def check(server: Server, seen: Seen, before: set[int]) -> dict[str, Any]:
    sci, owner = server.login(SCI), server.login(OWNER)
    try:
        # uploads: acknowledged ones are there and whole; everything listed is readable
        for oid, fill in seen.uploads.items():
            value = sci.call("object.get", {"id": oid})
            assert np.all(value == fill), oid
        listed = owner.call("store.list")
        for o in listed:
            owner.call("object.get", {"id": o["id"]})
        # decisions
        requests = {r["id"]: r for r in owner.call("request.list")}
        for rid in seen.accepted:
            assert requests[rid]["status"] == "accepted", rid
            sci.call("request.result", {"id": rid})
        for rid in seen.denied:
            assert requests[rid]["status"] == "denied", rid
        for rid, r in requests.items():
            if r["status"] == "accepted":
                assert r["decided_by"], rid
        # the ledger
        history = sci.call("dp.history")
        seqs = [e["seq"] for e in history]
        assert len(seqs) == len(set(seqs)), "a ledger entry twice"
        new = [s for s in seqs if s not in before]
        assert len(new) >= seen.answers, (len(new), seen.answers)  # no release without a charge
        assert len(new) - seen.answers <= seen.in_flight_dp, (len(new), seen.answers)
        budget = sci.call("dp.budget")
        assert budget["releases"] == len(history)
        spend = [u for u in owner.call("dp.spend")["users"] if u["email"] == SCI[0]][0]
        assert spend["releases"] == len(history)
        return {"uploads": len(seen.uploads), "accepted": len(seen.accepted),
                "denied": len(seen.denied), "answers": seen.answers,
                "charged": len(new), "objects": len(listed)}  # fmt: skip
    finally:
        sci.close()
        owner.close()
