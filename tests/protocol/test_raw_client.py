"""A client that is not ours (raw_client.py: httpx, websockets, msgpack, numpy; nothing of
unseen) against a real domain server: it logs in, sends values, runs a graph, reads the
released results and a refusal by its documented error kind. Numbers are checked against
numpy, and every message and reply it exchanged against docs/protocol.schema.json.

Only the fixtures here use unseen: to start the node, create the scientist and upload the
owner's private dataset.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import raw_client as raw  # noqa: E402

import unseen  # noqa: E402

SCHEMA = json.loads((HERE.parents[1] / "docs" / "protocol.schema.json").read_text())
EMAIL, PASSWORD = "rita@uni.edu", "rita-pw-123"
ALLOWED_IMPORTS = {"httpx", "msgpack", "numpy", "websockets"}


@pytest.fixture(scope="module")
def staged(node: Any) -> dict[str, Any]:
    owner = unseen.login(
        url=node.url, email="owner@clinic.org", password="s3cret-pw", verbose=False
    )
    try:
        owner.users.create(EMAIL, PASSWORD, name="Rita")
        ds = unseen.Dataset(name="Trial", description="20 patients, 2 features")
        private = np.random.default_rng(3).normal(size=(20, 2))
        ds.add_asset(name="data", data=private, mock=np.zeros((20, 2)))
        owner.upload_dataset(ds)
    finally:
        owner.close()
    return {"url": node.url, "private": private}


@pytest.fixture
def client(staged: dict[str, Any]) -> Iterator[raw.RawClient]:
    c = raw.RawClient(staged["url"])
    assert c.negotiate() == (1, 0)
    login = c.login(EMAIL, PASSWORD)
    assert login["role"] == "data_scientist" and login["name"] == "Rita"
    greeting = c.open_websocket()
    assert greeting["ok"] is True and greeting["role"] == "data_scientist"
    yield c
    c.close()


def check_exchanges(client: raw.RawClient) -> None:
    """Every message and reply of the session is valid under the published schema, the
    reply under its kind's reply definition too."""
    defs = SCHEMA["$defs"]
    root = jsonschema.Draft202012Validator(SCHEMA)
    for kind, sent, got in client.exchanges:
        message, reply = raw.header_json(sent), raw.header_json(got)
        root.validate(message)
        root.validate(reply)
        if reply["ok"]:
            sub = {"$defs": defs, "$ref": f"#/$defs/{kind}:reply"}
            jsonschema.Draft202012Validator(sub).validate(reply.get("body"))


def test_sends_runs_a_graph_and_reads_released_results(client: raw.RawClient) -> None:
    info = client.call("node.info")
    assert info["role"] == "data_scientist" and info["name_of_user"] == "Rita"

    x = np.arange(6.0).reshape(2, 3)
    sent = client.call("object.send", {"id": "rawx00000001", "value": x, "tags": ["#raw"]})
    assert sent["id"] == "rawx00000001" and sent["meta"]["shape"] == (2, 3)

    plus = raw.Action("rawplus00001", "method", "__add__", (raw.Ref("rawx00000001"), 1.0))
    total = raw.Action("rawtotal0001", "method", "sum", (raw.Ref(plus.id),))
    cols = raw.Action("rawcols00001", "method", "sum", (raw.Ref(plus.id),), {"axis": 0})
    body = {"actions": [plus, total, cols], "keep": [cols.id], "get": [total.id, cols.id]}
    reply = client.call("graph.run", {**body, "drop": []})
    got_total, got_cols = reply["values"]
    assert isinstance(got_total, np.float64) and got_total == (x + 1).sum()
    np.testing.assert_array_equal(got_cols, (x + 1).sum(axis=0))
    assert set(reply["kept"]) == {total.id, cols.id}  # kept: those asked for, and the gets

    # the kept result again, through the release rule (the scientist owns its only input)
    np.testing.assert_array_equal(client.call("object.get", {"id": cols.id}), [5.0, 7.0, 9.0])
    check_exchanges(client)


def test_large_arrays_travel_out_of_band_both_ways(client: raw.RawClient) -> None:
    big = np.random.default_rng(0).normal(size=(100, 100))  # 80,000 bytes: out of band
    assert len(raw.encode({"value": big})) > 80_000
    assert raw.header_json(raw.encode({"value": big}))["value"][4] == 0  # buffer 0
    client.call("object.send", {"id": "rawbig000001", "value": big})
    twice = raw.Action("rawtwice0001", "method", "__mul__", (raw.Ref("rawbig000001"), 2.0))
    transposed = raw.Action("rawtrans0001", "attr", "T", (raw.Ref(twice.id),))
    reply = client.call_http(
        "graph.run", {"actions": [twice, transposed], "get": [transposed.id, twice.id]}
    )
    np.testing.assert_array_equal(reply["values"][0], (big * 2).T)
    np.testing.assert_array_equal(reply["values"][1], big * 2)
    assert raw.PREFIX.unpack_from(client.exchanges[-1][2])[2] == 2  # two buffers came back
    check_exchanges(client)


def test_reads_a_refusal_by_its_documented_kind(client: raw.RawClient) -> None:
    (dataset,) = [d for d in client.call("dataset.list") if d["name"] == "Trial"]
    asset = next(a["object_id"] for a in dataset["assets"] if a["name"] == "data")
    with pytest.raises(raw.NodeError) as refused:
        client.call_http("object.get", {"id": asset})
    assert refused.value.kind == "CannotRequestPrivateData"
    documented = {e["kind"]: e for e in SCHEMA["x-unseen"]["errors"]}
    assert documented["CannotRequestPrivateData"]["parent"] == "PermissionDenied"

    mean = raw.Action("rawmean00001", "method", "mean", (raw.Ref(asset),), {"axis": 0})
    with pytest.raises(raw.NodeError) as also:  # a graph's get of it: refused before running
        client.call("graph.run", {"actions": [mean], "get": [mean.id]})
    assert also.value.kind == "CannotRequestPrivateData"

    with pytest.raises(raw.NodeError) as unknown:
        client.call("no.such.kind")
    assert unknown.value.kind == "UsageError" and "does not know" in unknown.value.message
    with pytest.raises(raw.NodeError) as denied:  # user.list admits owners and admins only
        client.call("user.list")
    assert denied.value.kind == "PermissionDenied"
    assert "data_scientist" not in next(
        k["roles"] for k in SCHEMA["x-unseen"]["kinds"] if k["kind"] == "user.list"
    )
    check_exchanges(client)


def imports_of(source: str) -> set[str]:
    """The top-level packages a module's source imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def test_the_raw_client_imports_nothing_of_unseen() -> None:
    used = imports_of((HERE / "raw_client.py").read_text()) - set(sys.stdlib_module_names)
    assert used <= ALLOWED_IMPORTS, f"raw_client.py may only use {ALLOWED_IMPORTS}: {used}"
    planted = "import numpy\nfrom unseen.messages import encode_message\n"
    assert imports_of(planted) - set(sys.stdlib_module_names) - ALLOWED_IMPORTS == {"unseen"}
