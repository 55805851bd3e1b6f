"""Fixtures for the domain server: real server processes on loopback, SQLite or PostgreSQL.

Every server test runs against both backends (the ``backend`` fixture): SQLite in the test's
data directory, and a fresh PostgreSQL database on 127.0.0.1:5432 (``UNSEEN_TEST_PG`` names
another server; the PostgreSQL half is skipped when none answers).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import unseen

# the tests import server_support by name: make that work with --import-mode=importlib too
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from server_support import ServerProcess, fresh_pg_database  # noqa: E402


# the PostgreSQL runs are in the slow set (`pytest -m slow`, which CI runs too): the quick set
# stays under its time budget with SQLite, and the store suite checks PostgreSQL's contract
@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], scope="module"
)
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite in the data directory; a fresh PostgreSQL database URL otherwise."""
    if request.param == "sqlite":
        yield None
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.fixture(scope="module")
def server(
    backend: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One running domain per test module and backend, owner ``owner@clinic.org``."""
    proc = ServerProcess(tmp_path_factory.mktemp("domain") / "data", backend)
    proc.start()
    yield proc
    proc.kill()


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> Iterator[unseen.Client]:
    client = server.login()
    yield client
    client.close()
