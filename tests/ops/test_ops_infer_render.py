"""Static result families, families of values, and the owner's rendering of a graph."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import UsageError
from unseen.ops import (
    Action,
    Ref,
    check_action,
    execute,
    family_of,
    infer_family,
    lookup_function,
    lookup_method,
    render,
)

FAMS = {"x": "ndarray", "t": "tensor", "df": "dataframe", "s": "series", "mask": "series",
        "n": "scalar", "g": "groupby", "v": "value", "i": "indexer", "ix": "index"}  # fmt: skip


def infer(kind: str, name: str, *args: Any, **kwargs: Any) -> str:
    if kind == "function":
        spec, recv = lookup_function(name), None
    else:
        recv = FAMS[args[0].id]
        spec = lookup_method(recv, name)
    return infer_family(spec, recv, args, kwargs, lambda r: FAMS[r.id])


@pytest.mark.parametrize(
    ("kind", "name", "args", "kwargs", "expected"),
    [
        ("method", "numpy", (Ref("t"),), {}, "ndarray"),
        ("method", "item", (Ref("x"),), {}, "scalar"),
        ("method", "tolist", (Ref("x"),), {}, "value"),
        ("method", "__getitem__", (Ref("df"), "col"), {}, "series"),
        ("method", "__getitem__", (Ref("df"), ["a", "b"]), {}, "dataframe"),
        ("method", "__getitem__", (Ref("df"), Ref("mask")), {}, "dataframe"),
        ("method", "__getitem__", (Ref("s"), 0), {}, "scalar"),
        ("method", "__getitem__", (Ref("s"), slice(0, 2)), {}, "series"),
        ("method", "__getitem__", (Ref("x"), 0), {}, "ndarray"),
        ("method", "__getitem__", (Ref("v"), 0), {}, "scalar"),
        ("method", "__getitem__", (Ref("g"), "a"), {}, "groupby"),
        ("method", "__getitem__", (Ref("i"), (Ref("mask"), "a")), {}, "series"),
        ("method", "__getitem__", (Ref("i"), (0, "a")), {}, "scalar"),
        ("method", "sum", (Ref("df"),), {}, "series"),
        ("method", "sum", (Ref("df"),), {"axis": None}, "scalar"),
        ("method", "sum", (Ref("s"),), {}, "scalar"),
        ("method", "sum", (Ref("x"),), {}, "ndarray"),
        ("method", "sum", (Ref("t"),), {}, "tensor"),
        ("method", "quantile", (Ref("df"), [0.1, 0.9]), {}, "dataframe"),
        ("method", "quantile", (Ref("s"), 0.5), {}, "scalar"),
        ("method", "agg", (Ref("df"), "sum"), {}, "series"),
        ("method", "groupby", (Ref("df"), "a"), {}, "groupby"),
        ("method", "mean", (Ref("g"),), {}, "dataframe"),
        ("method", "size", (Ref("g"),), {}, "series"),
        ("attr", "loc", (Ref("df"),), {}, "indexer"),
        ("attr", "columns", (Ref("df"),), {}, "index"),
        ("attr", "shape", (Ref("t"),), {}, "value"),
        ("attr", "T", (Ref("x"),), {}, "ndarray"),
        ("method", "size", (Ref("t"),), {}, "value"),
        ("method", "size", (Ref("t"), 0), {}, "scalar"),
        ("method", "max", (Ref("t"),), {"dim": 0}, "value"),
        ("method", "max", (Ref("t"), Ref("t")), {}, "tensor"),
        ("method", "__add__", (Ref("x"), Ref("t")), {}, "tensor"),
        ("method", "__add__", (Ref("x"), 1), {}, "ndarray"),
        ("method", "__radd__", (Ref("n"), Ref("s")), {}, "series"),
        ("method", "__mul__", (Ref("n"), 2), {}, "scalar"),
        ("method", "__len__", (Ref("v"),), {}, "scalar"),
        ("function", "numpy.add", (Ref("x"), Ref("t")), {}, "ndarray"),
        ("function", "numpy.where", (Ref("x"),), {}, "value"),
        ("function", "numpy.where", (Ref("x"), 1, 2), {}, "ndarray"),
        ("function", "numpy.unique", (Ref("x"),), {"return_counts": True}, "value"),
        ("function", "numpy.linalg.svd", (Ref("x"),), {}, "value"),
        ("function", "torch.relu", (Ref("t"),), {}, "tensor"),
        (
            "function",
            "torch.nn.functional.max_pool2d",
            (Ref("t"), 2),
            {"return_indices": True},
            "value",
        ),
        ("function", "pandas.concat", ([Ref("s"), Ref("s")],), {}, "series"),
        ("function", "pandas.merge", (Ref("df"), Ref("df")), {}, "dataframe"),
        ("function", "pandas.isna", (Ref("df"),), {}, "dataframe"),
    ],
)
def test_infer_family(kind: str, name: str, args: tuple, kwargs: dict, expected: str) -> None:
    assert infer(kind, name, *args, **kwargs) == expected


def test_inferred_families_match_execution() -> None:
    env = {"x": np.arange(6.0).reshape(2, 3), "t": torch.ones(2, 3),
           "df": pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})}  # fmt: skip
    graph = [
        Action("a", "method", "sum", (Ref("df"),)),
        Action("b", "method", "__getitem__", (Ref("df"), "a")),
        Action("c", "method", "cumsum", (Ref("b"),)),
        Action("d", "method", "numpy", (Ref("t"),)),
        Action("e", "attr", "T", (Ref("x"),)),
        Action("f", "function", "numpy.linalg.svd", (Ref("x"),)),
        Action("g", "method", "groupby", (Ref("df"), "a")),
        Action("h", "attr", "shape", (Ref("t"),)),
    ]
    out = execute(graph, env)
    fams = {k: family_of(v) for k, v in env.items()}
    for action in graph:
        recv = fams[action.args[0].id] if action.kind != "function" else None
        spec = check_action(action, recv)
        guess = infer_family(spec, recv, action.args, action.kwargs, lambda r: fams[r.id])
        fams[action.id] = family_of(out[action.id])
        assert guess == fams[action.id], action


@pytest.mark.parametrize(
    ("value", "family"),
    [
        (np.ones(2), "ndarray"), (np.float32(1.0), "ndarray"), (np.bool_(True), "ndarray"),
        (np.array(["a"]), "ndarray"), (torch.ones(1), "tensor"), (torch.nn.Parameter(torch.ones(1)), "tensor"),
        (pd.DataFrame(), "dataframe"), (pd.Series([1]), "series"), (pd.Index([1]), "index"),
        (pd.RangeIndex(3), "index"), (pd.DataFrame({"a": [1]}).groupby("a"), "groupby"),
        (pd.Series([1]).groupby([1]), "groupby"), (pd.DataFrame({"a": [1]}).iat, "indexer"),
        (True, "scalar"), (3, "scalar"), (2.5, "scalar"), (1j, "scalar"), ("s", "scalar"),
        ([1, 2], "value"), ((1, [2.0, None]), "value"), ({"a": np.ones(1)}, "value"),
        (torch.Size([2, 3]), "value"), (torch.sort(torch.ones(2)), "value"),
        (np.linalg.svd(np.eye(2)), "value"),
    ],
)  # fmt: skip
def test_family_of(value: Any, family: str) -> None:
    assert family_of(value) == family


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, None], dtype=object),
        print,
        np,
        object(),
        None,
        b"x",
        {1, 2},
        [object()],
        {(1, 2): 1},
        pd.Timestamp("2020-01-01"),
        np.array([(1, None)], dtype=[("a", "i8"), ("b", "O")])[0],
    ],
)
def test_family_of_refuses_with_a_usage_error(value: Any) -> None:
    with pytest.raises(UsageError, match="Supported|object|dict key|cannot hold"):
        family_of(value)


def test_render() -> None:
    big = np.zeros((100, 3))
    actions = [
        Action("3f2a9b1c7d4e5f60", "method", "sum", (Ref("data"),), {"axis": 0}),
        Action("x4", "function", "numpy.log", (Ref("3f2a9b1c7d4e5f60"),)),
        Action("x5", "method", "__add__", (Ref("x4"), 1)),
        Action("x6", "method", "__rsub__", (Ref("x5"), big)),
        Action("x7", "method", "__getitem__", (Ref("x6"), (slice(0, 2), Ellipsis, None))),
        Action("x8", "attr", "T", (Ref("x7"),)),
        Action("x9", "method", "__neg__", (Ref("x8"),)),
        Action("xa", "method", "astype", (Ref("x9"), np.float32)),
        Action("xb", "function", "numpy.add", (Ref("xa"), np.array([1, 2]), "y" * 100)),
    ]
    lines = render(actions, {"data": "Diabetes.data"})
    assert lines == [
        "x4e5f60 = Diabetes.data.sum(axis=0)",
        "x4 = numpy.log(x4e5f60)",
        "x5 = x4 + 1",
        "x6 = <ndarray float64 (100, 3)> - x5",
        "x7 = x6[0:2, ..., None]",
        "x8 = x7.T",
        "x9 = -x8",
        "xa = x9.astype(numpy.float32)",
        "xb = numpy.add(xa, ndarray([1, 2]), " + repr("y" * 40 + "...") + " (100 chars))",
    ]
