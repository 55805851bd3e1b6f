"""Fixtures for code requests and jobs: an in-process clinic with a dataset and a scientist,
and a real domain server (SQLite and PostgreSQL, the server tests' helpers).

The jobs run through the node's real executor (``unseen.jobs.ProcessExecutor``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import unseen

# the tests import code_support and server_support by name (also with --import-mode=importlib)
for _dir in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "server"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from code_support import ANA, Clinic, upload  # noqa: E402
from server_support import ServerProcess, fresh_pg_database  # noqa: E402


@pytest.fixture
def clinic() -> Iterator[Clinic]:
    owner = unseen.VirtualWorker(name="May Clinic")
    upload(owner)
    ana = owner.new_client("Ana")
    yield Clinic(owner, ana, ana.search("#diabetes", verbose=False)[0])
    owner.close()


# the PostgreSQL runs are in the slow set (`pytest -m slow`, which CI runs too): the quick set
# stays under its time budget with SQLite, and the store suite checks PostgreSQL's contract
@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], scope="module"
)
def domain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A running domain server per module and backend, with the dataset and Ana's account."""
    with fresh_pg_database() if request.param == "postgresql" else _no_database() as url:
        proc = ServerProcess(tmp_path_factory.mktemp("domain") / "data", url)
        proc.start()
        owner = proc.login()
        owner.users.create(email=ANA[0], password=ANA[1], name="Ana", role="data_scientist")
        upload(owner)
        owner.close()
        yield proc
        proc.kill()


class _no_database:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
