"""Typed object kinds (:mod:`unseen.messages.objects`): object.send, object.info,
object.mock, object.tag, object.drop, object.get, graph.run, store.list and search.

Each kind round trips on a VirtualWorker against the node's store and numpy as oracles; the
1.0 wire bodies (the recorded fixtures) read and write back exactly; the hand-written reads
of the hot kinds (graph.run, object.send) agree with the generic ``from_wire``, errors
included; a wrong-typed field is a ``UsageError`` naming it.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import unseen
from unseen import ops
from unseen.errors import UsageError
from unseen.messages import KINDS, TYPED, Kind, decode_message, decode_reply, from_wire, to_wire
from unseen.messages.objects import (
    GRAPH_RUN,
    OBJECT_DROP,
    OBJECT_GET,
    OBJECT_INFO,
    OBJECT_MOCK,
    OBJECT_SEND,
    OBJECT_TAG,
    SEARCH,
    STORE_LIST,
    TYPED_KINDS,
    GraphRunReply,
    GraphRunRequest,
    ObjectDropRequest,
    ObjectIdRequest,
    ObjectSendRequest,
    ObjectTagRequest,
    ObjectView,
    SearchRequest,
    StoreListRequest,
)
from unseen.node import Node, build_routes

FIXTURES = Path(__file__).parent / "protocol" / "fixtures" / "1.0"
VIEW = ObjectView(
    id="o1", tags=["#a"], description="d", dataset=None, mock_id=None, created_at=1.5,
    meta={"family": "ndarray", "shape": (2, 3), "dtype": "float64"},
)  # fmt: skip


def _recorded(stem: str) -> tuple[dict[str, Any], Any]:
    message = decode_message((FIXTURES / f"{stem}.msg").read_bytes())
    return message.body, decode_reply((FIXTURES / f"{stem}.reply").read_bytes()).unwrap()


def test_the_object_kinds_are_typed_and_known() -> None:
    names = {k.name for k in TYPED_KINDS}
    assert names == {
        "object.send", "object.info", "object.mock", "object.tag", "object.drop",
        "object.get", "graph.run", "store.list", "search",
    }  # fmt: skip
    assert all(TYPED[k.name] is k and k.name in KINDS for k in TYPED_KINDS)


@pytest.mark.parametrize("kind", TYPED_KINDS, ids=lambda k: k.name)
def test_the_node_handler_takes_the_request_type_and_returns_the_reply_type(kind: Kind) -> None:
    route = build_routes()[kind.name]
    assert route.message is kind
    hints = typing.get_type_hints(route.typed_handler, localns={"Node": Node})
    assert hints["request"] is kind.request
    assert hints["return"] == kind.reply


# -- the 1.0 wire ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, wire",
    [
        (VIEW, {"id": "o1", "tags": ["#a"], "description": "d", "dataset": None,
                "mock_id": None, "created_at": 1.5, "meta": VIEW.meta}),
        (ObjectIdRequest(id="o1"), {"id": "o1"}),
        (ObjectTagRequest(id="o1", description="x"), {"id": "o1", "description": "x"}),
        (ObjectTagRequest(id="o1", tags=[], searchable=False),
         {"id": "o1", "tags": [], "searchable": False}),
        (ObjectDropRequest(ids=["a", "b"]), {"ids": ["a", "b"]}),
        (StoreListRequest(), {}),
        (SearchRequest(query="#a"), {"query": "#a"}),
        (GraphRunReply(kept={"a": "ndarray", "b": None}, values=[1.0]),
         {"kept": {"a": "ndarray", "b": None}, "values": [1.0]}),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)  # fmt: skip
def test_each_type_round_trips_through_its_1_0_wire_dict(value: object, wire: dict) -> None:
    assert to_wire(value) == wire and list(to_wire(value)) == list(wire)
    assert from_wire(type(value), wire) == value


def test_a_nullable_field_is_written_as_none_and_read_back() -> None:
    wire = to_wire(VIEW)
    assert "dataset" in wire and wire["dataset"] is None  # 1.0 replies carry it
    absent = {k: v for k, v in wire.items() if k != "mock_id"}
    with pytest.raises(UsageError, match="the message needs the field 'mock_id'"):
        from_wire(ObjectView, absent)  # None, but present
    assert from_wire(ObjectView, {**wire, "dataset": "Diabetes"}).dataset == "Diabetes"
    with pytest.raises(UsageError, match="the field 'dataset' must be str, not int"):
        from_wire(ObjectView, {**wire, "dataset": 3})
    # a required field that does not admit None is still required
    with pytest.raises(UsageError, match="the message needs the field 'created_at'"):
        from_wire(ObjectView, {**wire, "created_at": None})


def test_the_recorded_object_send_reads_and_its_reply_is_written_back_exactly() -> None:
    body, reply = _recorded("02-object.send")
    request = OBJECT_SEND.read_request(body)
    assert request.id == "fxvalue00000001" and request.tags == ["#fx"]
    np.testing.assert_array_equal(request.value, np.arange(6.0).reshape(2, 3))
    wire = OBJECT_SEND.request_to_wire(request)
    assert list(wire) == [*body, "searchable"]  # the 1.0 order; the default is now written
    assert {k: v for k, v in wire.items() if k != "value"} == {
        **{k: v for k, v in body.items() if k != "value"},
        "searchable": False,
    }
    view = OBJECT_SEND.read_reply(reply)
    assert isinstance(view, ObjectView) and view.meta["shape"] == (2, 3) and view.dataset is None
    assert OBJECT_SEND.reply_to_wire(view) == reply and list(to_wire(view)) == list(reply)


@pytest.mark.parametrize("stem", ["03-graph.run", "04-graph.run-private"])
def test_the_recorded_graph_runs_read_and_write_back_exactly(stem: str) -> None:
    body, reply = _recorded(stem)
    request = GRAPH_RUN.read_request(body)
    assert all(isinstance(a, ops.Action) for a in request.actions)
    assert GRAPH_RUN.request_to_wire(request) == body
    assert list(GRAPH_RUN.request_to_wire(request)) == list(body)
    typed = GRAPH_RUN.read_reply(reply)
    assert isinstance(typed, GraphRunReply)
    back = GRAPH_RUN.reply_to_wire(typed)
    assert list(back) == list(reply) and back["kept"] == reply["kept"]
    assert len(back["values"]) == len(reply["values"])
    for ours, recorded in zip(back["values"], reply["values"]):
        np.testing.assert_array_equal(ours, recorded)


# -- the hand-written reads of the hot kinds agree with from_wire ---------------------------
ACTION = ops.Action("a" * 12, "method", "sum", (ops.Ref("b" * 12),), {})
GRAPH_BODIES: list[Any] = [
    {"actions": [ACTION], "keep": ["x"], "get": [], "drop": ["y"]},
    {"actions": (ACTION,), "keep": ("x",)},
    {"actions": [], "later_field": 1},
    {"actions": [ACTION], "keep": None},
    {},
    {"actions": None},
    {"actions": "abc"},
    {"actions": [ACTION], "keep": "x"},
    {"actions": [ACTION], "get": ["x", 1]},
    {"actions": [ACTION], "drop": 5},
    ["not", "a", "map"],
]
SEND_BODIES: list[Any] = [
    {"value": np.arange(3.0), "tags": ["#t"], "description": "d", "searchable": True},
    {"id": "fxvalue00000001", "value": 1.5},
    {"upload": "u" * 32, "tags": [], "description": None},
    {"value": (1, 2), "id": None, "later_field": [1]},
    {},
    {"id": 7},
    {"upload": 3},
    {"value": 1, "tags": "#t"},
    {"value": 1, "tags": ["#t", 2]},
    {"value": 1, "description": ["d"]},
    {"value": 1, "searchable": 1},
    "not a map",
]


def _outcome(read: Any, body: Any) -> Any:
    try:
        return read(body)
    except UsageError as exc:
        return f"UsageError: {exc}"


@pytest.mark.parametrize(
    "kind, bodies", [(GRAPH_RUN, GRAPH_BODIES), (OBJECT_SEND, SEND_BODIES)], ids=["graph", "send"]
)
def test_the_hot_kinds_read_requests_as_from_wire_does(kind: Kind, bodies: list[Any]) -> None:
    for body in bodies:
        fast = _outcome(kind.read_request, body)
        generic = _outcome(lambda b: from_wire(kind.request, b), body)
        if isinstance(generic, str):
            assert fast == generic, body
            continue
        assert not isinstance(fast, str), (body, fast)
        assert to_wire(fast).keys() == to_wire(generic).keys(), body
        for name in to_wire(generic):
            ours, theirs = getattr(fast, name), getattr(generic, name)
            assert type(ours) is type(theirs), (body, name)
            if name == "value":  # an array
                np.testing.assert_array_equal(ours, theirs)
            else:
                assert ours == theirs, (body, name)
        assert kind.request_to_wire(fast).keys() == to_wire(generic).keys()


def test_the_graph_run_reply_reads_as_from_wire_does() -> None:
    for body in [{"kept": {"a": None}, "values": [1, (2, 3)]}, {"kept": {}, "values": ()}, {},
                 {"kept": [], "values": []}, {"kept": {}, "values": 3}, None]:  # fmt: skip
        fast = _outcome(GRAPH_RUN.read_reply, body)
        assert fast == _outcome(lambda b: from_wire(GraphRunReply, b), body), body


def test_object_views_read_as_from_wire_does() -> None:
    wire = to_wire(VIEW)
    bodies = [wire, {**wire, "created_at": 2}, {**wire, "tags": ("#a",)}, {**wire, "dataset": "D"},
              {k: v for k, v in wire.items() if k != "mock_id"}, {**wire, "tags": ["#a", 1]},
              {**wire, "meta": None}, {**wire, "created_at": "now"}, {**wire, "id": 1}, [wire]]  # fmt: skip
    for kind in (OBJECT_INFO, OBJECT_TAG, OBJECT_SEND):
        for body in bodies:
            generic = _outcome(lambda b: from_wire(ObjectView, b), body)
            assert _outcome(kind.read_reply, body) == generic, body
            if not isinstance(generic, str):
                assert kind.reply_to_wire(generic) == to_wire(generic)
    for kind in (STORE_LIST, SEARCH):
        assert kind.read_reply([wire, wire]) == [VIEW, VIEW]
        assert kind.reply_to_wire([VIEW]) == [wire]
        with pytest.raises(UsageError, match=f"the reply of '{kind.name}' must be a list"):
            kind.read_reply(wire)
        with pytest.raises(UsageError, match="the field 'created_at' must be float"):
            kind.read_reply([wire, {**wire, "created_at": "now"}])


def test_the_equivalence_check_catches_a_planted_divergence() -> None:
    class Lax(type(GRAPH_RUN)):  # type: ignore[misc]
        def read_request(self, body: Any) -> GraphRunRequest:
            return GraphRunRequest(actions=list(body.get("actions") or []))

    lax = Lax("graph.run", GraphRunRequest, GraphRunReply)
    with pytest.raises(AssertionError):
        test_the_hot_kinds_read_requests_as_from_wire_does(lax, GRAPH_BODIES)


# -- round trips on a node -------------------------------------------------------------------
@pytest.fixture
def worker() -> unseen.VirtualWorker:
    worker = unseen.VirtualWorker(name="May Clinic")
    ds = unseen.Dataset(name="Trial", description="blood pressure", tags=["#trial"])
    ds.add_asset(name="bp", data=np.arange(12.0).reshape(4, 3), mock=np.ones((4, 3)))
    worker.upload_dataset(ds)
    return worker


def test_each_kind_round_trips_on_a_virtual_worker(worker: unseen.VirtualWorker) -> None:
    value = np.arange(6.0).reshape(2, 3)
    request = ObjectSendRequest(value=value, tags=["#mine"], description="mine")
    sent = worker.ask(OBJECT_SEND, request)
    record = worker.node.stores.objects.get(sent.id)  # the oracle: the node's store
    assert isinstance(sent, ObjectView)
    assert (sent.tags, sent.description, sent.dataset, sent.mock_id) == (
        list(record.tags),
        record.description,
        None,
        None,
    )
    assert sent.meta == record.public_meta and tuple(sent.meta["shape"]) == (2, 3)
    assert worker.ask(OBJECT_INFO, ObjectIdRequest(id=sent.id)) == sent
    np.testing.assert_array_equal(worker.ask(OBJECT_GET, ObjectIdRequest(id=sent.id)), value)
    assert worker.ask(OBJECT_MOCK, ObjectIdRequest(id=sent.id)) is None  # sent: no mock

    tagged = worker.ask(OBJECT_TAG, ObjectTagRequest(id=sent.id, tags=["#x"], searchable=True))
    record = worker.node.stores.objects.get(sent.id)
    assert tagged.tags == list(record.tags) == ["#x"] and record.searchable
    assert tagged.description == "mine"  # left None: unchanged

    (asset,) = [v for v in worker.ask(STORE_LIST, StoreListRequest()) if v.dataset == "Trial"]
    assert asset.mock_id is not None
    mock = worker.ask(OBJECT_MOCK, ObjectIdRequest(id=asset.id))
    np.testing.assert_array_equal(mock, np.ones((4, 3)))
    listed = {v.id for v in worker.ask(STORE_LIST, StoreListRequest())}
    assert listed == {asset.id, sent.id}
    found = worker.ask(SEARCH, SearchRequest(query="#x"))
    assert [v.id for v in found] == [sent.id] and all(isinstance(v, ObjectView) for v in found)
    assert [v.id for v in worker.ask(SEARCH, SearchRequest(query="blood"))] == [asset.id]

    doubled = ops.Action("d" * 12, "method", "__mul__", (ops.Ref(sent.id), 2.0), {})
    total = ops.Action("t" * 12, "method", "sum", (ops.Ref(doubled.id),), {"axis": 0})
    ran = worker.ask(
        GRAPH_RUN, GraphRunRequest(actions=[doubled, total], keep=[doubled.id], get=[total.id])
    )
    assert isinstance(ran, GraphRunReply)
    assert ran.kept == {doubled.id: "ndarray", total.id: "ndarray"}
    np.testing.assert_array_equal(ran.values[0], (value * 2.0).sum(axis=0))
    assert worker.ask(OBJECT_DROP, ObjectDropRequest(ids=[doubled.id, "f" * 12])) == 1
    assert not worker.node.stores.objects.exists(doubled.id)


def test_a_tuple_value_comes_back_a_tuple(worker: unseen.VirtualWorker) -> None:
    sent = worker.ask(OBJECT_SEND, ObjectSendRequest(value=(1, 2.5)))
    got = worker.ask(OBJECT_GET, ObjectIdRequest(id=sent.id))
    assert got == (1, 2.5) and type(got) is tuple  # an Any reply is passed as serde carries it


def test_the_client_reads_object_views(worker: unseen.VirtualWorker) -> None:
    pointer = worker.send(np.arange(4.0), tags=["#p"], description="four")
    assert isinstance(pointer._vertex.info, ObjectView)
    assert (pointer.tags, pointer.description, pointer.shape) == (["#p"], "four", (4,))
    assert (
        repr(pointer) == f"<Pointer numpy array float64 (4,) on 'May Clinic' id={pointer.id[:8]}>"
    )
    pointer.tag("#q")
    assert worker.node.stores.objects.get(pointer.id).tags == ("#p", "#q")
    asset = worker.datasets["Trial"]["bp"]
    np.testing.assert_array_equal(asset.mock, np.ones((4, 3)))
    assert (asset + 1).sum().get() == (np.arange(12.0) + 1).sum()


def test_a_wrong_typed_field_is_a_usage_error_naming_it(worker: unseen.VirtualWorker) -> None:
    oid = worker.send(np.arange(3.0)).id
    cases = [
        ("object.send", {"value": 1, "tags": "#t"}, "the field 'tags' must be a list of str"),
        ("object.send", {"value": 1, "description": 3}, "the field 'description' must be str"),
        ("object.send", {"value": 1, "searchable": "yes"}, "the field 'searchable' must be bool"),
        ("object.info", {"id": 5}, "the field 'id' must be str, not int"),
        ("object.mock", {}, "the message needs the field 'id'"),
        ("object.get", {"id": ["x"]}, "the field 'id' must be str, not list"),
        ("object.tag", {"id": oid, "searchable": 1}, "the field 'searchable' must be bool"),
        ("object.drop", {"ids": [oid, 3]}, "the field 'ids' must be a list of str"),
        ("graph.run", {"keep": []}, "the message needs the field 'actions'"),
        ("graph.run", {"actions": [], "get": "x"}, "the field 'get' must be a list of str"),
        ("graph.run", {"actions": ["x"]}, "'actions' must be a list of unseen actions"),
        ("search", {"query": 42}, "the field 'query' must be str, not int"),
    ]
    for kind, body, message in cases:
        with pytest.raises(UsageError, match=message):
            worker.call(kind, body)
    assert worker.node.stores.objects.get(oid).tags == ()  # nothing changed
    assert oid in {v["id"] for v in worker.call("store.list", {"later_field": 1})}  # ignored


def test_graph_run_refuses_an_id_in_use_whatever_its_place_in_the_graph() -> None:
    """graph.run looks up all its new ids at once (one query, not one per action): an id that
    names a stored object is still refused, wherever it sits, and nothing runs."""
    worker = unseen.VirtualWorker(name="ids")
    x = worker.send(np.arange(4.0))
    ids = [f"fresh{i:04d}" for i in range(600)]
    actions = [ops.Action(ids[0], "method", "__add__", (ops.Ref(x.id), 1.0))]
    actions += [
        ops.Action(ids[i], "method", "__add__", (ops.Ref(ids[i - 1]), 1.0)) for i in range(1, 600)
    ]
    taken = [*actions[:599], ops.Action(x.id, "method", "__add__", (ops.Ref(ids[598]), 1.0))]
    with pytest.raises(unseen.UsageError, match=f"{x.id!r} exists already"):
        worker.ask(GRAPH_RUN, GraphRunRequest(actions=taken, keep=[ids[0]]))
    assert not worker.node.stores.objects.existing(ids)  # nothing ran, nothing kept
    reply = worker.ask(GRAPH_RUN, GraphRunRequest(actions=actions, get=[ids[-1]]))
    assert np.array_equal(reply.values[0], np.arange(4.0) + 600)
