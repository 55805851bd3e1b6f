"""Escaping the vocabulary with crafted Actions sent as raw graph.run messages: attribute walks
to __class__/__globals__/__builtins__, I/O and pickle paths, eval, callables, bad kinds.

Stopped by unseen/ops/_check.py and _banned.py (check_action, banned_reason) before anything
runs, on the receiver eve owns herself as well as on private data: the vocabulary, not the
release rule, is what stops these.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from security_support import Attacks, World

import unseen
from unseen import ops
from unseen.ops._registry import _tables

WALKS = ("__class__", "__dict__", "__globals__", "__builtins__", "__subclasses__", "__init__",
         "__getattribute__", "__reduce__", "__reduce_ex__", "__code__", "__closure__", "__module__",
         "__self__", "__func__", "__mro__", "__base__", "__bases__", "__setstate__", "__getstate__",
         "__dir__", "__new__", "__call__", "__loader__", "__spec__", "__import__", "_mgr", "base",
         "ctypes", "data", "__array_interface__", "__cuda_array_interface__", "storage",
         "untyped_storage", "_values", "__setattr__", "__delattr__", "__delitem__", "__setitem__",
         "__iadd__", "fill", "resize", "put", "setflags", "__weakref__")  # fmt: skip
IO_METHODS = ("tofile", "dump", "dumps", "save", "to_pickle", "to_csv", "to_parquet", "to_json",
              "to_hdf", "to_sql", "to_excel", "to_feather", "to_clipboard", "to_html", "to_latex",
              "share_memory_", "pin_memory", "cuda", "to", "numpy", "apply", "applymap", "pipe",
              "map", "agg", "transform", "eval", "query", "register_hook", "backward",
              "__reduce__", "tolist", "tobytes", "item")  # fmt: skip
FUNCTIONS = ("builtins.eval", "builtins.exec", "builtins.open", "builtins.__import__",
             "builtins.getattr", "os.system", "os.remove", "subprocess.run", "pickle.loads",
             "numpy.load", "numpy.save", "numpy.savez", "numpy.savetxt", "numpy.loadtxt",
             "numpy.fromfile", "numpy.memmap", "numpy.frompyfunc", "numpy.vectorize",
             "numpy.fromfunction", "numpy.piecewise", "numpy.apply_along_axis", "numpy.empty",
             "numpy.ctypeslib.as_array", "numpy.lib.format.read_array", "numpy.core.multiarray._reconstruct",
             "torch.load", "torch.save", "torch.from_file", "torch.empty", "torch.jit.load",
             "torch.hub.load", "torch.ops.aten.add", "torch.compile", "torch.set_default_dtype",
             "pandas.read_pickle", "pandas.read_csv", "pandas.read_sql", "pandas.read_parquet",
             "pandas.eval", "pandas.to_pickle", "numpy.__builtins__", "numpy.os.system",
             "numpy.testing.os.system", "numpy.linalg.__builtins__.eval", "torch.__builtins__",
             "numpy..load", ".numpy.load", "numpy.load.__globals__", "numpy.log.__class__")  # fmt: skip


def nid() -> str:
    return uuid.uuid4().hex


def run(client: unseen.Client, *actions: ops.Action, get: bool = True) -> Any:
    last = actions[-1].id
    return client.call(
        "graph.run",
        {"actions": list(actions), "keep": [last], "get": [last] if get else []},
    )


@pytest.fixture(scope="module")
def own(world: World) -> Any:
    """A value eve uploaded: she may read it, so only the vocabulary can stop her."""
    return world.eve.send(np.arange(6.0).reshape(2, 3))


def paths_untouched(world: World, marker: str) -> None:
    for where in (Path.cwd(), world.data_dir, Path("/tmp")):
        assert not list(where.glob(f"*{marker}*")), where


def test_attribute_walks_are_refused(world: World, attacks: Attacks, own: Any) -> None:
    before = world.snapshot()
    receivers = [own.id, *world.asset_ids.values()]
    for rid in receivers:
        for name in WALKS:
            for kind in ("attr", "method"):
                action = ops.Action(nid(), kind, name, (ops.Ref(rid),))  # type: ignore[arg-type]
                attacks.refuse(run, world.eve, action,
                               expect=(unseen.OperationNotAllowed, unseen.UsageError,
                                       unseen.CannotRequestPrivateData))  # fmt: skip
                # without asking for the value: the vocabulary alone must stop it
                attacks.refuse(run, world.eve, action, get=False,
                               expect=(unseen.OperationNotAllowed, unseen.UsageError))  # fmt: skip
        # a walk on a computed receiver: the receiver's family is checked again when reached
        first = ops.Action(nid(), "method", "__add__", (ops.Ref(rid), 0))
        for name in ("__class__", "__globals__", "__builtins__"):
            action = ops.Action(nid(), "attr", name, (ops.Ref(first.id),))
            attacks.refuse(run, world.eve, first, action, get=rid == own.id,
                           expect=(unseen.OperationNotAllowed, unseen.UsageError))  # fmt: skip
    assert world.snapshot() == before


def test_io_pickle_and_callable_paths_are_refused(world: World, attacks: Attacks, own: Any) -> None:
    marker = f"unseen-sec-{uuid.uuid4().hex[:8]}"
    target = f"/tmp/{marker}.bin"
    before = world.snapshot()
    frame = world.eve.send(__import__("pandas").DataFrame({"a": [1.0, 2.0]}))
    receivers = {own.id: "ndarray", frame.id: "dataframe"}
    receivers.update({rid: fam for fam, rid in world.asset_ids.items()})
    for rid, family in receivers.items():
        for name in IO_METHODS:
            if name in _tables()[0][family]:  # allowed (e.g. tolist): runs, never released
                continue
            for args in ((), (target,)):
                action = ops.Action(nid(), "method", name, (ops.Ref(rid), *args))
                attacks.refuse(run, world.eve, action, get=False, expect=unseen.UnseenError)
    for name in FUNCTIONS:
        for args in ((target,), (ops.Ref(own.id),), (target, ops.Ref(own.id)), ("1+1",)):
            action = ops.Action(nid(), "function", name, args)
            attacks.refuse(run, world.eve, action,
                           expect=(unseen.OperationNotAllowed, unseen.UsageError))  # fmt: skip
    # vocabulary entries with crafted keyword arguments (callables, files, object dtype)
    for fn, kwargs in [
        ("numpy.sum", {"out": target}),
        ("numpy.asarray", {"dtype": "O"}),
        ("numpy.array", {"dtype": object.__name__}),
        ("numpy.log", {"out": ops.Ref(own.id)}),
        ("numpy.sort", {"kind": "__globals__"}),
        ("torch.tensor", {"device": "cuda"}),
    ]:
        action = ops.Action(nid(), "function", fn, (ops.Ref(own.id),), kwargs)
        attacks.refuse(run, world.eve, action, expect=unseen.UnseenError)  # refused or failed
    for method, args in [("astype", ("O",)), ("astype", (object.__name__,)),
                         ("view", ("O",)), ("__getitem__", ("__class__",))]:  # fmt: skip
        action = ops.Action(nid(), "method", method, (ops.Ref(own.id), *args))
        attacks.refuse(run, world.eve, action, expect=unseen.UnseenError)
    paths_untouched(world, marker)
    world.eve.call("object.drop", {"ids": [frame.id]})
    after = world.snapshot()
    assert after[:3] == before[:3] and after[4:] == before[4:]


def test_malformed_actions_are_refused(world: World, attacks: Attacks, own: Any) -> None:
    bad = [
        ops.Action(nid(), "lambda", "sum", (ops.Ref(own.id),)),  # type: ignore[arg-type]
        ops.Action(nid(), "method", "sum", ()),  # no receiver
        ops.Action(nid(), "method", "sum", (5,)),  # a literal receiver
        ops.Action(nid(), "method", "sum", (ops.Ref(nid()),)),  # an unknown id
        ops.Action(nid(), "method", "sum", (ops.Ref(own.id),), {"__class__": 1}),
        ops.Action(nid(), "function", "numpy.add", (ops.Ref(own.id), ops.Ref(own.id)), {"out": 1}),
        ops.Action("../../etc/passwd", "method", "sum", (ops.Ref(own.id),)),
        ops.Action(own.id, "method", "sum", (ops.Ref(own.id),)),  # overwrite an existing id
        ops.Action(world.asset_ids["ndarray"], "method", "__mul__", (ops.Ref(own.id), 0)),
        ops.Action("x" * 65, "method", "sum", (ops.Ref(own.id),)),
    ]
    for action in bad:
        attacks.refuse(run, world.eve, action, expect=unseen.UnseenError)
    # a cycle and a duplicate id
    a = ops.Action(nid(), "method", "sum", (ops.Ref("cyclecycle1"),))
    b = ops.Action("cyclecycle1", "method", "sum", (ops.Ref(a.id),))
    attacks.refuse(run, world.eve, a, b, expect=unseen.UnseenError)
    attacks.refuse(run, world.eve, a, a, expect=unseen.UnseenError)
    # the asset is still the asset
    assert world.owner.call("object.get", {"id": world.asset_ids["ndarray"]}).shape == (6, 4)


def test_nothing_was_written_outside_the_node(world: World) -> None:
    assert not any("unseen-sec-" in p for p in os.listdir("/tmp") if p.endswith(".bin"))
