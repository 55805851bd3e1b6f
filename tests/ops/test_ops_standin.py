"""Stand-ins (unseen/ops/_standin.py) and ``execute(..., on_failure="continue")``: a failed
action on private data is replaced by a value of the same family, shape and dtype holding no
data, every later action runs on it, and the first failure is raised at the end. The work
done (measured as peak memory, which unlike time is exact) does not depend on whether an
action failed; a planted "skip after failure" executor is caught by the same check."""

from __future__ import annotations

import collections
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import OperationNotAllowed
from unseen.ops import FAMILIES, Action, ExecutionError, Limits, Ref, execute, family_of, standin
from unseen.ops._standin import ZERO, fallback

SECRET = 7314159.0


def fn(aid: str, name: str, *args: Any, **kwargs: Any) -> Action:
    return Action(aid, "function", name, args, kwargs)


def meth(aid: str, name: str, *args: Any, **kwargs: Any) -> Action:
    return Action(aid, "method", name, args, kwargs)


# -- standin on every family ---------------------------------------------------------------
def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": np.arange(5.0) + SECRET,
            "n": np.arange(5),
            "name": [f"s{SECRET}"] * 5,
            "cat": pd.Categorical(["a", "b", "a", "b", "a"]),
            "nullable": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "when": pd.date_range("2024-01-01", periods=5),
        },
        index=pd.Index([f"id{i}" for i in range(5)], name="pid"),
    )


