"""Typed object kinds over a real domain server (HTTP/WebSocket, serde on the wire): a value
sent, listed, searched, computed on and fetched comes back as typed views and replies equal to
the raw 1.0 bodies, and a bad field is a ``UsageError`` naming it."""

from __future__ import annotations

import numpy as np
import pytest

import unseen
from unseen import ops
from unseen.messages import to_wire
from unseen.messages.objects import (
    GRAPH_RUN,
    OBJECT_DROP,
    OBJECT_GET,
    OBJECT_INFO,
    OBJECT_SEND,
    SEARCH,
    STORE_LIST,
    GraphRunRequest,
    ObjectDropRequest,
    ObjectIdRequest,
    ObjectSendRequest,
    ObjectView,
    SearchRequest,
    StoreListRequest,
)


def test_objects_and_graphs_round_trip_over_the_server(owner: unseen.Client) -> None:
    value = np.arange(6.0).reshape(2, 3)
    request = ObjectSendRequest(value=value, tags=["#typed-srv"], description="typed")
    sent = owner.ask(OBJECT_SEND, request)
    assert isinstance(sent, ObjectView) and sent.dataset is None
    assert tuple(sent.meta["shape"]) == (2, 3) and sent.meta["family"] == "ndarray"
    info = owner.ask(OBJECT_INFO, ObjectIdRequest(id=sent.id))
    assert info == sent
    assert owner.call("object.info", {"id": sent.id}) == to_wire(info)  # the raw 1.0 body
    assert sent.id in {v.id for v in owner.ask(STORE_LIST, StoreListRequest())}
    assert [v.id for v in owner.ask(SEARCH, SearchRequest(query="#typed-srv"))] == [sent.id]

    doubled = ops.Action(ops_id("d"), "method", "__mul__", (ops.Ref(sent.id), 2.0), {})
    total = ops.Action(ops_id("t"), "method", "sum", (ops.Ref(doubled.id),), {"axis": 0})
    run = GraphRunRequest(actions=[doubled, total], keep=[doubled.id], get=[total.id])
    ran = owner.ask(GRAPH_RUN, run)
    assert ran.kept == {doubled.id: "ndarray", total.id: "ndarray"}
    np.testing.assert_array_equal(ran.values[0], (value * 2.0).sum(axis=0))  # numpy oracle
    got = owner.ask(OBJECT_GET, ObjectIdRequest(id=doubled.id))
    np.testing.assert_array_equal(got, value * 2.0)
    # computed results are dropped; a value one sent stays (node.drop_objects)
    assert owner.ask(OBJECT_DROP, ObjectDropRequest(ids=[sent.id, doubled.id, total.id])) == 2
    with pytest.raises(unseen.NotFound):
        owner.ask(OBJECT_INFO, ObjectIdRequest(id=doubled.id))
    assert owner.ask(OBJECT_INFO, ObjectIdRequest(id=sent.id)) == sent


def test_a_bad_field_over_the_server_names_it(owner: unseen.Client) -> None:
    with pytest.raises(unseen.UsageError, match="the field 'tags' must be a list of str"):
        owner.call("object.send", {"value": 1.0, "tags": ["#a", 2]})
    with pytest.raises(unseen.UsageError, match="the field 'keep' must be a list of str"):
        owner.call("graph.run", {"actions": [], "keep": "x"})
    with pytest.raises(unseen.UsageError, match="the field 'id' must be str, not int"):
        owner.call("object.get", {"id": 3})


def ops_id(letter: str) -> str:
    import uuid

    return letter + uuid.uuid4().hex[:15]
