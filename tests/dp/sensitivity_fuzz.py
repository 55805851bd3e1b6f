"""The DP sensitivity fuzzer's parts (used by tests/dp/test_sensitivity_fuzz.py and
bench/bench_security.py): random graphs over random tables, and the check that the exact
statistic never moves more between neighbouring tables than the sensitivity the analyser
claims.

A graph is drawn from the DP-releasable vocabulary: column selections (1-D ``x[:, j]`` and
2-D ``x[:, j:j+1]``, ``x[:, [j]]``, DataFrame columns), row slices (public row counts),
filters by a predicate, unary maps, clamps, arithmetic and comparisons with constants and
with other columns (method and ``numpy.*`` forms), ``numpy.where``, row-wise reductions with
and without ``keepdims``; then a statistic (sum, mean, count, a comparison's sum, a
histogram, a per-column sum, a group-by, the whole table). The analyser is the node's:
:func:`unseen.dp.prepare` over leaves from :func:`unseen.dp.source_table`. The statistic is
the exact integer one the node noises (``unseen.dp._evaluate``), without noise, on the table
and on every neighbour the declared privacy unit allows (each row replaced when the row
count is public; each row removed and a row added at each position otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from unseen import dp, ops
from unseen.dp._evaluate import _Data, _statistic
from unseen.store import AssetRecord

NP = "numpy."
BINARY = ("__add__", "__sub__", "__mul__", "__gt__", "__lt__")
FUNCS = ("numpy.add", "numpy.subtract", "numpy.multiply", "numpy.maximum", "numpy.minimum")
UNARY = ("__neg__", "__abs__", "numpy.sqrt", "numpy.square", "numpy.abs", "numpy.floor")


@dataclass
class Source:
    """One random asset: ``kind`` nd2 (n x d array), nd1 (1-D array) or df (DataFrame with a
    categorical ``g`` in {0, 1, 2}); bounds per column; public row count or not."""

    id: str
    kind: str
    cols: int
    bounds: list[tuple[float, float]]
    public: bool
    n: int
    #: rows per person (``max_rows_per_id``) when column 0 is a privacy id (nd2 only), else 1
    k: int = 1

    def meta(self) -> dict[str, Any]:
        if self.kind == "df":
            labels = [f"c{j}" for j in range(self.cols - 1)] + ["g"]
            return {"family": "dataframe", "shape": [self.n, self.cols], "columns": labels}
        if self.kind == "t2":
            return {"family": "tensor", "shape": [self.n, self.cols], "dtype": "torch.float64"}
        shape = [self.n] if self.kind == "nd1" else [self.n, self.cols]
        return {"family": "ndarray", "shape": shape, "dtype": "float64"}

    def record(self) -> AssetRecord:
        return AssetRecord(
            name=self.id,
            object_id=self.id,
            mock_id=None,
            bounds=self.bounds,
            public_rows=self.n if self.public else None,
            categories={"g": [0, 1, 2]} if self.kind == "df" else None,
            privacy_id="0" if self.k > 1 else None,
            max_rows_per_id=self.k,
        )

    def table(self) -> Any:
        return dp.source_table(self.record(), self.meta(), self.id, "F")

    def rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lows = np.array([b[0] for b in self.bounds])
        highs = np.array([b[1] for b in self.bounds])
        values = rng.uniform(lows, highs, size=(n, len(self.bounds)))
        if self.kind == "df":
            values[:, -1] = rng.integers(0, 3, n)
        if self.k > 1:
            values[:, 0] = rng.integers(0, 4, n)
        return values

    def value(self, rows: np.ndarray) -> Any:
        """The asset's value, as the node runs on it (at most ``k`` rows per person)."""
        if self.kind == "df":
            labels = self.meta()["columns"]
            frame = pd.DataFrame(rows, columns=labels)
            frame["g"] = frame["g"].astype(np.int64)
            return frame
        if self.kind == "t2":
            import torch

            return torch.as_tensor(rows, dtype=torch.float64)
        if self.k > 1:
            from unseen.node._dp import _per_id

            return _per_id(rows, self.record())
        return rows[:, 0].copy() if self.kind == "nd1" else rows


@dataclass
class Value:
    """What the generator knows of a value it built (to pick plausible next steps; the
    analyser is not told any of it)."""

    ref: ops.Ref
    kind: str  # nd2, nd1, df, series
    cols: int
    labels: tuple[str, ...] = ()


