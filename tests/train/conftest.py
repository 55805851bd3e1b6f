"""Fixtures of the training tests: scikit-learn's digits, the torch hook, and a real domain
server (SQLite and PostgreSQL, the server tests' helpers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import unseen

# the tests import train_support and server_support by name (also with --import-mode=importlib)
for _dir in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "server"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from server_support import ServerProcess, fresh_pg_database  # noqa: E402


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


# the PostgreSQL runs are in the slow set (`pytest -m slow`, which CI runs too): the quick set
# stays under its time budget with SQLite, and the store suite checks PostgreSQL's contract
@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], scope="module"
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One running domain per test module and backend, owner ``owner@clinic.org``; the
    PostgreSQL half is skipped when no PostgreSQL answers."""
    if request.param == "sqlite":
        proc = ServerProcess(tmp_path_factory.mktemp("domain") / "data", None)
        proc.start()
        yield proc
        proc.kill()
        return
    with fresh_pg_database() as url:
        proc = ServerProcess(tmp_path_factory.mktemp("domain") / "data", url)
        proc.start()
        yield proc
        proc.kill()
