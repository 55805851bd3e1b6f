"""mypy checks the typed protocol: a planted misuse of each kind of mistake is an error,
and correct use is clean (so the check can fail, and does not fail on everything)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
TYPING = Path(__file__).parent / "typing"


@functools.cache
def _mypy() -> str:
    """mypy's errors on both files, in one run (a cold run takes ~30 s, a warm one ~2 s)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes",
         "--config-file", str(ROOT / "pyproject.toml"),
         str(TYPING / "misuse.py"), str(TYPING / "good_use.py")],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
        env={**os.environ, "MYPYPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert "error: Cannot find" not in done.stdout, done.stdout
    return done.stdout


def test_mypy_rejects_each_planted_misuse() -> None:
    path = TYPING / "misuse.py"
    expected = {
        (n, m.group(1))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if (m := re.search(r"# E: ([\w-]+)", line))
    }
    assert len(expected) == 8
    found = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"misuse\.py:(\d+): error: .*\[([\w-]+)\]", _mypy())
    }
    assert expected <= found, f"not caught: {sorted(expected - found)}"
    assert {line for line, _ in found} <= {line for line, _ in expected}


def test_mypy_accepts_correct_use() -> None:
    assert "good_use.py" not in _mypy()
    assert "misuse.py" in _mypy()  # mypy did run on both
