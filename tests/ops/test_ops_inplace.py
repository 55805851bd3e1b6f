"""The executor reuses a dying intermediate's buffer only when nothing else can see it."""

from __future__ import annotations

import numpy as np

from unseen import ops


def A(i: str, kind: str, name: str, *args: object) -> ops.Action:
    return ops.Action(i, kind, name, tuple(args))  # type: ignore[arg-type]


def test_a_chain_matches_numpy_exactly() -> None:
    x = np.random.default_rng(1).standard_normal(100_000)
    acts, prev = [], "x"
    for i in range(30):
        acts.append(
            A(
                f"s{i}",
                "method",
                ["__add__", "__mul__", "__sub__", "__truediv__"][i % 4],
                ops.Ref(prev),
                1.5,
            )
        )
        prev = f"s{i}"
    got = ops.execute(acts, {"x": x}, keep={prev})[prev]
    want = x
    for i in range(30):
        want = [want + 1.5, want * 1.5, want - 1.5, want / 1.5][i % 4]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        x, np.random.default_rng(1).standard_normal(100_000)
    )  # input untouched


def test_a_live_view_blocks_reuse() -> None:
    x = np.arange(10.0)
    acts = [
        A("t", "method", "__mul__", ops.Ref("x"), 2.0),
        A("v", "method", "__getitem__", ops.Ref("t"), slice(1, None)),
        A("u", "method", "__add__", ops.Ref("t"), 1.0),
    ]
    out = ops.execute(acts, {"x": x}, keep={"v", "u"})
    np.testing.assert_array_equal(out["v"], (x * 2)[1:])
    np.testing.assert_array_equal(out["u"], x * 2 + 1)


def test_dtype_changes_and_broadcasts_are_not_done_in_place() -> None:
    i = np.arange(6).reshape(2, 3)
    acts = [
        A("t", "method", "__mul__", ops.Ref("i"), 2),
        A("u", "method", "__truediv__", ops.Ref("t"), 4),
        A("w", "method", "__add__", ops.Ref("u"), np.ones((4, 2, 3))),
    ]
    out = ops.execute(acts, {"i": i}, keep={"w"})
    np.testing.assert_array_equal(out["w"], i * 2 / 4 + np.ones((4, 2, 3)))
    assert out["w"].dtype == np.float64


def test_kept_results_are_never_overwritten() -> None:
    x = np.arange(5.0)
    acts = [
        A("t", "method", "__add__", ops.Ref("x"), 1.0),
        A("u", "method", "__add__", ops.Ref("t"), 1.0),
    ]
    out = ops.execute(acts, {"x": x}, keep={"t", "u"})
    np.testing.assert_array_equal(out["t"], x + 1)
    np.testing.assert_array_equal(out["u"], x + 2)
