"""Fixed-point encoding: exact round trips (negatives included), range checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from unseen.errors import UsageError
from unseen.mpc import FixedPoint, RangeWarning


def test_negatives_decode_exactly() -> None:
    fp = FixedPoint(16)
    values = torch.tensor(
        [-1.0, -0.5, -(2.0**-16), -3.75, -1024.0, -(2.0**30) + 2.0**-16, 0.0, 2.0**-16],
        dtype=torch.float64,
    )
    assert torch.equal(fp.decode(fp.encode(values, warn=False), torch.float64), values)
    assert torch.equal(
        fp.decode(fp.encode(values.float(), warn=False), torch.float32), values.float()
    )


@pytest.mark.parametrize("bits", [0, 8, 16, 20, 24])
def test_grid_values_round_trip_for_any_precision(bits: int) -> None:
    fp = FixedPoint(bits)
    ints = torch.randint(-(2**40), 2**40, (1000,), generator=torch.Generator().manual_seed(bits))
    values = ints.double() / 2**bits
    assert torch.equal(fp.decode(fp.encode(values, warn=False), torch.float64), values)


def test_decoding_of_large_magnitudes_is_exact() -> None:
    fp = FixedPoint(16)
    enc = torch.tensor([-(2**62), -(2**62) + 1, 2**62 - 1, -1, 1], dtype=torch.int64)
    expected = [-(2.0**46), -(2.0**46) + 2.0**-16, 2.0**46 - 2.0**-16, -(2.0**-16), 2.0**-16]
    assert fp.decode(enc, torch.float64).tolist() == expected


def test_rounding_to_nearest() -> None:
    fp = FixedPoint(16)
    x = torch.tensor([0.1, -0.1, 1 / 3, -2 / 3], dtype=torch.float64)
    err = (fp.decode(fp.encode(x), torch.float64) - x).abs()
    assert bool((err <= 2.0**-17).all())


def test_integers_bools_numpy_and_scalars() -> None:
    fp = FixedPoint(16)
    assert fp.encode(torch.tensor([1, -2])).tolist() == [65536, -131072]
    assert fp.encode(np.array([True, False])).tolist() == [65536, 0]
    assert fp.encode(1.5).item() == 98304


def test_out_of_range_is_a_clear_error() -> None:
    fp = FixedPoint(16)
    with pytest.raises(UsageError, match="fixed-point range"):
        fp.encode(torch.tensor([2.0**46]))
    with pytest.raises(UsageError, match="fixed-point range"):
        fp.encode(torch.tensor([2**47]))
    with pytest.raises(UsageError, match="NaN"):
        fp.encode(torch.tensor([float("nan")]))
    with pytest.raises(UsageError, match="NaN"):
        fp.encode(torch.tensor([float("inf")]))
    with pytest.raises(UsageError):
        FixedPoint(31)


def test_large_values_warn_about_products() -> None:
    fp = FixedPoint(16)
    with pytest.warns(RangeWarning, match="overflow"):
        fp.encode(torch.tensor([40000.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fp.encode(torch.tensor([30000.0]))
