"""Optimizers on shared parameters: the update runs on shares, nothing is revealed."""

from __future__ import annotations

from collections.abc import Iterable

from unseen.errors import UsageError
from unseen.mpc.autograd import no_grad
from unseen.mpc.tensor import MPCTensor

__all__ = ["SGD"]


class SGD:
    """Stochastic gradient descent with optional momentum and weight decay, like torch's."""

    def __init__(
        self,
        params: Iterable[MPCTensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise UsageError("SGD got no parameters")
        if lr <= 0:
            raise UsageError("the learning rate must be positive")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self._velocity: dict[int, MPCTensor] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with no_grad():
            for p in self.params:
                g = p.grad
                if g is None:
                    continue
                if self.weight_decay:
                    g = g + p * self.weight_decay
                if self.momentum:
                    v = self._velocity.get(id(p))
                    v = g if v is None else v * self.momentum + g
                    self._velocity[id(p)] = v
                    g = v
                p._assign(p - g * self.lr)
