"""Per-action overhead: a long elementwise chain runs at numpy speed; tiny actions dispatch fast."""

from __future__ import annotations

import time

import numpy as np

from unseen.ops import Action, Ref, execute

_OPS = ("__add__", "__mul__", "__sub__", "__truediv__")
_C = 1.0001


def _chain(n: int) -> list[Action]:
    actions, prev = [], "x"
    for i in range(n):
        actions.append(Action(f"a{i}", "method", _OPS[i % 4], (Ref(prev), _C)))
        prev = f"a{i}"
    return actions


def _numpy_loop(x: np.ndarray, n: int) -> np.ndarray:
    y = x
    for i in range(n):
        op = i % 4
        if op == 0:
            y = y + _C
        elif op == 1:
            y = y * _C
        elif op == 2:
            y = y - _C
        else:
            y = y / _C
    return y


def _best(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_elementwise_chain_is_within_numpy_speed() -> None:
    x = np.random.default_rng(0).random(1_000_000)
    actions = _chain(100)
    got = execute(actions, {"x": x}, keep={"a99"})["a99"]
    np.testing.assert_array_equal(got, _numpy_loop(x, 100))
    ratios = []
    for _ in range(3):
        t_exec = _best(lambda: execute(actions, {"x": x}, keep={"a99"}), 3)
        t_numpy = _best(lambda: _numpy_loop(x, 100), 3)
        ratios.append(t_exec / t_numpy)
    print(f"execute / numpy on a 100-op chain of 1e6 float64: {min(ratios):.3f}")
    assert min(ratios) < 1.6


def test_ten_thousand_tiny_actions_dispatch_fast() -> None:
    actions = [
        Action(f"t{i}", "method", "__add__", (Ref(f"t{i - 1}" if i else "s"), 1))
        for i in range(10_000)
    ]
    assert execute(actions, {"s": 0}, keep={"t9999"})["t9999"] == 10_000
    elapsed = _best(lambda: execute(actions, {"s": 0}, keep={"t9999"}), 3)
    print(f"10,000 tiny actions (validate + run): {elapsed * 1000:.1f} ms")
    assert elapsed < 0.2
