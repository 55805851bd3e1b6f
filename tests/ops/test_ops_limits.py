"""Size guards: operations that would allocate above the limit are refused before they run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import OperationNotAllowed
from unseen.ops import Action, Limits, Ref, execute
from unseen.ops._registry import all_specs

SMALL = Limits(max_elements=1000)

a100 = np.arange(100.0)
col = a100[:, None]
row = a100[None, :]
t100 = torch.arange(100.0)
tcol, trow = t100[:, None], t100[None, :]
ENV: dict[str, Any] = {
    "a10": np.arange(10.0),
    "a100": a100,
    "a600": np.arange(600.0),
    "col": col,
    "row": row,
    "m10": np.ones((10, 10)),
    "big": np.arange(5000),
    "t10": torch.arange(10.0),
    "t100": t100,
    "t600": torch.arange(600.0),
    "tcol": tcol,
    "trow": trow,
    "tm10": torch.ones(10, 10),
    "tbig": torch.tensor([5000]),
    "labels": torch.tensor([0, 1]),
    "x1d": torch.ones(1, 1, 10),
    "w1d": torch.ones(1, 1, 3),
    "p2": torch.ones(100, 2),
    "s600": pd.Series(np.arange(600.0)),
    "s10": pd.Series(np.arange(10.0)),
    "n": 5000,
    "text": "ab",
    "long": "x" * 600,
    "huge": 2**40000,
    "strs": pd.Series(["ab", "c"]),
    "strframe": pd.DataFrame({"s": ["ab", "c"], "n": [1, 2]}),
    "stridx": pd.Index(["ab", "c"]),
    "two": 2,
}

F = "torch.nn.functional."


def fn(name: str, *args: Any, **kwargs: Any) -> Action:
    return Action("r", "function", name, args, kwargs)


def m(recv: str, name: str, *args: Any, **kwargs: Any) -> Action:
    return Action("r", "method", name, (Ref(recv), *args), kwargs)


OVER: list[Action] = [
    fn("numpy.zeros", (50, 50)),
    fn("numpy.zeros", Ref("n")),
    fn("numpy.ones", 2000),
    fn("numpy.full", (40, 40), 1.0),
    fn("numpy.zeros_like", Ref("a10"), shape=(100, 100)),
    fn("numpy.ones_like", Ref("big")),
    fn("numpy.full_like", Ref("big"), 2),
    fn("numpy.arange", 5000),
    fn("numpy.arange", 0, 50000, 10),
    fn("numpy.linspace", 0, 1, 5000),
    fn("numpy.logspace", 0, 1, 5000),
    fn("numpy.geomspace", 1, 2, 5000),
    fn("numpy.eye", 100),
    fn("numpy.eye", 10, 500),
    fn("numpy.identity", 100),
    fn("numpy.tri", 100),
    fn("numpy.tile", Ref("a10"), (200,)),
    fn("numpy.repeat", Ref("a10"), 200),
    fn("numpy.repeat", Ref("a10"), [150] * 10),
    fn("numpy.broadcast_to", Ref("a10"), (200, 10)),
    fn("numpy.outer", Ref("a100"), Ref("a100")),
    fn("numpy.kron", Ref("a100"), Ref("a100")),
    fn("numpy.diag", Ref("a100")),
    fn("numpy.diagflat", Ref("a100")),
    fn("numpy.pad", Ref("m10"), 100),
    fn("numpy.pad", Ref("m10"), ((0, 0), (0, 500))),
    fn("numpy.bincount", Ref("big")),
    fn("numpy.bincount", [1], minlength=5000),
    fn("numpy.histogram", Ref("a10"), 5000),
    fn("numpy.meshgrid", Ref("a100"), Ref("a100")),
    fn("numpy.concatenate", [Ref("a600"), Ref("a600")]),
    fn("numpy.stack", (Ref("a600"), Ref("a600"))),
    fn("numpy.append", Ref("a600"), Ref("a600")),
    fn("numpy.matmul", Ref("col"), Ref("row")),
    fn("numpy.dot", Ref("col"), Ref("row")),
    fn("numpy.tensordot", Ref("a100"), Ref("a100"), 0),
    fn("numpy.einsum", "i,j->ij", Ref("a100"), Ref("a100")),
    fn("numpy.einsum", "i,j", Ref("a100"), Ref("a100")),
    fn("numpy.add", Ref("col"), Ref("row")),
    fn("numpy.where", Ref("col"), Ref("row"), 0.0),
    fn("numpy.isclose", Ref("col"), Ref("row")),
    m("col", "__add__", Ref("row")),
    m("col", "__radd__", Ref("row")),
    m("col", "__lt__", Ref("row")),
    m("col", "__matmul__", Ref("row")),
    m("col", "dot", Ref("row")),
    m("a10", "repeat", 200),
    m("tcol", "__mul__", Ref("trow")),
    fn("torch.zeros", 100, 100),
    fn("torch.zeros", (100, 100)),
    fn("torch.ones", Ref("n")),
    fn("torch.full", (100, 100), 1.0),
    fn("torch.arange", 5000),
    fn("torch.arange", 0, 5000, 1),
    fn("torch.linspace", 0, 1, 5000),
    fn("torch.logspace", 0, 1, 5000),
    fn("torch.eye", 100),
    fn("torch.tile", Ref("t10"), (200,)),
    fn("torch.repeat_interleave", Ref("t10"), 200),
    fn("torch.broadcast_to", Ref("t10"), (200, 10)),
    fn("torch.diag", Ref("t100")),
    fn("torch.diag_embed", Ref("tm10"), 100),
    fn("torch.kron", Ref("t100"), Ref("t100")),
    fn("torch.outer", Ref("t100"), Ref("t100")),
    fn("torch.cdist", Ref("p2"), Ref("p2")),
    fn("torch.bincount", Ref("tbig")),
    fn("torch.histc", Ref("t10"), 5000),
    fn("torch.histogram", Ref("t10"), 5000),
    fn("torch.broadcast_tensors", Ref("tcol"), Ref("trow")),
    fn("torch.meshgrid", Ref("t100"), Ref("t100"), indexing="ij"),
    fn("torch.cat", [Ref("t600"), Ref("t600")]),
    fn("torch.matmul", Ref("tcol"), Ref("trow")),
    fn("torch.einsum", "i,j->ij", Ref("t100"), Ref("t100")),
    fn("torch.add", Ref("tcol"), Ref("trow")),
    fn("torch.where", Ref("tcol"), Ref("trow"), 0.0),
    m("t100", "expand", 100, 100),
    m("t100", "repeat", 100, 1),
    m("t10", "tile", 200),
    m("t10", "new_zeros", 100, 100),
    m("t10", "new_full", (100, 100), 1.0),
    m("t10", "repeat_interleave", 200),
    fn(F + "one_hot", Ref("labels"), 5000),
    fn(F + "pad", Ref("tm10"), (500, 500)),
    fn(F + "conv1d", Ref("x1d"), Ref("w1d"), None, 1, 1000),
    fn(F + "adaptive_avg_pool1d", Ref("x1d"), 5000),
    fn("pandas.cut", Ref("s10"), 5000),
    fn("pandas.concat", [Ref("s600"), Ref("s600")]),
    m("text", "__mul__", 1000),
    m("two", "__pow__", 100_000),
    m("text", "__rmul__", 1000),
    m("long", "__add__", Ref("long")),
    m("huge", "__mul__", Ref("huge")),
    m("strs", "__mul__", 1000),
    m("strs", "__rmul__", np.int64(1000)),
    m("strs", "mul", 1000),
    m("strframe", "__mul__", 1000),
    m("stridx", "__mul__", 1000),
    m("a600", "astype", "U8"),
    fn("numpy.astype", Ref("a600"), "U8"),
    fn("numpy.array", Ref("a600"), "U8"),
    m("s600", "to_numpy", dtype="U8"),
    fn("numpy.zeros", 100, dtype="U100"),
    fn("numpy.full", 100, "x", dtype="U100"),
]


@pytest.mark.parametrize("action", OVER, ids=[f"{a.name}-{i}" for i, a in enumerate(OVER)])
def test_over_the_limit_is_refused_before_running(action: Action) -> None:
    with pytest.raises(
        OperationNotAllowed, match="would allocate .* above this node's limit of 1000"
    ):
        execute([action], ENV, limits=SMALL)


def test_message_names_the_operation_and_sizes() -> None:
    with pytest.raises(OperationNotAllowed) as info:
        execute([fn("numpy.zeros", (2**15, 2**15))], {})
    assert str(info.value).startswith(
        f"numpy.zeros would allocate {2**30} elements, above this node's limit of {2**28};"
    )


def test_just_under_the_limit_runs() -> None:
    out = execute([fn("numpy.zeros", (10, 100))], {}, limits=SMALL)
    assert out["r"].shape == (10, 100)
    out = execute(
        [m("col", "__add__", Ref("row"))], {"col": col[:10], "row": row[:, :100]}, limits=SMALL
    )
    assert out["r"].shape == (10, 100)


def test_small_string_work_still_runs() -> None:
    env = {"s": pd.Series(["ab", "c"]), "t": "ab"}
    out = execute([m("s", "__mul__", 3), m("t", "__add__", "cd")][:1], env, limits=SMALL)
    assert out["r"].tolist() == ["ababab", "ccc"]
    assert execute([m("t", "__mul__", 3)], env, limits=SMALL)["r"] == "ababab"


def test_unreadable_sizes_are_refused() -> None:
    with pytest.raises(OperationNotAllowed, match="could not estimate"):
        execute([fn("numpy.zeros", ("a", 2))], {})


def test_every_guard_is_exercised() -> None:
    guards = {spec.guard for spec in all_specs()} - {None}
    from unseen.ops._registry import lookup_function, lookup_method

    hit = set()
    for action in OVER:
        if action.kind == "function":
            hit.add(lookup_function(action.name).guard)
        else:
            from unseen.ops import family_of

            hit.add(lookup_method(family_of(ENV[action.args[0].id]), action.name).guard)
    assert guards <= hit, guards - hit
