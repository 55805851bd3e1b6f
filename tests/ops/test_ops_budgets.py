"""Compute, memory and time budgets: expensive operations, graphs holding too many bytes and
graphs running too long are refused with an error naming the operation and the limit, and
normal workloads are not refused."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import OperationNotAllowed
from unseen.ops import Action, Limits, Ref, execute
from unseen.ops._registry import lookup_function, lookup_method
from unseen.ops._work import work_of


def fn(aid: str, name: str, *args: Any, **kwargs: Any) -> Action:
    return Action(aid, "function", name, args, kwargs)


def meth(aid: str, name: str, *args: Any, **kwargs: Any) -> Action:
    return Action(aid, "method", name, args, kwargs)


def refused(actions: list[Action], env: dict[str, Any], limits: Limits, **kw: Any) -> str:
    with pytest.raises(OperationNotAllowed) as info:
        execute(actions, env, limits=limits, **kw)
    # a run-time refusal names its action, so a node treats it like a failure on private data
    assert getattr(info.value, "action", None) is not None
    return str(info.value)


TINY = Limits(max_work=1e6)


@pytest.mark.parametrize(
    ("name", "args", "op"),
    [
        ("numpy.matmul", (np.ones((200, 200)), np.ones((200, 200))), "numpy.matmul"),
        ("numpy.dot", (np.ones((200, 200)), np.ones((200, 200))), "numpy.dot"),
        ("numpy.tensordot", (np.ones((200, 200)), np.ones((200, 200)), 1), "numpy.tensordot"),
        ("numpy.einsum", ("ij,jk->ik", np.ones((200, 200)), np.ones((200, 200))), "numpy.einsum"),
        ("numpy.linalg.solve", (np.eye(200), np.ones(200)), "numpy.linalg.solve"),
        ("numpy.linalg.inv", (np.eye(200),), "numpy.linalg.inv"),
        ("numpy.linalg.svd", (np.eye(100),), "numpy.linalg.svd"),
        ("numpy.linalg.eigh", (np.eye(100),), "numpy.linalg.eigh"),
        ("numpy.linalg.qr", (np.eye(200),), "numpy.linalg.qr"),
        ("numpy.linalg.pinv", (np.eye(100),), "numpy.linalg.pinv"),
        ("numpy.linalg.det", (np.eye(200),), "numpy.linalg.det"),
        ("numpy.linalg.lstsq", (np.eye(100), np.ones(100)), "numpy.linalg.lstsq"),
        ("numpy.sort", (np.ones(100_000),), "numpy.sort"),
        ("numpy.argsort", (np.ones(100_000),), "numpy.argsort"),
        ("numpy.unique", (np.ones(100_000),), "numpy.unique"),
        ("numpy.quantile", (np.ones(100_000), 0.5), "numpy.quantile"),
        ("numpy.median", (np.ones(100_000),), "numpy.median"),
        ("numpy.percentile", (np.ones(100_000), 50), "numpy.percentile"),
        ("torch.matmul", (torch.ones(200, 200), torch.ones(200, 200)), "torch.matmul"),
        ("torch.linalg.svd", (torch.eye(100),), "torch.linalg.svd"),
        (
            "torch.nn.functional.conv2d",
            (torch.ones(1, 8, 64, 64), torch.ones(8, 8, 3, 3)),
            "torch.nn.functional.conv2d",
        ),
        (
            "torch.nn.functional.conv1d",
            (torch.ones(1, 8, 5000), torch.ones(8, 8, 5)),
            "torch.nn.functional.conv1d",
        ),
    ],
)
def test_expensive_functions_are_refused_above_the_work_budget(
    name: str, args: tuple[Any, ...], op: str
) -> None:
    env = {f"a{i}": v for i, v in enumerate(args) if not isinstance(v, (str, float, int))}
    refs = tuple(Ref(f"a{i}") if f"a{i}" in env else v for i, v in enumerate(args))
    msg = refused([fn("r", name, *refs)], env, TINY)
    assert op in msg and "elementary operations" in msg and "1e+06" in msg
    assert "split the computation" in msg and "code request" in msg
    # within the default budget they run
    execute([fn("r", name, *refs)], env)


def test_methods_pandas_and_cumulative_ops_have_estimates() -> None:
    x = np.ones(300_000)
    df = pd.DataFrame({"k": np.arange(300_000) % 7, "v": x})
    env = {"x": x, "df": df, "m": np.ones((200, 200))}
    assert "ndarray.__matmul__" in refused([meth("r", "__matmul__", Ref("m"), Ref("m"))], env, TINY)
    assert "ndarray.argsort" in refused([meth("r", "argsort", Ref("x"))], env, TINY)
    assert "sort_values" in refused([meth("r", "sort_values", Ref("df"), "v")], env, TINY)
    assert "merge" in refused([meth("r", "merge", Ref("df"), Ref("df"), on="k")], env, TINY)
    msg = refused([meth("g", "groupby", Ref("df"), "k"), meth("r", "sum", Ref("g"))], env, TINY)
    assert "groupby" in msg
    # cumulative ops are linear: the element limit bounds them, not the work budget
    assert work_of(lookup_function("numpy.cumsum")) is None
    assert work_of(lookup_method("ndarray", "sum")) is None
    assert work_of(lookup_method("scalar", "count")) is None


def test_normal_workloads_are_not_refused() -> None:
    a = np.random.default_rng(0).random((1000, 1000))
    big = np.random.default_rng(1).random(10**7)
    start = time.perf_counter()
    out = execute(
        [fn("p", "numpy.matmul", Ref("a"), Ref("a")), fn("s", "numpy.sort", Ref("big"))],
        {"a": a, "big": big},
    )
    assert out["p"].shape == (1000, 1000) and out["s"][0] <= out["s"][-1]
    execute(
        [fn("i", "numpy.linalg.inv", Ref("a")), fn("v", "numpy.linalg.svd", Ref("a"))], {"a": a}
    )
    assert time.perf_counter() - start < 30


def test_a_large_matmul_is_refused_before_it_runs() -> None:
    # 16384x16384 @ 16384x16384: within the element limit, 4.4e12 multiply-adds (minutes).
    # Broadcast views: no memory used.
    m = np.broadcast_to(np.float64(1.0), (16_384, 16_384))
    start = time.perf_counter()
    msg = refused([fn("r", "numpy.matmul", Ref("m"), Ref("m"))], {"m": m}, Limits())
    assert "numpy.matmul would do about 4.4e+12 elementary operations" in msg
    assert "limit of 1e+11" in msg
    m = np.broadcast_to(np.float64(1.0), (20_000, 20_000))
    msg = refused([fn("r", "numpy.matmul", Ref("m"), Ref("m"))], {"m": m}, Limits())
    assert "numpy.matmul" in msg and "limit" in msg
    assert time.perf_counter() - start < 1


def test_a_graph_keeping_many_results_is_refused() -> None:
    limits = Limits(max_graph_bytes=10 * 8 * 100_000)
    env = {"x": np.ones(100_000)}
    actions = [meth(f"r{i}", "__add__", Ref("x"), float(i)) for i in range(20)]
    msg = refused(actions, env, limits)
    assert "ndarray.__add__" in msg and "per graph" in msg and "keep fewer results" in msg
    # the same graph keeping only the last result runs: intermediates are freed
    assert execute(actions, env, keep=["r19"], limits=limits)["r19"][0] == 20.0


def test_an_allocation_is_refused_before_it_would_pass_the_graph_budget() -> None:
    limits = Limits(max_graph_bytes=1_000_000)
    actions = [fn("a", "numpy.zeros", 100_000), fn("b", "numpy.ones", 100_000)]
    msg = refused(actions, {}, limits)
    assert "numpy.ones" in msg and "per graph" in msg


def test_views_of_node_objects_do_not_count_and_views_of_results_count_their_base() -> None:
    limits = Limits(max_graph_bytes=1_000_000)
    env = {"x": np.ones(1_000_000)}  # 8 MB on the node
    execute([meth("v", "reshape", Ref("x"), (1000, 1000))], env, limits=limits)
    actions = [fn("z", "numpy.zeros", 100_000), meth("v", "__getitem__", Ref("z"), slice(0, 1))]
    execute(actions, {}, keep=["v"], limits=limits)  # 800 kB base, under the limit
    actions += [fn("w", "numpy.zeros", 100_000), meth("u", "__getitem__", Ref("w"), slice(0, 1))]
    assert "per graph" in refused(actions, {}, limits, keep=["v", "u"])


def test_a_graph_running_past_its_deadline_is_stopped_between_actions() -> None:
    limits = Limits(max_seconds=0.05)
    env = {"x": np.random.default_rng(0).random(2_000_000)}
    actions = [fn(f"s{i}", "numpy.sort", Ref("x")) for i in range(200)]
    start = time.perf_counter()
    msg = refused(actions, env, limits, keep=[])
    assert "the graph ran past the node's limit of 0.05 s" in msg
    assert time.perf_counter() - start < 5