SAMPLES: dict[str, list[Any]] = {
    "ndarray": [
        np.arange(12.0).reshape(3, 4) + SECRET,
        np.arange(6, dtype=np.int32),
        np.array([True, False]),
        np.array([1 + 2j]),
        np.array(["secret", "x"]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.float32(SECRET),
        np.int64(7),
    ],
    "tensor": [
        torch.arange(6.0).reshape(2, 3) + SECRET,
        torch.tensor([1, 2], dtype=torch.int16),
        torch.tensor([True]),
    ],
    "dataframe": [_frame()],
    "series": [_frame()["x"], _frame()["name"], _frame()["cat"], _frame()["nullable"]],
    "index": [_frame().index, pd.RangeIndex(4), pd.Index([SECRET, 1.0])],
    "groupby": [_frame().groupby("cat", observed=True), _frame().groupby("n")["x"]],
    "indexer": [_frame().loc, _frame().iloc, _frame()["x"].iat],
    "scalar": [SECRET, 7, True, 1j, "secret"],
    "value": [
        [SECRET, 2.0],
        (np.arange(3.0) + SECRET, "s"),
        {"a": SECRET, "b": [np.ones(2)]},
        torch.Size([2, 3]),
        torch.max(torch.arange(6.0).reshape(2, 3) + SECRET, dim=1),
        np.linalg.svd(np.eye(2) * SECRET),
    ],
}


def test_every_family_has_samples() -> None:
    assert set(SAMPLES) == set(FAMILIES)


def _flat(value: Any) -> list[Any]:
    """The arrays, tensors, pandas objects and scalars inside a value."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        return [x for v in value for x in _flat(v)]
    return [value]


def _holds_no_data(value: Any) -> None:
    for part in _flat(value):
        if isinstance(part, pd.DataFrame):
            for i in range(part.shape[1]):
                _holds_no_data(part.iloc[:, i])
        elif isinstance(part, pd.RangeIndex):  # 0, 1, ...: its length only
            assert part.start == 0 and part.step == 1
        elif isinstance(part, (pd.Series, pd.Index)):
            values = part.astype(object).tolist()
            assert all(
                v in (0, "", False) or pd.isna(v) or str(v).startswith("1970") for v in values
            )
        elif isinstance(part, torch.Tensor):
            assert not part.any()
        elif isinstance(part, (np.ndarray, np.generic)):
            assert not np.any(part.astype(bool)) if part.dtype.kind != "M" else True
        elif isinstance(part, (bool, int, float, complex, str)):
            assert not part
        assert "7314159" not in repr(part)


def _same_layout(a: Any, b: Any) -> None:
    """Same family, and for each part the same type, shape, dtype(s) and labels."""
    assert family_of(a) == family_of(b)
    for x, y in zip(_flat(a), _flat(b), strict=True):
        assert type(x) is type(y)
        names = (
            ("shape", "dtypes", "columns", "index")
            if isinstance(x, pd.DataFrame)
            else ("shape", "dtype", "index", "name")
        )
        for attr in names:
            if hasattr(x, attr) and not callable(getattr(x, attr)):
                left, right = getattr(x, attr), getattr(y, attr)
                if isinstance(left, (pd.Index, pd.Series)):
                    assert left.equals(right), attr
                else:
                    assert left == right, attr


@pytest.mark.parametrize(
    "family,value",
    [(f, v) for f, values in SAMPLES.items() for v in values],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_a_standin_has_the_layout_and_none_of_the_data(family: str, value: Any) -> None:
    fake = standin(value)
    assert family_of(fake) == family
    if family == "groupby":
        assert fake.ngroups <= value.ngroups and fake.obj.shape == value.obj.shape
        _holds_no_data(fake.obj if isinstance(fake.obj, pd.Series) else fake.obj["x"])
        return
    if family == "indexer":
        assert fake.name == value.name and fake.obj.shape == value.obj.shape
        return
    _same_layout(fake, value)
    _holds_no_data(fake)
    for x, y in zip(_flat(fake), _flat(value), strict=True):  # nothing shared with the data
        if isinstance(x, np.ndarray):
            assert not np.shares_memory(x, y)
        if isinstance(x, torch.Tensor):
            assert x.data_ptr() != y.data_ptr()


def test_anything_else_stands_in_as_zero_and_fallback_takes_the_first_array() -> None:
    assert standin(object()) is ZERO
    assert fallback("inv", ["x", 3, np.ones((2, 3), dtype=np.int8)], {}, 100).shape == (2, 3)
    assert fallback("inv", ["x", 3], {}, 100) is ZERO


@pytest.mark.parametrize(
    "name,args,kwargs,shape",
    [
        ("reshape", [np.ones(5, np.float32), (3, 2)], {}, (3, 2)),
        ("reshape", [np.ones(5), 3, -1], {}, (3, 1)),
        ("reshape", [np.ones(8), (2, -1)], {}, (2, 4)),
        ("reshape", [np.ones(5)], {"shape": (6,)}, (6,)),
        ("broadcast_to", [np.ones(5), (4, 6)], {}, (4, 6)),
        ("view", [torch.ones(5, dtype=torch.int16), 2, 3], {}, (2, 3)),
        ("expand", [torch.ones(5), torch.Size([3, 5])], {}, (3, 5)),
    ],
)
def test_a_failed_reshape_stands_in_with_the_shape_it_asked_for(
    name: str, args: list[Any], kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    fake = fallback(name, args, kwargs, 1000)
    assert tuple(fake.shape) == shape and fake.dtype == args[0].dtype and not fake.any()


def test_a_reshape_fallback_stays_within_the_element_limit() -> None:
    assert fallback("reshape", [np.ones(5), (10**6, 10**6)], {}, 2**28).shape == (5,)
    assert fallback("reshape", [np.ones(5), (2, "x")], {}, 100).shape == (5,)


# -- the executor going on after a failure ---------------------------------------------------
N = 400


def gate(threshold: float) -> list[Action]:
    """pick = arange(3)[10 * (x[0] > threshold)]: an IndexError when x[0] > threshold; then
    work that depends on it: (ones((N, N)) * pick) @ ones((N, N))."""
    return [
        meth("first", "__getitem__", Ref("x"), 0),
        meth("above", "__gt__", Ref("first"), threshold),
        meth("idx", "astype", Ref("above"), "int64"),
        meth("far", "__mul__", Ref("idx"), 10),
        fn("small", "numpy.arange", 3.0),
        meth("pick", "__getitem__", Ref("small"), Ref("far")),
        fn("big", "numpy.ones", (N, N)),
        meth("scaled", "__mul__", Ref("big"), Ref("pick")),
        meth("prod", "__matmul__", Ref("scaled"), Ref("big")),
        meth("out", "sum", Ref("prod")),
    ]


ENV = {"x": np.array([SECRET, 1.0])}


def run(threshold: float, on_failure: Any = "continue") -> tuple[dict[str, Any], Exception | None]:
    try:
        return execute(gate(threshold), ENV, keep=["prod", "out"], on_failure=on_failure), None
    except (ExecutionError, OperationNotAllowed) as exc:
        return getattr(exc, "results", {}), exc


def test_dependent_steps_run_on_a_standin_and_the_first_failure_is_raised_at_the_end() -> None:
    ok, none = run(SECRET + 1)
    assert none is None and ok["out"] == 0.0  # arange(3)[0] == 0
    results, exc = run(SECRET - 1)
    assert isinstance(exc, ExecutionError) and exc.action.id == "pick"
    assert str(exc) == "__getitem__ failed: IndexError" and isinstance(exc.original, IndexError)
    assert results["prod"].shape == ok["prod"].shape and results["prod"].dtype == np.float64
    assert not results["prod"].any() and results["out"] == 0.0
    _, raised = run(SECRET - 1, on_failure="raise")
    assert type(raised) is type(exc) and str(raised) == str(exc)


def peak_bytes(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def same_work(on_failure: str) -> bool:
    """Does the failing run allocate what the succeeding one does (within 20 %)?"""
    ok = peak_bytes(lambda: run(SECRET + 1, on_failure))
    failing = peak_bytes(lambda: run(SECRET - 1, on_failure))
    assert ok > 2 * N * N * 8  # the heavy part ran on success
    return 0.8 < failing / ok < 1.2


def test_the_work_done_does_not_depend_on_the_failure() -> None:
    assert same_work("continue")


def test_a_planted_skip_after_failure_is_caught() -> None:
    """The executor stopping at the failure (what "raise" does, and every node did before)
    skips the heavy work: the same check sees it."""
    assert not same_work("raise")


def test_an_action_that_fails_on_the_standin_too_is_replaced_by_its_receivers_standin() -> None:
    """inv of a singular matrix fails on zeros too: its receiver's stand-in has its shape."""
    actions = [
        meth("m", "__mul__", Ref("x"), 0.0),
        fn("inverse", "numpy.linalg.inv", Ref("m")),
        meth("more", "__add__", Ref("inverse"), 1.0),
    ]
    with pytest.raises(ExecutionError) as info:
        execute(actions, {"x": np.eye(3) * SECRET}, keep=["more"], on_failure="continue")
    more = info.value.results["more"]  # type: ignore[attr-defined]
    assert more.shape == (3, 3) and (more == 1.0).all()


def shaped_gate(keep_rows: int) -> tuple[list[Action], dict[str, Any]]:
    """rows = x[mask]; grid = rows.reshape((3, 2)) (fails unless 6 rows pass, also on the
    stand-in); then (grid @ ones((2, N))) @ ones((N, N))."""
    actions = [
        meth("rows", "__getitem__", Ref("x"), Ref("mask")),
        meth("grid", "reshape", Ref("rows"), (3, 2)),
        fn("wide", "numpy.ones", (2, N)),
        fn("big", "numpy.ones", (N, N)),
        meth("left", "__matmul__", Ref("grid"), Ref("wide")),
        meth("prod", "__matmul__", Ref("left"), Ref("big")),
        fn("outer", "numpy.outer", Ref("prod"), Ref("prod")),
    ]
    mask = np.zeros(8, dtype=bool)
    mask[:keep_rows] = True
    return actions, {"x": np.arange(8.0) + SECRET, "mask": mask}


def test_a_reshape_that_fails_on_the_standin_too_still_does_the_dependent_work() -> None:
    def go(rows: int) -> Any:
        actions, env = shaped_gate(rows)
        try:
            return execute(actions, env, keep=["outer"], on_failure="continue")["outer"]
        except ExecutionError as exc:
            return exc.results["outer"]  # type: ignore[attr-defined]

    assert go(5).shape == go(6).shape == (3 * N, 3 * N)
    ok, failing = peak_bytes(lambda: go(6)), peak_bytes(lambda: go(5))
    assert 0.8 < failing / ok < 1.2


def test_a_value_dependent_refusal_goes_on_too() -> None:
    """numpy.zeros(private count) over the element limit: a refusal at run time, then the
    dependent steps on the stand-in (zeros(0))."""
    actions = [
        meth("count", "astype", Ref("x"), "int64"),
        fn("zeros", "numpy.zeros", Ref("count")),
        meth("total", "sum", Ref("zeros")),
    ]
    with pytest.raises(OperationNotAllowed) as info:
        execute(actions, {"x": np.int64(10**12)}, keep=["total"], on_failure="continue")
    assert getattr(info.value, "action", None) is not None
    assert info.value.results == {"total": 0.0}  # type: ignore[attr-defined]


def test_standins_stay_within_the_memory_limit() -> None:
    """A failed step whose stand-in would hold more than the graph may: a float64 zero."""
    limits = Limits(max_graph_bytes=1_000_000)
    actions = [
        fn("big", "numpy.zeros", (300, 300)),  # 720 kB
        fn("bad", "numpy.linalg.inv", Ref("big")),  # singular; its receiver's stand-in: 720 kB
        meth("next", "__add__", Ref("bad"), 1.0),
    ]
    with pytest.raises(ExecutionError) as info:
        execute(actions, {}, keep=["big", "next"], limits=limits, on_failure="continue")
    assert info.value.results["next"] == 1.0  # type: ignore[attr-defined]


def test_standins_of_inputs_count_against_the_memory_limit() -> None:
    """Stand-ins of a failed step's inputs live while it runs again: if they would take the
    graph over its memory limit, the step stands in as a float64 zero, without running."""
    limits = Limits(max_graph_bytes=1_000_000)
    env = {"x": np.ones(180_000, dtype=np.int32), "i": np.int64(10**6)}  # 720 kB, on the node
    actions = [
        fn("held", "numpy.ones", 80_000, dtype="int32"),  # 320 kB the graph holds
        meth("bad", "__getitem__", Ref("x"), Ref("i")),  # out of range; x's stand-in: 720 kB
        meth("next", "__add__", Ref("bad"), Ref("held")),
    ]
    with pytest.raises(ExecutionError) as info:
        execute(actions, env, keep=["next"], limits=limits, on_failure="continue")
    assert info.value.results["next"].dtype == np.float64  # type: ignore[attr-defined]
    with pytest.raises(ExecutionError) as info:  # within the limit: run on stand-ins, an int32
        execute(actions, env, keep=["next"], on_failure="continue")
    assert info.value.results["next"].dtype == np.int32  # type: ignore[attr-defined]


def test_the_deadline_still_stops_a_graph_at_once() -> None:
    limits = Limits(max_seconds=0.05)
    env = {"x": np.random.default_rng(0).random(2_000_000)}
    actions = [meth("bad", "reshape", Ref("x"), (7, 7))]
    actions += [fn(f"s{i}", "numpy.sort", Ref("x")) for i in range(200)]
    with pytest.raises(OperationNotAllowed, match="ran past the node's limit"):
        execute(actions, env, keep=[], limits=limits, on_failure="continue")


def test_on_failure_is_checked_and_raise_is_the_default() -> None:
    with pytest.raises(Exception, match="on_failure"):
        execute([], {}, on_failure="ignore")  # type: ignore[arg-type]
    with pytest.raises(ExecutionError) as info:
        execute(gate(SECRET - 1), ENV, keep=["out"])
    assert not hasattr(info.value, "results")


def test_named_result_tuples_keep_their_type() -> None:
    result = torch.max(torch.ones(2, 3), dim=1)
    assert type(standin(result)) is type(result)
    point = collections.namedtuple("point", "x y")(SECRET, np.ones(2))
    fake = standin(point)
    assert type(fake) is type(point) and fake.x == 0.0 and fake.y.shape == (2,)
    assert not fake.y.any()
