"""Typed ``request.*``, ``handler.*`` and ``dataset.*`` kinds: declared once in
:mod:`unseen.messages.requests` and :mod:`unseen.messages.datasets`, used by the node's routes
and the client; the wire stays the protocol 1.0 dict, ``None`` fields of the views included."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import unseen
from unseen.client import Client
from unseen.errors import RequestDenied, UsageError
from unseen.messages import KINDS, TYPED, Kind, decode_reply, from_wire, to_wire
from unseen.messages import datasets as dm
from unseen.messages import requests as rm
from unseen.node import Node, build_routes

FIXTURES = Path(__file__).parent / "protocol" / "fixtures" / "1.0"
KINDS_OF_GROUP = (*rm.TYPED_KINDS, *dm.TYPED_KINDS)
SECRET = np.arange(12.0).reshape(4, 3)


def test_the_kinds_are_typed_and_known() -> None:
    assert {k.name for k in KINDS_OF_GROUP} == {
        *(f"request.{n}" for n in ("create", "list", "decide", "wait", "result")),
        *(f"handler.{n}" for n in ("add", "list", "remove")),
        *(f"dataset.{n}" for n in ("upload", "list", "delete")),
    }
    assert all(TYPED[k.name] is k and k.name in KINDS for k in KINDS_OF_GROUP)


@pytest.mark.parametrize("kind", KINDS_OF_GROUP, ids=lambda k: k.name)
def test_the_node_handler_takes_the_request_type_and_returns_the_reply_type(kind: Kind) -> None:
    route = build_routes()[kind.name]
    assert route.message is kind
    hints = typing.get_type_hints(route.typed_handler, localns={"Node": Node})
    assert hints["request"] is kind.request
    assert hints["return"] == (type(None) if kind.reply is None else kind.reply)


def test_the_recorded_1_0_request_create_reply_is_read_and_written_exactly() -> None:
    recorded = decode_reply((FIXTURES / "05-request.create.reply").read_bytes()).unwrap()
    view = rm.REQUEST_CREATE.read_reply(recorded)
    assert isinstance(view, rm.RequestView)
    assert (view.status, view.decided_at, view.graph) == ("pending", None, recorded["graph"])
    wire = rm.REQUEST_CREATE.reply_to_wire(view)
    assert wire == recorded and list(wire) == list(recorded)  # decided_at: None stays on


@pytest.mark.parametrize(
    "value, wire",
    [
        (
            rm.RequestCreateRequest(object_id="o1", name="mean", reason="r"),
            {"object_id": "o1", "name": "mean", "reason": "r"},
        ),
        (rm.RequestListRequest(), {}),
        (
            rm.RequestDecideRequest(id="r1", action="deny", reason="no"),
            {"id": "r1", "action": "deny", "reason": "no"},
        ),
        (rm.RequestWaitRequest(id="r1", timeout=2.5), {"id": "r1", "timeout": 2.5}),
        (rm.RequestResultRequest(id="r1"), {"id": "r1"}),
        (
            rm.HandlerAddRequest(action="accept", name="mean", tags=["#open"]),
            {"action": "accept", "name": "mean", "tags": ["#open"]},
        ),
        (rm.HandlerListRequest(), {}),
        (rm.HandlerRemoveRequest(id="h1"), {"id": "h1"}),
        (
            rm.HandlerView(
                id="h1", action="deny", name=None, requester="ana", tags=[], created_at=1.5
            ),
            {
                "id": "h1",
                "action": "deny",
                "name": None,
                "requester": "ana",
                "tags": [],
                "created_at": 1.5,
            },
        ),
        (dm.DatasetListRequest(), {}),
        (dm.DatasetDeleteRequest(name="D"), {"name": "D"}),
        (
            dm.DatasetView(
                id="d1",
                name="D",
                tags=["#t"],
                assets=[
                    dm.AssetView(
                        name="x",
                        object_id="o1",
                        mock_id=None,
                        bounds=[(0.0, 1.0)],
                        nullable=None,
                        privacy_id=None,
                        public_rows=4,
                        categories=None,
                    )
                ],
                created_at=2.0,
            ),
            {
                "id": "d1",
                "name": "D",
                "description": "",
                "tags": ["#t"],
                "citation": "",
                "assets": [
                    {
                        "name": "x",
                        "object_id": "o1",
                        "mock_id": None,
                        "description": "",
                        "bounds": [(0.0, 1.0)],
                        "nullable": None,
                        "privacy_id": None,
                        "max_rows_per_id": 1,
                        "public_rows": 4,
                        "categories": None,
                    }
                ],
                "uploader": "",
                "created_at": 2.0,
            },
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)
def test_each_type_round_trips_through_its_1_0_wire_dict(value: object, wire: dict) -> None:
    assert to_wire(value) == wire
    assert list(to_wire(value)) == list(wire)
    assert from_wire(type(value), wire) == value


def test_a_view_field_that_may_be_none_must_be_on_the_wire() -> None:
    wire = to_wire(
        rm.HandlerView(id="h", action="accept", name=None, requester=None, tags=[], created_at=0)
    )
    del wire["requester"]
    with pytest.raises(UsageError, match="needs the field 'requester'"):
        from_wire(rm.HandlerView, wire)


def test_a_released_value_goes_as_it_is() -> None:
    value = (np.arange(3), [1, 2])
    assert rm.REQUEST_RESULT.reply_to_wire(value) is value  # a tuple stays a tuple
    assert rm.REQUEST_RESULT.read_reply(value) is value


def _world() -> tuple[unseen.VirtualWorker, Client]:
    owner = unseen.VirtualWorker(name="May Clinic")
    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0], "sex": [1, 2, 1]})
    request = dm.DatasetUploadRequest(
        name="D",
        tags=["#d"],
        description="four rows",
        assets=[
            dm.AssetUpload(name="x", data=SECRET, mock=np.zeros((4, 3)), bounds=(0.0, 11.0)),
            dm.AssetUpload(
                name="f", data=frame, categories={"sex": [1, 2]}, public_rows=3, tags=["#f"]
            ),
        ],
    )
    made = owner.ask(dm.DATASET_UPLOAD, request)
    assert isinstance(made, dm.DatasetView)
    (stored,) = owner.node.stores.datasets.list()  # the oracle: the node's store
    assert (made.id, made.name, made.tags, made.description) == (
        stored.id,
        "D",
        ["#d"],
        "four rows",
    )
    x, f = made.assets
    assert (x.object_id, x.mock_id, x.bounds) == (
        stored.assets[0].object_id,
        stored.assets[0].mock_id,
        [(0.0, 11.0)],
    )
    assert (f.mock_id, f.categories, f.public_rows) == (None, {"sex": [1, 2]}, 3)
    np.testing.assert_array_equal(owner.node.stores.objects.value(x.object_id), SECRET)
    assert "#f" in owner.node.stores.objects.get(f.object_id).tags
    return owner, owner.new_client("Ana")


def test_datasets_round_trip_over_a_virtual_worker() -> None:
    owner, ana = _world()
    (listed,) = ana.ask(dm.DATASET_LIST, dm.DatasetListRequest())
    assert listed == owner.ask(dm.DATASET_LIST, dm.DatasetListRequest())[0]
    assert [a.name for a in listed.assets] == ["x", "f"]
    view = ana.datasets["D"]
    assert view.name == "D" and view["name"] == "D" and view.tags == ["#d"]
    assert repr(view) == "<Dataset 'D': x, f>"
    assert "D" in repr(ana.datasets) and list(ana.datasets.pandas["Assets"]) == ["x, f"]
    np.testing.assert_array_equal(view["x"].mean(axis=0).mock_result(), np.zeros(3))
    with pytest.raises(UsageError, match="has no asset 'y'"):
        view["y"]
    assert owner.ask(dm.DATASET_DELETE, dm.DatasetDeleteRequest(name="D")) is None
    assert owner.node.stores.datasets.list() == [] and owner.node.stores.objects.list() == []
    assert len(ana.datasets) == 0


def test_requests_and_handlers_round_trip_over_a_virtual_worker() -> None:
    owner, ana = _world()
    mean = ana.datasets["D"]["x"].mean(axis=0)
    ana._run([mean], get=False)
    made = ana.ask(rm.REQUEST_CREATE, rm.RequestCreateRequest(object_id=mean.id, name="m"))
    record = owner.node.stores.requests.get(made.id)  # the oracle: the node's store
    assert isinstance(made, rm.RequestView)
    assert (made.status, made.requester, made.name, made.decided_at) == (
        "pending", record.requester, "m", None
    )  # fmt: skip
    assert made.graph == list(record.graph) and made.tags == list(record.tags)
    assert ana.ask(rm.REQUEST_LIST, rm.RequestListRequest()) == [made]
    waited = ana.ask(rm.REQUEST_WAIT, rm.RequestWaitRequest(id=made.id, timeout=0))
    assert waited == made
    decided = owner.ask(rm.REQUEST_DECIDE, rm.RequestDecideRequest(id=made.id, action="accept"))
    assert decided.status == "accepted" and decided.decided_by == owner.user_id
    assert isinstance(decided.decided_at, float)
    value = ana.ask(rm.REQUEST_RESULT, rm.RequestResultRequest(id=made.id))
    np.testing.assert_array_equal(value, SECRET.mean(axis=0))

    handler = owner.ask(rm.HANDLER_ADD, rm.HandlerAddRequest(action="deny", tags=["#d"]))
    assert isinstance(handler, rm.HandlerView) and (handler.name, handler.tags) == (None, ["#d"])
    assert owner.ask(rm.HANDLER_LIST, rm.HandlerListRequest()) == [handler]
    total = ana.datasets["D"]["x"].sum()
    denied = total.request(name="sum")
    assert denied.status == "denied" and denied.decided_by == f"handler {handler.id}"
    with pytest.raises(RequestDenied):
        denied.get()
    assert owner.ask(rm.HANDLER_REMOVE, rm.HandlerRemoveRequest(id=handler.id)) is None
    assert owner.requests.handlers == [] and owner.node.stores.handlers.list() == []


def test_the_client_views_read_the_typed_replies() -> None:
    owner, ana = _world()
    request = ana.datasets["D"]["x"].mean(axis=0).request(name="mean", reason="why")
    assert isinstance(request.view, rm.RequestView)
    assert (request.requester, request.requester_id) == ("Ana", ana.user_id)
    assert repr(request) == "<Request 'mean' by Ana: pending>"
    requests = owner.requests
    assert list(requests.pandas.columns) == [
        "Request Name", "Reason", "Requester", "Status", "Request ID"
    ]  # fmt: skip
    assert requests.pandas.iloc[0].tolist() == ["mean", "why", "Ana", "pending", request.id]
    assert requests[0].code == "\n".join(owner.node.stores.requests.get(request.id).graph)
    requests[0].deny("too fine")
    assert repr(request.refresh()) == "<Request 'mean' by Ana: denied (too fine)>"
    handler = owner.requests.add_handler(action="accept", name="mean")
    assert isinstance(handler, rm.HandlerView) and handler.action == "accept"
    again = ana.datasets["D"]["x"].mean(axis=0).request(name="mean")
    np.testing.assert_array_equal(again.wait(1).get(), SECRET.mean(axis=0))


def test_a_bad_field_is_a_usage_error_naming_it() -> None:
    owner, _ = _world()
    with pytest.raises(UsageError, match="'id' must be str, not int"):
        owner.call("request.wait", {"id": 5, "timeout": 0})
    with pytest.raises(UsageError, match="'timeout' must be float, not str"):
        owner.call("request.wait", {"id": "r", "timeout": "soon"})
    with pytest.raises(UsageError, match="the message needs the field 'action'"):
        owner.call("handler.add", {"name": "x"})
    with pytest.raises(UsageError, match="'tags' must be a list of str"):
        owner.call("handler.add", {"action": "accept", "tags": ["#a", 3]})
    asset = {"name": "y", "data": np.ones(2)}
    with pytest.raises(UsageError, match="'max_rows_per_id' must be int, not str"):
        owner.call("dataset.upload", {"name": "E", "assets": [{**asset, "max_rows_per_id": "2"}]})
    with pytest.raises(UsageError, match="the message needs the field 'name'"):
        owner.call("dataset.upload", {"name": "E", "assets": [{"data": np.ones(2)}]})
    with pytest.raises(UsageError, match="the message needs the field 'assets'"):
        owner.call("dataset.upload", {"name": "E"})
    assert [d.name for d in owner.node.stores.datasets.list()] == ["D"]  # nothing was added
    # the handlers' own checks stand: an unknown action, an empty dataset
    with pytest.raises(UsageError, match="'accept' or 'deny', not 'maybe'"):
        owner.ask(rm.HANDLER_ADD, rm.HandlerAddRequest(action="maybe"))
    with pytest.raises(UsageError, match="has no assets"):
        owner.ask(dm.DATASET_UPLOAD, dm.DatasetUploadRequest(name="E", assets=[]))
