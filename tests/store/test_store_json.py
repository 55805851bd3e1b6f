"""The JSON columns give back exactly the types they were given (a property test)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unseen.errors import UsageError
from unseen.store._sql_json import from_tagged, to_tagged

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=20)
)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner), max_leaves=5)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(hashables, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["~t", "~d", "~fs"]), inner, max_size=4
        )
        | st.dictionaries(hashables, inner, max_size=3)
    ),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return a == b and all(any(same(x, y) for y in b) for x in a)
    if isinstance(a, dict):
        return a == b and all(same(v, b[k]) for k, v in a.items())
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(values)
def test_tagged_json_round_trips_exactly(value: Any) -> None:
    text = json.dumps(to_tagged(value), allow_nan=False)
    assert same(from_tagged(json.loads(text)), value)


def test_non_finite_floats_and_numpy_scalars() -> None:
    for value in (float("nan"), float("inf"), -float("inf")):
        back = from_tagged(json.loads(json.dumps(to_tagged(value), allow_nan=False)))
        assert repr(back) == repr(value)
    assert from_tagged(to_tagged({"n": np.int64(3), "f": np.float32(0.5)})) == {"n": 3, "f": 0.5}
    with pytest.raises(UsageError):
        to_tagged({"x": object()})
