"""Helpers of the attack suite (imported by conftest and tests). The world: one REAL domain server (HTTP + WebSocket on loopback) for the
session, an owner who uploaded recognisable private values, and scientist accounts.

Every attack is made by a data scientist with a valid account (``eve``), through the public
client, raw messages (``client.call(kind, body)``) or raw HTTP/WebSocket bytes. Each attack
asserts that it was refused, that no recognisable private value appears anywhere in what came
back (exception text, repr, reply), and that the node's state did not change.

``attacks`` counts every individual attack made (a test may make hundreds, e.g. one per
vocabulary method) and records it as the test's ``attacks`` property; ``bench/bench_security.py``
sums them from the junit XML.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import unseen

OWNER = ("owner@sec-clinic.org", "owner-pw-s3cret")
EVE = ("eve@attack.org", "eve-pw-12345")  # the attacker: a data scientist
BOB = ("bob@other.org", "bob-pw-12345")  # another scientist, whose data eve must not see
EVE_BUDGET = 3.0
BOB_BUDGET = 4.0

# Recognisable private values: none of these strings may ever reach eve.
SECRET_NUMBERS = 7_314_159.0 + np.arange(24.0)
SECRET_TEXT = "QX7SECRET"
BOB_TEXT = "BOBSECRET"
BOB_NUMBER = 5_550_123.0
MARKERS = ("7314159", "7314160", "7.314159", "7.31416", "731416", SECRET_TEXT, BOB_TEXT, "5550123",
           "5.550123")  # fmt: skip


def private_array() -> np.ndarray:
    return SECRET_NUMBERS.reshape(6, 4).copy()


def private_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [f"{SECRET_TEXT}-{i}" for i in range(6)],
            "value": SECRET_NUMBERS[:6].copy(),
            "group": [1, 2, 1, 2, 1, 2],
        }
    )


def leaks(thing: Any) -> list[str]:
    """The markers found in ``thing``'s text (str, repr, and for exceptions their args)."""
    texts = [str(thing), repr(thing)]
    if isinstance(thing, BaseException):
        texts += [repr(a) for a in thing.args]
        texts += [str(getattr(thing, k, "")) for k in ("message", "operation", "detail")]
    if isinstance(thing, (bytes, bytearray, memoryview)):
        texts.append(bytes(thing).decode("latin-1"))
    blob = "\n".join(texts)
    return [m for m in MARKERS if m in blob]


def assert_clean(*things: Any) -> None:
    for thing in things:
        found = leaks(thing)
        assert not found, f"private values {found} leaked in {thing!r}"[:2000]


@dataclass
class Attacks:
    """Counts attacks; every refusal of one is checked for leaks."""

    count: int = 0
    refused: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def tried(self, n: int = 1) -> None:
        self.count += n

    def refuse(self, fn: Any, *args: Any, expect: Any = unseen.UnseenError, **kwargs: Any) -> Any:
        """Call ``fn``; it must raise ``expect`` with no private value in it. Returns the error."""
        self.count += 1
        try:
            result = fn(*args, **kwargs)
        except expect as exc:
            assert_clean(exc)
            self.refused += 1
            name = type(exc).__name__
            self.kinds[name] = self.kinds.get(name, 0) + 1
            return exc
        assert_clean(result)
        raise AssertionError(f"not refused: {fn!r}{args} returned {result!r}"[:1000])


@pytest.fixture
def attacks(record_property: Any) -> Iterator[Attacks]:
    a = Attacks()
    yield a
    record_property("attacks", a.count)
    record_property("refused", a.refused)


