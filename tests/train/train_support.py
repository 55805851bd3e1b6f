"""Helpers of the training tests: the model, and the oracle (torch's own loop)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def train_locally(
    model: torch.nn.Module,
    make_optimizer: Callable[[Any], Any],
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
) -> torch.nn.Module:
    """The oracle: the same loop run by torch itself, on a copy of ``model``."""
    model = copy.deepcopy(model)
    opt = make_optimizer(model.parameters())
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    return model


def assert_same_weights(got: torch.nn.Module, want: torch.nn.Module, atol: float = 1e-5) -> None:
    got_state, want_state = got.state_dict(), want.state_dict()
    assert list(got_state) == list(want_state)
    for name, value in want_state.items():
        assert got_state[name].dtype == value.dtype, name
        torch.testing.assert_close(got_state[name], value, atol=atol, rtol=0, msg=name)
