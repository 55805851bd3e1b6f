"""Argument kinds and op-specific validators."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import OperationNotAllowed
from unseen.ops import Action, Ref, check_action, execute


def _fn(name: str, *args: Any, **kwargs: Any) -> Action:
    return Action("r", "function", name, args, kwargs)


def _m(name: str, *args: Any, **kwargs: Any) -> Action:
    return Action("r", "method", name, (Ref("x"), *args), kwargs)


def _refused(action: Action, family: str | None = None, match: str | None = None) -> str:
    with pytest.raises(OperationNotAllowed, match=match) as info:
        check_action(action, family)
    return str(info.value)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (lambda x: x, "a function"),
        (print, "a function"),
        (os, "a module"),
        (np, "a module"),
        (object, "a class"),
        (np.ndarray, "a class"),
        (np.array([1, None], dtype=object), "object dtype"),
        (np.array([1], dtype=object)[0:1], "object dtype"),
        (Ref, "a class"),
        ({1, 2}, "builtins.set"),
        (b"bytes", "builtins.bytes"),
        (bytearray(b"x"), "bytearray"),
        (range(3), "range"),
        (iter([1]), "iterator"),
        (pd.DataFrame({"a": [1]}).groupby("a"), "DataFrameGroupBy"),
        (np.float64, "a class"),
    ],
)
def test_disallowed_argument_kinds(value: Any, words: str) -> None:
    message = _refused(_fn("numpy.add", Ref("x"), value))
    assert "numpy.add" in message and words in message
    message = _refused(_fn("numpy.add", Ref("x"), [1, (2, {"k": value})]))
    assert words in message
    _refused(_m("sum", axis=value), "ndarray")


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        1 + 2j,
        "text",
        Ellipsis,
        slice(1, None, 2),
        slice(Ref("n"), None),
        (1, 2),
        [1, [2.0, None]],
        {"a": 1, 2: "b"},
        np.float32(2.0),
        np.int64(3),
        np.dtype("float32"),
        torch.float64,
        np.ones(3),
        torch.ones(2),
        pd.Series([1.0]),
        pd.DataFrame({"a": [1]}),
        pd.Index([1]),
        Ref("y"),
        np.array(["a", "b"]),
    ],
)
def test_allowed_argument_kinds(value: Any) -> None:
    check_action(_fn("numpy.add", Ref("x"), value), None)


def test_long_strings_and_big_ints() -> None:
    check_action(_fn("numpy.add", Ref("x"), "a" * 10_000), None)
    assert "1000000 characters" in _refused(_fn("numpy.add", Ref("x"), "a" * 1_000_000))
    _refused(_fn("numpy.add", Ref("x"), 2**5000), match="bits")


def test_deep_nesting_and_bad_keys() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    _refused(_fn("numpy.array", deep), match="deeper")
    _refused(_fn("numpy.add", Ref("x"), {(1, 2): 3}), match="dict key")
    _refused(_fn("numpy.add", Ref("x"), slice(1.5, 2)), match="slice")


def test_inplace_and_out_are_never_allowed() -> None:
    out = np.empty(3)
    assert "'out'" in _refused(_fn("numpy.add", Ref("x"), 1, out=out))
    assert "never allowed" in _refused(_m("sum", out=out), "ndarray")
    assert "never allowed" in _refused(_m("fillna", 0, inplace=True), "dataframe")
    assert "never allowed" in _refused(_fn("torch.nn.functional.relu", Ref("x"), inplace=True))
    # a positional out is past the allowed count
    assert "at most 3 positional" in _refused(_fn("numpy.sum", Ref("x"), 0, None, out))
    assert "at most 2 positional" in _refused(_fn("numpy.add", Ref("x"), 1, out))
    # where= on a ufunc would leave uninitialized memory
    _refused(_fn("numpy.add", Ref("x"), 1, where=Ref("m")), match="'where' is not allowed")


def test_type_objects_only_as_dtypes() -> None:
    check_action(_m("astype", float), "ndarray")
    check_action(_m("astype", np.float32), "ndarray")
    check_action(_fn("numpy.zeros", 3, dtype=int), None)
    check_action(_m("astype", {"a": float, "b": "category"}), "dataframe")
    _refused(_fn("numpy.add", Ref("x"), float), match="a class")
    _refused(_m("groupby", str), "dataframe", match="a class")
    _refused(_m("rename", columns=str), "dataframe", match="a class")


@pytest.mark.parametrize(
    "dtype",
    [
        "object",
        "O",
        "|O",
        object,
        np.object_,
        np.dtype("O"),
        "U100000",
        "S999999",
        "V1000000",
        "(100000,100)f8",
        "not-a-dtype",
        {"a": "object"},
        Ref("d"),
        [("a", "O")],
    ],
)
def test_object_and_huge_dtypes_refused(dtype: Any) -> None:
    _refused(_m("astype", dtype), "ndarray")
    _refused(_fn("numpy.zeros", 3, dtype=dtype))
    _refused(_fn("numpy.astype", Ref("x"), dtype))


@pytest.mark.parametrize(
    "dtype",
    [
        "float32",
        "int8",
        "U10",
        "category",
        "Int64",
        "string",
        "str",
        "boolean",
        "datetime64[ns]",
        "float64[pyarrow]",
        np.float16,
        bool,
    ],
)
def test_reasonable_dtypes_allowed(dtype: Any) -> None:
    check_action(_m("astype", dtype), "series")


@pytest.mark.parametrize(
    "func",
    ["sum", ["sum", "mean"], {"a": "max", "b": ["min", "count"]}, ("first", "last"), None],
)
def test_allowlisted_aggregations(func: Any) -> None:
    check_action(_m("agg", func), "dataframe")
    check_action(_m("aggregate", func), "groupby")


@pytest.mark.parametrize(
    "func",
    [
        "to_pickle",
        "apply",
        "__class__",
        "eval",
        ["sum", "to_csv"],
        {"a": "pipe"},
        {"a": ["sum", "dump"]},
        Ref("f"),
        [],
        "cumsum",
        3,
    ],
)
def test_other_aggregations_refused(func: Any) -> None:
    for method, family in (
        ("agg", "dataframe"),
        ("aggregate", "series"),
        ("agg", "groupby"),
        ("transform", "groupby"),
    ):
        _refused(_m(method, func), family, match="aggregation")
    _refused(_m("pivot_table", values="v", aggfunc=func), "dataframe", match="aggregation")


def test_named_aggregations_checked() -> None:
    check_action(_m("agg", total=("v", "sum")), "groupby")
    _refused(_m("agg", total=("v", "to_pickle")), "groupby", match="named aggregation")
    _refused(_m("agg", total="eval"), "groupby", match="named aggregation")


@pytest.mark.parametrize("subscripts", ["ij,jk->ik", "ii", "...i,...i->...", " i j -> j "])
def test_einsum_subscripts_allowed(subscripts: str) -> None:
    check_action(_fn("numpy.einsum", subscripts, Ref("a"), Ref("b")), None)
    check_action(_fn("torch.einsum", subscripts, Ref("a")), None)


@pytest.mark.parametrize(
    "subscripts", ["ij->ij; import os", "i{0}", "ij-ik", "i__class__"[0:3] + "!", Ref("s")]
)
def test_einsum_subscripts_refused(subscripts: Any) -> None:
    _refused(_fn("numpy.einsum", subscripts, Ref("a")), match="subscripts")
    _refused(_fn("torch.einsum", subscripts, Ref("a")), match="subscripts")


def test_pad_modes() -> None:
    check_action(_fn("numpy.pad", Ref("a"), 1, "reflect"), None)
    _refused(_fn("numpy.pad", Ref("a"), 1, "empty"), match="mode")
    _refused(_fn("numpy.pad", Ref("a"), 1, mode="empty"), match="mode")
    check_action(_fn("torch.nn.functional.pad", Ref("a"), (1, 1)), None)
    _refused(_fn("torch.nn.functional.pad", Ref("a"), (1, 1), "reflect"), match="constant")


def test_unknown_keywords_are_named() -> None:
    message = _refused(_m("sum", frobnicate=1), "ndarray")
    assert "'frobnicate'" in message and "axis" in message


def test_refusals_through_execute_name_the_op() -> None:
    env = {"x": pd.DataFrame({"a": [1.0]})}
    with pytest.raises(OperationNotAllowed, match="dataframe.agg"):
        execute([_m("agg", "to_pickle")], env)
    with pytest.raises(OperationNotAllowed, match="numpy.add"):
        execute([_fn("numpy.add", Ref("x"), lambda v: v)], env)
