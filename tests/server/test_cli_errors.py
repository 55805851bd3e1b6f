"""The CLI's errors are one line that says what to do (issue 19): a PostgreSQL role or database
that does not exist, a URL that is not one; and flags in --help take no value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PG = os.environ.get("UNSEEN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
HOST = PG.split("@", 1)[1].split("/", 1)[0]


def _unseen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql://no_such_role_x@{HOST}/test", "role"),
        (f"postgresql://postgres@{HOST}/no_such_db_x", "database"),
        ("postgresql://postgres@127.0.0.1:1/test", "could not connect"),
        ("nonsense", "not a database URL"),
    ],
)
def test_a_bad_database_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    done = _unseen("launch", "domain", "--name", "X", "--data-dir", str(tmp_path), "--database",
                   url, cwd=tmp_path)  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert "sqlalche.me" not in done.stderr


def test_flags_in_help_take_no_value(tmp_path: Path) -> None:
    for args in (["--help"], ["launch", "domain", "--help"], ["launch", "network", "--help"]):
        done = _unseen(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "<bool>" not in done.stdout and "BOOLEAN" not in done.stdout, done.stdout
        assert "--help" in done.stdout
