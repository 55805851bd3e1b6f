"""The recorded protocol-1.0 scenario, shared by ``record.py`` (which writes the fixtures) and
``test_replay.py`` (which replays them against a current node).

A scientist on a node with one private dataset: node.info, object.send of a small array,
graph.run of a few actions on it, a graph.run that keeps a mean of the private asset,
request.create for it, request.result once the owner accepted, and dp.get of a noisy mean.
Ids the node assigns (the asset's object id, the request id) cannot be known when recording:
the messages carry the placeholders of :data:`PLACEHOLDERS`, replaced after decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

import unseen
from unseen import ops
from unseen.messages import Message

OWNER_EMAIL, OWNER_PASSWORD = "owner@clinic.org", "s3cret-pw"
SCIENTIST_EMAIL, SCIENTIST_PASSWORD = "ana@uni.edu", "ana-pw-123"
ASSET, REQUEST = "@asset", "@request"
PLACEHOLDERS = {ASSET: "the private asset's object id", REQUEST: "the request id of step 5"}
SENT = "fxvalue00000001"  # the id the scientist gives the array it sends
EPSILON = 1.0


def private_data() -> np.ndarray:
    return np.random.default_rng(7).uniform(-0.2, 0.2, size=(40, 3))


def sent_value() -> np.ndarray:
    return np.arange(6.0).reshape(2, 3)


def scenario() -> list[tuple[str, Message]]:
    """The steps, in order: (file stem, protocol-1.0 message with placeholders)."""
    double = ops.Action("fxdouble0001", "method", "__mul__", (ops.Ref(SENT), 2.0), {})
    colsum = ops.Action("fxcolsum0001", "method", "sum", (ops.Ref("fxdouble0001"),), {"axis": 0})
    mean = ops.Action("fxmean000001", "method", "mean", (ops.Ref(ASSET),), {"axis": 0})
    dp_mean = ops.Action("fxdpmean0001", "method", "mean", (ops.Ref(ASSET),), {"axis": 0})
    v = (1, 0)
    return [
        ("01-node.info", Message("node.info", {}, v)),
        (
            "02-object.send",
            Message(
                "object.send",
                {"id": SENT, "value": sent_value(), "tags": ["#fx"], "description": "fixture"},
                v,
            ),
        ),
        (
            "03-graph.run",
            Message(
                "graph.run",
                {
                    "actions": [double, colsum],
                    "keep": ["fxdouble0001", "fxcolsum0001"],
                    "get": ["fxcolsum0001"],
                    "drop": [],
                },
                v,
            ),
        ),
        (
            "04-graph.run-private",
            Message("graph.run", {"actions": [mean], "keep": [mean.id], "get": [], "drop": []}, v),
        ),
        (
            "05-request.create",
            Message(
                "request.create",
                {"object_id": mean.id, "name": "column means", "reason": "fixture"},
                v,
            ),
        ),
        ("06-request.result", Message("request.result", {"id": REQUEST}, v)),
        (
            "07-dp.get",
            Message(
                "dp.get",
                {
                    "actions": [dp_mean],
                    "target": dp_mean.id,
                    "epsilon": EPSILON,
                    "delta": None,
                    "drop": [],
                },
                v,
            ),
        ),
    ]


def substitute(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every placeholder string (in Refs and Actions too) replaced."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, ops.Ref):
        return ops.Ref(ids.get(value.id, value.id))
    if isinstance(value, ops.Action):
        args = tuple(substitute(a, ids) for a in value.args)
        return ops.Action(value.id, value.kind, value.name, args, substitute(value.kwargs, ids))
    if isinstance(value, dict):
        return {k: substitute(v, ids) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, ids) for v in value)
    return value


@dataclass
class Stage:
    """A node set up for the scenario: the owner's and the scientist's connections."""

    url: str
    owner: Any
    scientist: Any
    asset_id: str
    login_reply: dict[str, Any]

    def close(self) -> None:
        self.owner.close()
        self.scientist.close()


def stage(url: str) -> Stage:
    """Upload the private dataset and create the scientist (budget 10) on the node at ``url``."""
    from unseen.transport import connect

    client = unseen.login(url=url, email=OWNER_EMAIL, password=OWNER_PASSWORD, verbose=False)
    try:
        ds = unseen.Dataset(name="Diabetes", description="40 patients, 3 features")
        ds.add_asset(name="data", data=private_data(), mock=np.zeros((10, 3)), bounds=(-0.2, 0.2))
        client.upload_dataset(ds)
        client.users.create(SCIENTIST_EMAIL, SCIENTIST_PASSWORD, name="Ana", budget=10.0)
    finally:
        client.close()
    owner = connect(url, OWNER_EMAIL, OWNER_PASSWORD, transport="http")
    (dataset,) = owner.call("dataset.list")
    asset_id = next(a["object_id"] for a in dataset["assets"] if a["name"] == "data")
    scientist = connect(url, SCIENTIST_EMAIL, SCIENTIST_PASSWORD, transport="http")
    login = httpx.post(
        f"{url}/api/v1/login", json={"email": SCIENTIST_EMAIL, "password": SCIENTIST_PASSWORD}
    )
    login.raise_for_status()
    return Stage(url, owner, scientist, asset_id, login.json())