@dataclass
class Graph:
    actions: list[ops.Action] = field(default_factory=list)

    def add(self, kind: str, name: str, *args: Any, **kwargs: Any) -> ops.Ref:
        aid = f"a{len(self.actions)}"
        self.actions.append(ops.Action(aid, kind, name, tuple(args), dict(kwargs)))  # type: ignore[arg-type]
        return ops.Ref(aid)


class Builder:
    """Draws one graph with ``draw`` (hypothesis' ``data.draw`` or a seeded stand-in)."""

    def __init__(self, draw: Any, source: Source) -> None:
        self.draw, self.source, self.graph = draw, source, Graph()
        self.torch = source.kind == "t2"

    def fn(self, name: str) -> str:
        """``numpy.add`` or its torch spelling on a tensor source."""
        if not self.torch:
            return name
        short = name.split(".", 1)[1]
        return "torch." + {"subtract": "sub", "multiply": "mul"}.get(short, short)

    def pick(self, options: Any) -> Any:
        from hypothesis import strategies as st

        return self.draw(st.sampled_from(list(options)))

    def integer(self, low: int, high: int) -> int:
        from hypothesis import strategies as st

        return int(self.draw(st.integers(low, high)))

    def leaf(self) -> Value:
        s = self.source
        ref = ops.Ref(s.id)
        if s.kind == "df":
            return Value(ref, "df", s.cols, tuple(s.meta()["columns"]))
        return Value(ref, s.kind, 1 if s.kind == "nd1" else s.cols)

    def column(self, v: Value) -> Value:
        """A one-column selection: 1-D or 2-D, by each spelling."""
        g = self.graph
        if v.kind == "df":
            if not v.labels:
                return v
            label = self.pick(v.labels)
            if self.pick((True, False)):
                return Value(g.add("method", "__getitem__", v.ref, label), "series", 1)
            return Value(g.add("method", "__getitem__", v.ref, [label]), "df", 1, (label,))
        if v.kind in ("nd1", "series", "t1"):
            return v
        j = self.integer(0, v.cols - 1)
        form = self.pick(("int", "slice", "list"))
        one, two = ("t1", "t2") if self.torch else ("nd1", "nd2")
        if form == "int":
            return Value(g.add("method", "__getitem__", v.ref, (slice(None), j)), one, 1)
        key = slice(j, j + 1) if form == "slice" else [j]
        return Value(g.add("method", "__getitem__", v.ref, (slice(None), key)), two, 1)

    def rows(self, v: Value) -> Value:
        """The same value, maybe row-sliced (public rows) or filtered by a predicate."""
        g = self.graph
        choice = self.pick(("none", "slice", "filter"))
        if choice == "slice" and self.source.public:
            a = self.integer(0, 3)
            return Value(g.add("method", "__getitem__", v.ref, slice(a, None)), v.kind, v.cols,
                         v.labels)  # fmt: skip
        if choice == "filter":
            if v.kind == "df":
                col = g.add("method", "__getitem__", v.ref, self.pick(v.labels))
            elif v.kind in ("nd2", "t2"):
                j = self.integer(0, v.cols - 1)
                col = g.add("method", "__getitem__", v.ref, (slice(None), j))
            else:
                col = v.ref
            mask = g.add("method", "__gt__", col, self.integer(0, 5))
            return Value(g.add("method", "__getitem__", v.ref, mask), v.kind, v.cols, v.labels)
        return v

    def unary(self, v: Value) -> Value:
        g = self.graph
        op = self.pick((*UNARY, "clip", "none", "none"))
        if op == "none":
            return v
        if op == "clip":
            low = self.integer(-2, 3)
            ref = g.add("method", "clip", v.ref, low, low + self.integer(1, 6))
        elif op.startswith(NP):
            ref = g.add("function", self.fn(op), v.ref)
        else:
            ref = g.add("method", op, v.ref)
        return Value(ref, v.kind, v.cols, v.labels)

    def operand(self, base: Value, depth: int) -> Value:
        if depth <= 0 or self.pick((True, True, False)):
            return self.unary(self.column(base) if self.pick((True, True, False)) else base)
        return self.expression(base, depth - 1)

    def expression(self, base: Value, depth: int) -> Value:
        """A value computed row by row (or not: the analyser must tell) from ``base``."""
        g = self.graph
        form = self.pick(("binary", "binary", "function", "function", "const", "where", "where",
                          "rowwise", "unary"))  # fmt: skip
        if form in ("binary", "function"):
            left, right = self.operand(base, depth), self.operand(base, depth)
            if form == "binary":
                ref = g.add("method", self.pick(BINARY), left.ref, right.ref)
            else:
                ref = g.add("function", self.fn(self.pick(FUNCS)), left.ref, right.ref)
            wide = left if left.cols >= right.cols else right
            return Value(ref, wide.kind if wide.kind != "series" else left.kind, wide.cols,
                         wide.labels)  # fmt: skip
        if form == "const":
            v = self.operand(base, depth)
            const = self.pick((0, 1, 2.5, -3))
            name = self.pick(("__add__", "__mul__", "__rsub__", "__gt__"))
            if not self.torch and self.pick((True, False, False)):
                return Value(g.add("function", "numpy.add", const, v.ref), v.kind, v.cols,
                             v.labels)  # fmt: skip
            return Value(g.add("method", name, v.ref, const), v.kind, v.cols, v.labels)
        if form == "where":
            cond = g.add("method", "__gt__", self.operand(base, depth).ref, self.integer(0, 5))
            x = self.operand(base, depth)
            y = self.operand(base, depth).ref if self.pick((True, False)) else 0.0
            ref = g.add("function", self.fn("numpy.where"), cond, x.ref, y)
            return Value(ref, "nd1" if x.kind == "series" else x.kind, x.cols)
        if form == "rowwise" and base.kind == "t2":
            ref = g.add("method", self.pick(("sum", "mean")), base.ref, dim=1)
            return Value(ref, "t1", 1)
        if form == "rowwise" and base.kind == "nd2":
            keep = self.pick((True, False))
            name = self.pick(("sum", "mean", "max"))
            ref = g.add("method", name, base.ref, axis=1, keepdims=keep)
            return Value(ref, "nd2" if keep else "nd1", 1)
        return self.unary(self.column(base))

    def statistic(self, v: Value) -> ops.Ref:
        g = self.graph
        if v.kind == "df" and "g" in v.labels and self.pick((True, False)):
            grouped = g.add("method", "groupby", v.ref, "g")
            other = [lab for lab in v.labels if lab != "g"]
            if other and self.pick((True, False)):
                grouped = g.add("method", "__getitem__", grouped, self.pick(other))
            return g.add("method", self.pick(("sum", "mean", "size", "count")), grouped)
        kind = self.pick(("sum", "mean", "count", "gt", "hist", "axis0", "table"))
        if kind == "table":
            return v.ref
        if kind == "hist":
            col = self.column(v) if v.kind in ("nd2", "df", "t2") else v
            if self.torch:
                return g.add("function", "torch.histc", col.ref, bins=self.integer(1, 6),
                             min=-5, max=15)  # fmt: skip
            return g.add("function", "numpy.histogram", col.ref, bins=self.integer(1, 6),
                         range=(-5, 15))  # fmt: skip
        if kind == "gt":
            return g.add("method", "sum", g.add("method", "__gt__", v.ref, self.integer(0, 6)))
        if kind == "axis0":
            if self.torch:
                return g.add("method", "sum", v.ref, dim=0)
            return g.add("method", "sum", v.ref, axis=0)
        if kind == "count" and v.kind not in ("df", "series"):
            kind = "sum"
        return g.add("method", kind, v.ref)


