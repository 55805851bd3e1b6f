"""The executor: Ref resolution, keep, freeing, errors, result families."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import NotFound, OperationNotAllowed, UnseenError, UsageError
from unseen.ops import Action, ExecutionError, Ref, execute
from unseen.ops._executor import _plan
from unseen.ops._limits import DEFAULT_LIMITS


def _chain(n: int, start: str = "x", op: str = "__add__", arg: Any = 1.0) -> list[Action]:
    actions, prev = [], start
    for i in range(n):
        actions.append(Action(f"a{i}", "method", op, (Ref(prev), arg)))
        prev = f"a{i}"
    return actions


def test_keep_none_returns_every_result() -> None:
    out = execute(_chain(3), {"x": np.zeros(2)})
    assert list(out) == ["a0", "a1", "a2"]
    np.testing.assert_array_equal(out["a2"], np.full(2, 3.0))


def test_keep_selects_results_and_env_ids() -> None:
    env = {"x": np.zeros(2)}
    out = execute(_chain(3), env, keep={"a1", "x"})
    assert set(out) == {"a1", "x"}
    assert out["x"] is env["x"]
    with pytest.raises(UsageError, match="cannot keep"):
        execute(_chain(3), env, keep={"nope"})


def test_env_is_never_mutated() -> None:
    x = np.arange(4.0)
    env = {"x": x, "unused": np.ones(2)}
    frozen = dict(env)
    execute(_chain(5), env, keep={"a4"})
    assert env == frozen and env["x"] is x
    np.testing.assert_array_equal(x, np.arange(4.0))


def test_refs_nested_in_containers_and_slices() -> None:
    env = {"a": np.arange(6.0), "b": np.ones(6), "n": 2, "df": pd.DataFrame({"v": [1.0, None]})}
    actions = [
        Action("cat", "function", "numpy.concatenate", ([Ref("a"), Ref("b")],), {}),
        Action("st", "function", "numpy.stack", ((Ref("a"), Ref("b")),), {"axis": 1}),
        Action("sl", "method", "__getitem__", (Ref("a"), slice(Ref("n"), None))),
        Action("tu", "method", "__getitem__", (Ref("st"), (slice(None, Ref("n")), 0))),
        Action("fi", "method", "fillna", (Ref("df"), {"v": Ref("n")})),
        Action("as", "method", "assign", (Ref("df"),), {"w": Ref("n")}),
    ]
    out = execute(actions, env)
    np.testing.assert_array_equal(out["cat"], np.concatenate([env["a"], env["b"]]))
    np.testing.assert_array_equal(out["sl"], env["a"][2:])
    np.testing.assert_array_equal(out["tu"], np.stack([env["a"], env["b"]], axis=1)[:2, 0])
    assert out["fi"]["v"].tolist() == [1.0, 2.0]
    assert out["as"]["w"].tolist() == [2, 2]


def test_intermediates_are_freed_after_their_last_use() -> None:
    env = {"x": np.ones(10)}
    steps, _, _ = _plan(_chain(4), env, {"a3"}, DEFAULT_LIMITS)
    assert [s.frees for s in steps] == [("x",), ("a0",), ("a1",), ("a2",)]
    assert [s.store for s in steps] == [True, True, True, True]
    steps, _, _ = _plan(
        _chain(4) + [Action("side", "method", "sum", (Ref("a0"),))], env, {"a3"}, DEFAULT_LIMITS
    )
    assert steps[1].frees == () and steps[4].frees == ("a0",) and steps[4].store is False


def test_memory_stays_at_a_few_arrays_on_a_long_chain() -> None:
    x = np.random.default_rng(0).random(1_000_000)
    size = x.nbytes
    actions = _chain(60, op="__mul__", arg=1.0001)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = execute(actions, {"x": x}, keep={"a59"})
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert out["a59"].shape == x.shape
    print(f"peak {peak / size:.2f} arrays")
    assert peak < 3.2 * size


def test_kept_intermediates_stay_alive() -> None:
    out = execute(_chain(4), {"x": np.zeros(3)}, keep={"a1", "a3"})
    np.testing.assert_array_equal(out["a1"], np.full(3, 2.0))


def test_execution_error_wraps_the_library_exception() -> None:
    action = Action("inv", "function", "numpy.linalg.inv", (Ref("m"),))
    with pytest.raises(ExecutionError) as info:
        execute([action], {"m": np.zeros((2, 2))})
    err = info.value
    assert err.action is action and err.op == "numpy.linalg.inv"
    assert isinstance(err.original, np.linalg.LinAlgError)
    assert not isinstance(err, UnseenError)
    assert "Singular" not in str(err) and "numpy.linalg.inv" in str(err)
    assert err.__cause__ is err.original


def test_malformed_graphs() -> None:
    env = {"x": np.ones(2)}
    with pytest.raises(NotFound, match="'ghost'"):
        execute([Action("y", "method", "sum", (Ref("ghost"),))], env)
    with pytest.raises(UsageError, match="before it is computed"):
        execute(
            [Action("y", "method", "sum", (Ref("z"),)), Action("z", "method", "sum", (Ref("x"),))],
            env,
        )
    with pytest.raises(UsageError, match="twice"):
        execute(
            [Action("y", "method", "sum", (Ref("x"),)), Action("y", "method", "sum", (Ref("x"),))],
            env,
        )
    with pytest.raises(UsageError, match="twice"):
        execute([Action("x", "method", "sum", (Ref("x"),))], env)
    with pytest.raises(UsageError, match="Action"):
        execute(["not an action"], env)  # type: ignore[list-item]
    with pytest.raises(UsageError, match="kind"):
        execute([Action("y", "lambda", "sum", (Ref("x"),))], env)  # type: ignore[arg-type]


def test_unsupported_env_values_are_refused() -> None:
    with pytest.raises(OperationNotAllowed, match="'f'"):
        execute([Action("y", "function", "numpy.add", (Ref("f"), 1))], {"f": print})
    with pytest.raises(OperationNotAllowed, match="object dtype"):
        execute(
            [Action("y", "method", "sum", (Ref("o"),))], {"o": np.array([1, None], dtype=object)}
        )


def test_results_must_have_an_allowed_family() -> None:
    with pytest.raises(OperationNotAllowed, match="numpy.array returned .*ndarray"):
        execute([Action("y", "function", "numpy.array", ([1, "a", None],))], {})
    env = {"s": pd.Series(["a", "b"])}
    with pytest.raises(OperationNotAllowed, match="series.to_numpy"):
        execute([Action("y", "method", "to_numpy", (Ref("s"),))], env)
    out = execute([Action("y", "method", "to_numpy", (Ref("s"),), {"dtype": "U1"})], env)
    assert out["y"].dtype == np.dtype("U1")


def test_receiver_family_is_rechecked_at_run_time() -> None:
    env = {"m": np.eye(3) * 2}
    # value[0] is inferred "scalar" but is an ndarray: the ndarray method still runs ...
    actions = [
        Action("usv", "function", "numpy.linalg.svd", (Ref("m"),)),
        Action("u", "method", "__getitem__", (Ref("usv"), 1)),
        Action("total", "method", "sum", (Ref("u"),)),
    ]
    assert execute(actions, env, keep={"total"})["total"] == 6.0
    # ... and an in-place method of the actual family is refused when reached.
    actions[2] = Action("total", "method", "sort", (Ref("u"),))
    with pytest.raises(OperationNotAllowed, match="'sort'.*in-place"):
        execute(actions, env)


def test_max_actions() -> None:
    from unseen.ops import Limits

    with pytest.raises(OperationNotAllowed, match="limit of 3"):
        execute(_chain(4), {"x": np.ones(1)}, limits=Limits(max_actions=3))


def test_torch_and_pandas_chains() -> None:
    env = {"t": torch.arange(6.0), "df": pd.DataFrame({"k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]})}
    actions = [
        Action("r", "method", "reshape", (Ref("t"), 2, 3)),
        Action("s", "method", "sum", (Ref("r"),), {"dim": 0}),
        Action("n", "method", "numpy", (Ref("s"),)),
        Action("g", "method", "groupby", (Ref("df"), "k")),
        Action("gv", "method", "__getitem__", (Ref("g"), "v")),
        Action("m", "method", "mean", (Ref("gv"),)),
        Action("dfk", "method", "__getitem__", (Ref("df"), "k")),
        Action("mask", "method", "__eq__", (Ref("dfk"), "a")),
        Action("loc", "attr", "loc", (Ref("df"),)),
        Action("row", "method", "__getitem__", (Ref("loc"), (Ref("mask"), "v"))),
    ]
    out = execute(actions, env)
    np.testing.assert_array_equal(out["n"], np.array([3.0, 5.0, 7.0]))
    assert out["m"].to_dict() == {"a": 2.0, "b": 2.0}
    assert out["row"].tolist() == [1.0, 3.0]


def test_an_action_is_checked_once_per_shape_and_a_refusal_is_never_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unseen.ops import _executor

    calls: list[str] = []
    real = _executor.check_action

    def counted(action: Action, family: str | None) -> Any:
        calls.append(action.id)
        return real(action, family)

    monkeypatch.setattr(_executor, "check_action", counted)
    out = execute(_chain(200), {"x": np.zeros(3)})  # one shape: (method __add__, a Ref, 1.0)
    np.testing.assert_array_equal(out["a199"], np.full(3, 200.0))
    assert calls == ["a0"]
    # the same shape but for one argument: checked apart, and refused where it must be
    calls.clear()
    actions = _chain(3) + [Action("b", "method", "__add__", (Ref("a2"), "s" * 100_000))]
    with pytest.raises(OperationNotAllowed):
        execute(actions, {"x": np.zeros(3)})
    assert calls == ["a0", "b"]
    # 1, 1.0 and True are equal keys of a dict: the memo tells them apart by their type
    calls.clear()
    actions = [Action("c0", "method", "__add__", (Ref("x"), 1)),
               Action("c1", "method", "__add__", (Ref("c0"), 1.0)),
               Action("c2", "method", "__add__", (Ref("c1"), True))]  # fmt: skip
    np.testing.assert_array_equal(execute(actions, {"x": np.zeros(3)})["c2"], np.full(3, 3.0))
    assert calls == ["c0", "c1", "c2"]
