"""Reading private data by every path that returns data: every method, property, operator and
function of the vocabulary (generated from the unseen.ops tables), Python's conversion
protocols on pointers, and every message kind that returns a value.

Release rule (unseen/node/_policy.py, unseen/node/_objects.py run_graph): a value derived from
data the caller may not read is refused with CannotRequestPrivateData before anything runs.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from security_support import Attacks, World, assert_clean, asset

import unseen
from unseen import ops
from unseen.ops._registry import _tables

FAMILIES = ("ndarray", "tensor", "dataframe")


def nid() -> str:
    return uuid.uuid4().hex


def raw_get(client: unseen.Client, action: ops.Action) -> Any:
    return client.call("graph.run", {"actions": [action], "keep": [], "get": [action.id]})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_of_the_family_is_refused_raw(
    world: World, attacks: Attacks, family: str
) -> None:
    """One raw graph.run per method/property/operator of the family, asking for the value."""
    before = world.snapshot()
    src = world.asset_ids[family]
    names = sorted(_tables()[0][family])
    assert len(names) > 40
    for name in names:
        spec = _tables()[0][family][name]
        kind = "attr" if spec.kind == "attr" else "method"
        action = ops.Action(nid(), kind, name, (ops.Ref(src),))
        attacks.refuse(raw_get, world.eve, action, expect=unseen.CannotRequestPrivateData)
    assert world.snapshot() == before


@pytest.mark.parametrize("namespace", ops.namespaces())
def test_every_function_on_private_data_is_refused_raw(
    world: World, attacks: Attacks, namespace: str
) -> None:
    src = world.asset_ids["tensor" if namespace.startswith("torch") else "ndarray"]
    if namespace == "pandas":
        src = world.asset_ids["dataframe"]
    for name in ops.functions_of(namespace):
        action = ops.Action(nid(), "function", f"{namespace}.{name}", (ops.Ref(src),))
        attacks.refuse(raw_get, world.eve, action, expect=unseen.CannotRequestPrivateData)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_through_the_client_is_refused(
    world: World, attacks: Attacks, family: str
) -> None:
    """The public API: ptr.<method>() then .get(); a call the client refuses is refused too."""
    ptr = asset(world, world.eve, family)
    for name in ops.methods_of(family):
        try:
            result = getattr(ptr, name)
            if callable(result) and not isinstance(result, unseen.Pointer):
                result = result()
        except unseen.UnseenError as exc:  # refused before anything was sent
            attacks.tried()
            assert_clean(exc)
            continue
        if isinstance(result, unseen.Pointer):
            assert_clean(result, result._meta)
            attacks.refuse(result.get, expect=unseen.CannotRequestPrivateData)


def test_conversion_protocols_never_fetch(world: World, attacks: Attacks) -> None:
    """tolist, tobytes, item, __array__, repr, format, iteration, bool, int, float, len."""
    for family in FAMILIES:
        ptr = asset(world, world.eve, family)
        derived = ptr * 2 if family != "dataframe" else ptr["value"] * 2
        for p in (ptr, derived):
            assert_clean(repr(p), str(p), f"{p}", p._repr_html_(), dir(p), p._meta)
            for fn in (
                lambda p=p: np.asarray(p),
                lambda p=p: np.array(p),
                lambda p=p: p.__array__(),
                lambda p=p: float(p),
                lambda p=p: int(p),
                lambda p=p: complex(p),
                lambda p=p: bool(p),
                lambda p=p: f"{p:.3f}",
                lambda p=p: [x.get() for x in p],
                lambda p=p: list(p)[0].get(),
                lambda p=p: p[0].get(),
                lambda p=p: p.get(),
                lambda p=p: __import__("pickle").dumps(p),
                lambda p=p: __import__("copy").deepcopy(p).get(),
            ):
                attacks.refuse(fn, expect=(unseen.UnseenError, TypeError))
        for method in ("tolist", "tobytes", "item", "numpy", "to_numpy", "to_dict", "values",
                       "to_list", "__str__", "__repr__", "__format__", "__iter__", "__array__",
                       "__len__", "__bool__", "__float__", "__int__", "__index__", "tostring"):  # fmt: skip
            action = ops.Action(nid(), "method", method, (ops.Ref(ptr.id),))
            attacks.refuse(raw_get, world.eve, action, expect=unseen.UnseenError)


def test_every_kind_that_returns_data_is_refused(world: World, attacks: Attacks) -> None:
    eve, ids = world.eve, world.asset_ids
    before = world.snapshot()
    for oid in ids.values():
        attacks.refuse(eve.call, "object.get", {"id": oid}, expect=unseen.CannotRequestPrivateData)
        attacks.refuse(
            eve.call,
            "graph.run",
            {"actions": [], "keep": [], "get": [oid]},
            expect=unseen.CannotRequestPrivateData,
        )
        # the mock is public; it must be the mock, not the data
        assert_clean(eve.call("object.mock", {"id": oid}), eve.call("object.info", {"id": oid}))
        attacks.tried()
        attacks.refuse(eve.call, "dp.get", {"actions": [], "target": oid},
                       expect=unseen.UnseenError)  # fmt: skip
    # bob's own upload and bob's request: eve can neither see nor use them
    for kind, body in [
        ("object.get", {"id": world.bob_object}),
        ("object.info", {"id": world.bob_object}),
        ("object.mock", {"id": world.bob_object}),
        ("object.tag", {"id": world.bob_object, "tags": ["#eve"]}),
        ("request.result", {"id": world.bob_request}),
        ("request.wait", {"id": world.bob_request, "timeout": 0}),
        ("request.create", {"object_id": world.bob_object, "name": "steal"}),
        ("graph.run", {"actions": [], "keep": [], "get": [world.bob_object]}),
        ("dp.get", {"actions": [], "target": world.bob_object, "epsilon": 0.1}),
    ]:
        exc = attacks.refuse(eve.call, kind, body, expect=unseen.NotFound)
        assert "no " in str(exc)
    # the same answer as for an id that does not exist: existence is not revealed
    missing = attacks.refuse(eve.call, "object.info", {"id": nid()}, expect=unseen.NotFound)
    hidden = attacks.refuse(eve.call, "object.info", {"id": world.bob_object},
                            expect=unseen.NotFound)  # fmt: skip
    assert str(missing).replace(missing.args[0].split("'")[1], "") == str(hidden).replace(
        world.bob_object, ""
    )
    # listings show eve nothing of bob's
    for kind in ("request.list", "store.list", "dp.history", "dp.budget", "user.me"):
        reply = eve.call(kind, {"query": "#bob"} if kind == "search" else {})
        attacks.tried()
        assert_clean(reply)
        assert world.bob_object not in repr(reply) and world.bob_request not in repr(reply)
    for query in ("#bob", "bob", "BOBSECRET", "#sec"):
        reply = eve.call("search", {"query": query})
        attacks.tried()
        assert_clean(reply)
        assert world.bob_object not in repr(reply)
    assert world.snapshot() == before


def test_computing_through_bobs_object_is_refused(world: World, attacks: Attacks) -> None:
    action = ops.Action(nid(), "method", "__add__", (ops.Ref(world.bob_object), 1))
    attacks.refuse(world.eve.call, "graph.run", {"actions": [action], "keep": [action.id],
                   "get": []}, expect=unseen.NotFound)  # fmt: skip
    attacks.tried()  # dropping another user's object is a no-op
    assert world.eve.call("object.drop", {"ids": [world.bob_object]}) == 0
    assert world.bob.call("object.info", {"id": world.bob_object})["id"] == world.bob_object


def test_requests_are_only_the_requesters(world: World, attacks: Attacks) -> None:
    eve_reqs = world.eve.call("request.list")
    assert all(r["requester"] != world.bob.user_id for r in eve_reqs)
    attacks.refuse(world.eve.call, "request.decide",
                   {"id": world.bob_request, "action": "accept"},
                   expect=unseen.PermissionDenied)  # fmt: skip
    # eve's own request on private data cannot be decided by eve either
    ptr = asset(world, world.eve, "ndarray").sum()
    req = ptr.request(name="mine", reason="x")
    attacks.refuse(world.eve.call, "request.decide", {"id": req.id, "action": "accept"},
                   expect=unseen.PermissionDenied)  # fmt: skip
    attacks.refuse(world.eve.call, "handler.add", {"action": "accept"},
                   expect=unseen.PermissionDenied)  # fmt: skip
    attacks.refuse(ptr.get, expect=unseen.CannotRequestPrivateData)
    attacks.refuse(world.eve.call, "request.result", {"id": req.id}, expect=unseen.UsageError)
