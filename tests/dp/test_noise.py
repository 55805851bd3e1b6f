"""The noise has the claimed scale, and the RDP accounting agrees with dp-accounting."""

from __future__ import annotations

import numpy as np
import pytest
from tests.dp.conftest import assets, make_node

from unseen import dp
from unseen.dp import _mechanisms as mech

# With 2000 draws the mean absolute deviation of Laplace noise is within 8% of its scale
# (about 3.6 standard errors); a scale wrong by 20% falls outside.
DRAWS = 2000
TOLERANCE = 0.08


def test_laplace_noise_has_the_claimed_scale() -> None:
    scale = mech.laplace_scale(10, 1.0)
    assert scale == pytest.approx(10.0)
    noise = mech.laplace(np.zeros(DRAWS, dtype=np.int64), scale)
    assert abs(np.mean(np.abs(noise)) / 10.0 - 1) < TOLERANCE
    assert abs(np.mean(np.abs(noise)) / 12.0 - 1) > TOLERANCE  # a 20% error would show


def test_gaussian_noise_has_the_claimed_scale() -> None:
    scale = mech.gaussian_scale(100, 0.5)
    assert scale == pytest.approx(100.0)
    noise = mech.gaussian(np.zeros(DRAWS, dtype=np.int64), scale)
    assert abs(np.std(noise) / 100.0 - 1) < TOLERANCE


def test_released_sums_have_the_claimed_scale_end_to_end() -> None:
    owner, ana = make_node(budget=1e6)
    y = assets(ana)["y"]
    truth = float(np.clip(owner.node.stores.objects.value(y.id), 0, 10).sum())
    ptr = y.sum()
    errors = np.array([ptr.get(epsilon=1.0) - truth for _ in range(DRAWS)])
    # add/remove one row changes the sum by at most 10: Laplace scale 10 / epsilon
    assert abs(np.mean(np.abs(errors)) / 10.0 - 1) < TOLERANCE
    assert abs(np.mean(errors)) < 1.0


def test_rdp_curves_match_dp_accounting() -> None:
    from dp_accounting import dp_event
    from dp_accounting.rdp import RdpAccountant

    accountant = RdpAccountant(list(dp.ORDERS))
    odometer = dp.Odometer()
    for eps in (0.1, 0.5, 1.0):
        accountant.compose(dp_event.LaplaceDpEvent(1.0 / eps))
        odometer = odometer.plus(eps, 0.0, [("laplace", eps)])
    for sigma in (5.0, 20.0):
        accountant.compose(dp_event.GaussianDpEvent(sigma))
        odometer = odometer.plus(1.0, 1e-9, [("gaussian", 1.0 / (2 * sigma**2))])
    for delta in (1e-5, 1e-6, 1e-8):
        assert dp.rdp_epsilon(odometer.rdp, delta) == pytest.approx(
            accountant.get_epsilon(delta), rel=1e-9
        )


def test_spend_is_the_tighter_of_sum_and_rdp() -> None:
    odometer = dp.Odometer().plus(0.3, 0.0, [("laplace", 0.3)]).plus(0.3, 0.0, [("laplace", 0.3)])
    assert odometer.spent(1e-6) == pytest.approx(0.6)  # the plain sum
    many = dp.Odometer()
    for _ in range(400):
        many = many.plus(0.05, 0.0, [("laplace", 0.05)])
    assert many.spent(1e-6) < 0.5 * 400 * 0.05  # RDP