@dataclass
class World:
    url: str
    data_dir: Path
    running: Any
    owner: unseen.Client
    eve: unseen.Client
    eve_http: unseen.Client
    bob: unseen.Client
    asset_ids: dict[str, str]  # family -> asset object id
    bob_object: str
    bob_request: str
    eve_token: str

    def snapshot(self) -> tuple[Any, ...]:
        """Everything an attack must not change (as the owner sees it)."""
        users = sorted(
            (u["email"], u["role"], u["budget"], u["name"]) for u in self.owner.call("user.list")
        )
        requests = sorted(
            (r["id"], r["status"], r["requester"]) for r in self.owner.call("request.list")
        )
        datasets = json.dumps(self.owner.call("dataset.list"), sort_keys=True, default=str)
        objects = sorted((o["id"], tuple(o["tags"])) for o in self.owner.call("store.list"))
        spend = self.owner.call("dp.spend")
        ledger = sorted((u["user_id"], u["spent"], u["releases"]) for u in spend["users"])
        handlers = [h["id"] for h in self.owner.call("handler.list")]
        return users, requests, datasets, objects, ledger, handlers

    def login(self, email: str, password: str, **kwargs: Any) -> unseen.Client:
        return unseen.login(url=self.url, email=email, password=password, verbose=False, **kwargs)


def login_token(url: str, email: str, password: str) -> str:
    import httpx

    reply = httpx.post(f"{url}/api/v1/login", json={"email": email, "password": password})
    reply.raise_for_status()
    return str(reply.json()["token"])


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import torch

    data_dir = tmp_path_factory.mktemp("security") / "domain"
    os.environ.pop("UNSEEN_OWNER_EMAIL", None)
    running = unseen.launch_domain(
        name="Sec Clinic", port=0, data_dir=data_dir, owner_email=OWNER[0], owner_password=OWNER[1]
    )
    owner = unseen.login(url=running.url, email=OWNER[0], password=OWNER[1], verbose=False)
    ds = unseen.Dataset(name="Secrets", description="recognisable private values", tags=["#sec"])
    ds.add_asset(name="array", data=private_array(), mock=np.zeros((6, 4)), bounds=(0.0, 1e7),
                 public_rows=6)  # fmt: skip
    ds.add_asset(name="tensor", data=torch.tensor(private_array()), mock=torch.zeros(6, 4))
    ds.add_asset(
        name="frame",
        data=private_frame(),
        mock=pd.DataFrame({"name": ["m"] * 6, "value": np.zeros(6), "group": [1, 2] * 3}),
    )
    owner.upload_dataset(ds)
    owner.users.create(email=EVE[0], password=EVE[1], name="Eve", role="data_scientist",
                       budget=EVE_BUDGET)  # fmt: skip
    owner.users.create(email=BOB[0], password=BOB[1], name="Bob", role="data_scientist",
                       budget=BOB_BUDGET)  # fmt: skip
    bob = unseen.login(url=running.url, email=BOB[0], password=BOB[1], verbose=False)
    bob_ptr = bob.send(np.array([BOB_NUMBER, 1.0]), tags=["#bob"], description=BOB_TEXT)
    bob_request = (bob_ptr + 1).request(name="bob-req", reason=BOB_TEXT)
    eve = unseen.login(url=running.url, email=EVE[0], password=EVE[1], verbose=False)
    eve_http = unseen.login(url=running.url, email=EVE[0], password=EVE[1], verbose=False,
                            transport="http")  # fmt: skip
    found = {p.family: p.id for p in eve.search("#sec", verbose=False)}
    assert set(found) == {"ndarray", "tensor", "dataframe"}, found
    w = World(
        url=running.url,
        data_dir=Path(data_dir),
        running=running,
        owner=owner,
        eve=eve,
        eve_http=eve_http,
        bob=bob,
        asset_ids=found,
        bob_object=bob_ptr.id,
        bob_request=bob_request.id,
        eve_token=login_token(running.url, *EVE),
    )
    w._keep = bob_ptr  # type: ignore[attr-defined]
    yield w
    for client in (eve, eve_http, bob, owner):
        try:
            client.close()
        except Exception:
            pass
    running.stop()


def asset(world: World, client: unseen.Client, family: str) -> Any:
    """A pointer to the asset of ``family`` in ``client``'s session."""
    for p in client.search("#sec", verbose=False):
        if p.family == family:
            return p
    raise LookupError(family)
