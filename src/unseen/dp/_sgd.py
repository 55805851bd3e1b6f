"""Pricing a DP-SGD fit from public parameters only: the sample rate (batch size over the
declared public row count), the number of steps, and the noise multiplier that Opacus' RDP
accountant finds for the target (epsilon, delta). The ledger's entry carries the
Poisson-subsampled Gaussian's parameters, so its RDP curve composes with the queries'."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from unseen.dp._ledger import Charge
from unseen.dp._odometer import rdp_epsilon, subsampled_gaussian
from unseen.errors import UsageError

__all__ = ["SGDPlan", "noise_multiplier", "plan_sgd"]


@dataclass(frozen=True)
class SGDPlan:
    """A DP-SGD fit's privacy parameters and its ledger charge."""

    sample_rate: float
    steps_per_epoch: int
    steps: int
    noise_multiplier: float
    epsilon: float
    delta: float
    cost: Charge


@functools.lru_cache(maxsize=64)
def noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier (to Opacus' tolerance) at which Opacus' RDP accountant
    gives at most ``epsilon`` at ``delta`` for ``steps`` steps at ``sample_rate``; a pure
    function of public parameters, so a fit repeated with the same ones reuses it."""
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():  # Opacus' notes on its own orders: ours are wider
            warnings.simplefilter("ignore", UserWarning)
            return float(
                get_noise_multiplier(
                    target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                    steps=steps, accountant="rdp",
                )
            )  # fmt: skip
    except ValueError as exc:  # Opacus: no noise multiplier reaches so small an epsilon
        raise UsageError(
            f"no noise multiplier reaches epsilon={epsilon:g} at delta={delta:g} for "
            f"{steps} steps at sample rate {sample_rate:.4g}: ask for a larger epsilon, "
            f"fewer epochs or a smaller batch ({exc})"
        ) from None


def plan_sgd(
    *,
    epsilon: float,
    delta: float,
    batch_size: int,
    public_rows: int,
    epochs: int,
    datasets: tuple[str, ...],
    query: str,
) -> SGDPlan:
    """The noise multiplier and the charge of ``epochs`` epochs of Poisson-sampled batches
    of expected size ``batch_size`` out of ``public_rows`` rows, at (``epsilon``, ``delta``).
    ``epsilon`` of the charge is the accountant's for the chosen noise (at most the target)."""
    if public_rows < 1 or not 1 <= batch_size <= public_rows:
        raise UsageError(
            f"batch_size must be between 1 and the data's public row count ({public_rows}), "
            f"got {batch_size}"
        )
    sample_rate = batch_size / public_rows
    steps_per_epoch = max(1, int(1 / sample_rate))
    steps = epochs * steps_per_epoch
    sigma = noise_multiplier(epsilon, delta, sample_rate, steps)
    spent = rdp_epsilon(subsampled_gaussian(sample_rate, sigma, steps), delta)
    cost = Charge(
        epsilon=spent,
        delta=delta,
        mechanism="dp-sgd",
        components=(("subsampled_gaussian", sample_rate, sigma, steps),),
        datasets=datasets,
        query=query,
    )
    return SGDPlan(sample_rate, steps_per_epoch, steps, sigma, spent, delta, cost)
