"""Cases for every pandas function and DataFrame, Series, Index and GroupBy method.

A method without an explicit case is called on the family's standard input with no arguments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ops_harness import C, Case
from ops_inputs import DF, DF2, DFK, DFL, DFP, GB, IDX, IDX2, SC, SGB, SI, S

from unseen.ops import OpSpec

P = "pandas."
_RECEIVER = {"dataframe": DF, "series": S, "index": IDX, "groupby": GB}

# (family, name) -> cases as (args after the receiver, kwargs); a list of several is allowed.
_ARGS: dict[tuple[str, str], list[tuple[tuple, dict]]] = {}


def _add(families: str, names: str, *args: object, **kwargs: object) -> None:
    for fam in families.split():
        for name in names.split():
            _ARGS.setdefault((fam, name), []).append((args, kwargs))


_add("dataframe series", "head tail", 2)
_add("dataframe series", "round", 1)
_add("dataframe series", "clip", 1, 3)
_add("dataframe series", "shift", 1)
_add("dataframe series", "fillna", 0)
_add("dataframe series", "isin", [1, 2, 1.5])
_add("dataframe series", "replace", 1, 10)
_add("dataframe series", "add sub mul div truediv floordiv mod pow", 2)
_add("dataframe series", "radd rsub rmul rdiv rtruediv rfloordiv rmod rpow", 2)
_add("dataframe", "add", DF, fill_value=0)
_add("dataframe series", "eq ne lt le gt ge", 2)
_add("dataframe series", "astype", "float32")
_add("dataframe", "astype", {"a": "float64"})
_add("dataframe series", "to_numpy")
_add("series", "to_numpy", dtype="float32")
_add("dataframe series", "agg aggregate", "sum")
_add("dataframe series", "agg aggregate", ["sum", "mean"])
_add("dataframe", "agg", {"a": "max", "b": ["min", "count"]})
_add("dataframe series", "quantile", 0.5)
_add("dataframe series", "quantile", [0.25, 0.75])
_add("dataframe", "groupby", "a")
_add("dataframe", "groupby", ["a", "c"], as_index=False)
_add("series", "groupby", level=0)
_add("dataframe", "dot", DF.T)
_add("series", "dot", SI)
_add("dataframe", "drop", columns=["a"])
_add("series", "drop", [0])
_add("dataframe", "rename", columns={"a": "A"})
_add("series", "rename", "z")
_add("dataframe", "sort_values", "b")
_add("dataframe", "sort_values", ["a", "c"], ascending=False)
_add("dataframe", "nlargest nsmallest", 2, "a")
_add("series", "nlargest nsmallest", 2)
_add("dataframe", "select_dtypes", include="number")
_add("dataframe", "set_index", "a")
_add("dataframe", "assign", d=SC)
_add("dataframe", "merge", DF2, on="a")
_add("dataframe", "join", DF2, lsuffix="_l")
_add("dataframe", "melt", id_vars=["a"])
_add("dataframe", "sum mean", axis=1)
_add("dataframe", "sum", axis=None)
_add("series", "corr cov", SC)
_add("series", "between", 1, 3)
_add("index", "drop", [1])
_add("index", "difference union intersection symmetric_difference", IDX2)
_add("index", "fillna", 0)
_add("index", "rename", "n")
_add("index", "astype", "float64")
_add("index", "isin", [1, 2])
_add("index", "get_loc", 3)
_add("groupby", "quantile", 0.5)
_add("groupby", "head tail", 1)
_add("groupby", "agg aggregate", "sum")
_add("groupby", "agg", ["sum", "max"])
_add("groupby", "agg", total=("v", "sum"), top=("w", "max"))
_add("groupby", "transform", "mean")
_ARGS[("dataframe", "where")] = [((DF > 2,), {})]
_ARGS[("dataframe", "mask")] = [((DF > 2,), {"other": 0})]
_ARGS[("series", "where")] = [((S > 1,), {})]
_ARGS[("series", "mask")] = [((S > 1,), {"other": 0.0})]

# Receivers other than the family's standard input.
_RECEIVERS: dict[tuple[str, str], object] = {
    ("series", "item"): pd.Series([5]),
    ("series", "groupby"): DFK["v"],
    ("dataframe", "explode"): DFL,
    ("dataframe", "pivot"): DFP,
    ("dataframe", "pivot_table"): DFP,
    ("groupby", "value_counts"): SGB,
    ("index", "get_loc"): pd.Index([3, 1, 2]),
}
_ARGS[("dataframe", "explode")] = [(("x",), {})]
_ARGS[("dataframe", "pivot")] = [((), {"columns": "c", "index": "i", "values": "v"})]
_ARGS[("dataframe", "pivot_table")] = [
    ((), {"values": "v", "index": "i", "columns": "c", "aggfunc": "sum"}),
    ((), {"values": "v", "index": "i", "aggfunc": ["mean", "max"]}),
]

_FUNCTIONS: list[Case] = [
    C(P + "concat", [DF, DF]),
    C(P + "concat", [S, SC], axis=1),
    C(P + "merge", DF, DF2, on="a"),
    C(P + "merge", DF, DF2, how="left", on="a"),
    C(P + "get_dummies", DFK["k"]),
    C(P + "get_dummies", DFK, dtype="int8"),
    C(P + "cut", S, 3),
    C(P + "cut", SI, [0, 2, 5], labels=False),
    C(P + "qcut", SI, 2),
    C(P + "isna", DF),
    C(P + "notna", S),
    C(P + "to_numeric", pd.Series(["1", "2.5"])),
    C(P + "to_datetime", pd.Series(["2020-01-01", "2021-06-30"])),
    C(P + "unique", SI),
    C(P + "DataFrame", {"x": [1, 2], "y": [0.5, 1.5]}),
    C(P + "DataFrame", np.arange(6).reshape(3, 2), columns=["p", "q"]),
    C(P + "Series", [1, 2, 3], name="n"),
]


def pandas_cases(specs: list[OpSpec]) -> list[Case]:
    """Every pandas case for the given specs."""
    out: list[Case] = [c for c in _FUNCTIONS if any(s.name == c.op for s in specs)]
    for spec in specs:
        fam = spec.family
        if fam not in _RECEIVER or spec.target.startswith("op:"):
            continue
        receiver = _RECEIVERS.get((fam, spec.short), _RECEIVER[fam])
        for args, kwargs in _ARGS.get((fam, spec.short), [((), {})]):
            out.append(C(spec.name, receiver, *args, **kwargs))
    return out