def draw_case(draw: Any) -> tuple[Source, list[ops.Action], str, int]:
    """A random source, a graph over it, its target, and a seed for the table's values."""
    from hypothesis import strategies as st

    kind = draw(st.sampled_from(["nd2", "nd2", "nd2", "nd1", "df", "df", "t2", "pid"]))
    k = draw(st.integers(2, 3)) if kind == "pid" else 1
    kind = "nd2" if kind == "pid" else kind
    cols = 1 if kind == "nd1" else draw(st.integers(2 if kind == "df" or k > 1 else 1, 3))
    bounds = []
    for _ in range(cols):
        low = draw(st.sampled_from([-4.0, 0.0, 1.0]))
        bounds.append((low, low + draw(st.sampled_from([1.0, 5.0, 10.0]))))
    if kind == "df":
        bounds[-1] = (0.0, 2.0)
    if k > 1:
        bounds[0] = (0.0, 9.0)
    n = draw(st.integers(2, 7))
    source = Source("src", kind, cols, bounds, k == 1 and draw(st.booleans()), n, k)
    builder = Builder(draw, source)
    base = builder.rows(builder.leaf())
    value = builder.expression(base, draw(st.integers(0, 2)))
    target = builder.statistic(value)
    return source, builder.graph.actions, target.id, draw(st.integers(0, 2**31))


