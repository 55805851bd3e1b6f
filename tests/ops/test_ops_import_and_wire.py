"""Importing unseen.ops stays light; Ref and Action travel through serde."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from unseen.messages import setup
from unseen.ops import Action, Ref

_PROBE = """
import sys
import unseen.ops as ops
ops.lookup_function("torch.nn.functional.relu")
ops.lookup_method("dataframe", "groupby")
ops.methods_of("tensor"), ops.functions_of("pandas")
ops.check_action(ops.Action("y", "function", "torch.relu", (ops.Ref("x"),)), None)
ops.render([ops.Action("y", "method", "sum", (ops.Ref("x"),))])
heavy = sorted(m for m in ("torch", "pandas") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_import_does_not_load_torch_or_pandas() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "none", result.stdout + result.stderr


def test_ref_and_action_round_trip_through_serde() -> None:
    serde = pytest.importorskip("unseen.serde")
    setup()  # registers Ref and Action with serde (nothing registers at import)
    action = Action(
        "a1",
        "method",
        "__getitem__",
        (Ref("x"), (slice(Ref("n"), None), Ellipsis, [1, 2])),
        {"k": {"nested": (Ref("y"), np.ones(3)), "dtype": torch.float32}},
    )
    back = serde.decode(serde.encode([action, Ref("z")]))
    assert back[1] == Ref("z")
    got = back[0]
    assert (got.id, got.kind, got.name) == ("a1", "method", "__getitem__")
    assert got.args == action.args
    assert got.kwargs["k"]["nested"][0] == Ref("y")
    np.testing.assert_array_equal(got.kwargs["k"]["nested"][1], np.ones(3))
    assert got.kwargs["k"]["dtype"] is torch.float32


def test_malformed_actions_do_not_decode() -> None:
    serde = pytest.importorskip("unseen.serde")
    from unseen.errors import DecodeError
    from unseen.ops._wire import ACTION_CODE, _action_from_wire

    for bad in (
        [1, "method", "x", (), {}],
        ["a", "exec", "x", (), {}],
        ["a", "method", "x", (), {1: 2}],
        "x",
    ):
        with pytest.raises(DecodeError):
            _action_from_wire(bad)
    assert ACTION_CODE == 65 and serde is not None
