"""The privacy odometer of one user: what their releases have spent so far.

It keeps two valid accountings and shows the tighter one:

- the plain sum of the releases' epsilons (and deltas): exact for pure-DP releases, and
  valid as (sum of epsilons, sum of deltas)-DP while the deltas stay within the node's delta;
- a Renyi-DP curve (sum over releases, at dp-accounting's default orders), converted to
  epsilon at the node's delta with dp-accounting's conversion: far tighter for many small
  releases, and the only one for Gaussian noise once the deltas add up past the node's.

A release's components are ``("laplace", epsilon)`` (its exact RDP curve, Mironov 2017),
``("gaussian", rho)`` (RDP ``alpha * rho``) and ``("pure", epsilon)`` (any epsilon-DP
mechanism: RDP at most ``min(epsilon, alpha * epsilon**2 / 2)``, Bun and Steinke 2016), and
``("subsampled_gaussian", sample_rate, noise_multiplier, steps)`` (DP-SGD: the Poisson-subsampled
Gaussian mechanism composed ``steps`` times, its RDP curve from dp-accounting's accountant).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ORDERS", "Component", "Odometer", "curve", "rdp_epsilon", "subsampled_gaussian"]

#: One mechanism of a release: ``(kind, parameter)``, or DP-SGD's four-part form.
Component = tuple[str, float] | tuple[str, float, float, int]

#: dp-accounting's default RDP orders.
ORDERS = np.array(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024],
    dtype=np.float64,
)


def _laplace(epsilon: float) -> np.ndarray:
    a = ORDERS
    # Mironov (2017), Proposition 6, in the numerically stable form dp-accounting uses.
    return epsilon + np.log1p((a - 1) * np.expm1(epsilon * (1 - 2 * a)) / (2 * a - 1)) / (a - 1)


@functools.lru_cache(maxsize=256)
def subsampled_gaussian(sample_rate: float, noise_multiplier: float, steps: int) -> np.ndarray:
    """The RDP curve, at :data:`ORDERS`, of ``steps`` Poisson-subsampled Gaussian steps
    (DP-SGD), from dp-accounting's RDP accountant (read-only: it is cached)."""
    from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent, SelfComposedDpEvent
    from dp_accounting.rdp import RdpAccountant

    accountant = RdpAccountant(orders=[float(a) for a in ORDERS])
    event = PoissonSampledDpEvent(sample_rate, GaussianDpEvent(noise_multiplier))
    accountant.compose(SelfComposedDpEvent(event, int(steps)))
    out = np.array(accountant.rdp, dtype=np.float64)
    out.flags.writeable = False
    return out


def curve(components: Sequence[Component]) -> np.ndarray:
    """The RDP curve of one release (the sum of its components' curves)."""
    total = np.zeros_like(ORDERS)
    for component in components:
        kind, value = component[0], float(component[1])
        if kind == "subsampled_gaussian" and len(component) == 4:
            total += subsampled_gaussian(value, float(component[2]), int(component[3]))
        elif kind == "laplace":
            total += _laplace(value)
        elif kind == "gaussian":
            total += ORDERS * value
        elif kind == "pure":
            total += np.minimum(value, ORDERS * value * value / 2.0)
        else:
            raise ValueError(f"unknown release component {kind!r}")
    return total


def rdp_epsilon(rdp: np.ndarray, delta: float) -> float:
    """Epsilon at ``delta`` of an RDP curve (Balle et al. 2020, Proposition 12; the
    conversion of dp_accounting.rdp.compute_epsilon, vectorized)."""
    if not np.any(rdp > 0):
        return 0.0
    a = ORDERS
    with np.errstate(all="ignore"):
        eps = rdp + np.log1p(-1.0 / a) - np.log(delta * a) / (a - 1)
    eps = np.where(a > 1.01, eps, np.inf)
    eps = np.where(delta * delta + np.expm1(-rdp) > 0, 0.0, eps)
    return float(max(0.0, np.min(eps)))


@dataclass
class Odometer:
    """The running totals of one user's releases."""

    epsilon: float = 0.0
    delta: float = 0.0
    rdp: np.ndarray = field(default_factory=lambda: np.zeros_like(ORDERS))
    count: int = 0

    def plus(self, epsilon: float, delta: float, components: Sequence[Component]) -> Odometer:
        if not components:
            return Odometer(self.epsilon, self.delta, self.rdp, self.count + 1)
        return Odometer(
            self.epsilon + epsilon, self.delta + delta, self.rdp + curve(components), self.count + 1
        )

    def spent(self, node_delta: float) -> float:
        """The tighter of the plain sum and the RDP conversion at the node's delta."""
        plain = self.epsilon if self.delta <= node_delta * (1 + 1e-9) else math.inf
        return min(plain, rdp_epsilon(self.rdp, node_delta))