@dataclass
class Outcome:
    refused: bool = False
    failed: bool = False
    checked: int = 0
    violation: str | None = None


def _stats(release: Any, value: Any) -> list[np.ndarray]:
    query = release.query
    data = _Data(query, value)
    return [
        np.asarray(_statistic(p, data, query), dtype=np.float64).reshape(-1)
        for p in release.plan.parts
        if p.stat != "quantile"
    ]


def _input(actions: list[ops.Action], query_input: str, env: dict[str, Any]) -> Any:
    if query_input in env:
        return env[query_input]
    return ops.execute(actions, env, keep={query_input})[query_input]


def neighbours(source: Source, rows: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Every neighbour of ``rows`` under the source's privacy unit: one row replaced (public
    row count) or removed and inserted at each position (otherwise), by the all-low and the
    all-high corner of the bounds and a random row (the worst cases of a sensitivity are at
    the bounds); with a privacy id, every row of one person removed, or a new person's
    ``k + 1`` rows (the node keeps ``k``) inserted."""
    lows = np.array([b[0] for b in source.bounds])
    highs = np.array([b[1] for b in source.bounds])
    n = len(rows)
    out = []
    if source.k > 1:
        for person in np.unique(rows[:, 0]):
            out.append(rows[rows[:, 0] != person])
        for corner in (lows, highs, None):
            added = rows
            for _ in range(source.k + 1):
                row = source.rows(rng, 1)[0] if corner is None else corner.copy()
                row[0] = 9.0  # an id no one has
                added = np.insert(added, int(rng.integers(0, len(added) + 1)), row, axis=0)
            out.append(added)
        return out
    for j in range(n + 1):
        for fresh in (lows, highs, source.rows(rng, 1)[0]):
            if source.public and j < n:
                changed = rows.copy()
                changed[j] = fresh
                out.append(changed)
            elif not source.public:
                out.append(np.insert(rows, j, fresh, axis=0))
        if not source.public and j < n:
            out.append(np.delete(rows, j, axis=0))
    return out


def check_case(source: Source, actions: list[ops.Action], target: str, seed: int) -> Outcome:
    """Analyse; if releasable, compare each exact statistic on the table and on every
    neighbour with the claimed L1 sensitivity (and the claimed shape, where checked)."""
    try:
        release = dp.prepare(actions, {source.id: source.table()}, target, 1.0, None)
    except unseen_refusals():
        return Outcome(refused=True)
    rng = np.random.default_rng(seed)
    rows = source.rows(rng, source.n)
    query = release.query
    parts = [p for p in release.plan.parts if p.stat != "quantile"]
    try:
        base_value = _input(actions, query.input, {source.id: source.value(rows)})
        base = _stats(release, base_value)
    except Exception:
        return Outcome(failed=True)
    outcome = Outcome()
    check = getattr(dp, "check_executed", None)
    for other in [rows, *neighbours(source, rows, rng)]:
        try:
            value = _input(actions, query.input, {source.id: source.value(other)})
            stats = _stats(release, value)
        except Exception:
            continue
        if check is not None:
            try:
                check(query, value, len(source.value(other)))
            except Exception:
                outcome.violation = (
                    f"the analysis claims a shape the executed value does not have: "
                    f"{query.description} on {type(value).__name__}{getattr(value, 'shape', '')}"
                )
                return outcome
        for part, a, b in zip(parts, base, stats):
            outcome.checked += 1
            moved = float(np.abs(a - b).sum()) if a.shape == b.shape else float("inf")
            if other is not rows and moved > part.l1 * (1 + 1e-9) + 1e-9:
                outcome.violation = (
                    f"{part.stat} of {query.description} moved by {moved:g} between "
                    f"neighbours, claimed sensitivity {part.l1:g} (grid units)"
                )
                return outcome
    return outcome


def unseen_refusals() -> tuple[type[BaseException], ...]:
    from unseen.dp._query import NotTrackable
    from unseen.errors import UnseenError

    return (NotTrackable, UnseenError)


def describe(actions: list[ops.Action], target: str) -> str:
    """The graph as Python-like lines (for a failure message)."""
    lines = []
    for a in actions:
        args = ", ".join(repr(x) for x in a.args)
        kwargs = "".join(f", {k}={v!r}" for k, v in a.kwargs.items())
        lines.append(f"{a.id} = {a.name}({args}{kwargs})")
    return "\n".join(lines + [f"target: {target}"])
