"""Backends for the shared store suite: memory, SQLite in tmp_path, PostgreSQL in a fresh schema.

PostgreSQL runs at ``UNSEEN_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each test gets its own schema (through ``search_path``), dropped afterwards. The PostgreSQL
cases are skipped, saying why, only when that server cannot be reached.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the tests import store_support by name: make that work with --import-mode=importlib too
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from store_support import PG_URL, Backend, pg_connect  # noqa: E402

BACKENDS = ["memory", "sqlite", "postgresql"]
SQL_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_available() -> None:
    try:
        pg_connect().close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable ({type(exc).__name__}: {exc})")


@pytest.fixture
def pg_schema(pg_available: None) -> Iterator[str]:
    """A fresh PostgreSQL schema, and the URL that makes it the default one."""
    schema = f"unseen_test_{uuid.uuid4().hex[:12]}"
    with pg_connect(autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with pg_connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = request.getfixturevalue("pg_schema") if kind == "postgresql" else None
    backend = Backend(kind, tmp_path / "node", url)
    try:
        yield backend
    finally:
        backend.close_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from make_backend(request.param, request, tmp_path)


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from make_backend(request.param, request, tmp_path)


@pytest.fixture
def stores(backend: Backend) -> Any:
    return backend.open()


@pytest.fixture
def sql_stores(sql_backend: Backend) -> Any:
    return sql_backend.open()
