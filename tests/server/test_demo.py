"""`unseen demo`, the README's first command, runs and shows what a person can read (issue 19)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_and_its_released_mean_is_readable(tmp_path: Path) -> None:
    code = "import sys; from unseen.cli import main; sys.argv[:] = ['unseen', 'demo']; main()"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    released = out.split("released mean", 1)[1].split("\n\n", 1)[0]
    assert "e-" not in released, released  # centred features printed as -1.44e-18 before
    assert re.search(r"age\s+48\.5", released), released  # named columns, real units
    assert "CannotRequestPrivateData" in out and "BudgetExhausted" in out
    assert "Done." in out
