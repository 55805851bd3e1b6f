"""Fixtures of the training tests: scikit-learn's digits, and the torch hook."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import unseen

# the tests import train_support by name: make that work with --import-mode=importlib too
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return torch.tensor(bunch.data / 16, dtype=torch.float32), torch.tensor(bunch.target)


@pytest.fixture
def hook() -> Iterator[Any]:
    hook = unseen.TorchHook(torch)
    yield hook
    hook.unhook()
