"""SIGKILL the domain server at random points during uploads, request decisions and DP
charges, then restart it: see crash_support for the invariants. A bounded version (a few kill
points); bench/bench_security.py runs the longer loop.

Relies on unseen/store (blobs written to a temporary file, fsync'd and linked before the row;
recovery at open), the decision-before-grant order with repair_grants (unseen/node/_requests.py)
and the ledger's compare-and-set charge before the answer is computed (unseen/node/_dp.py).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from crash_support import Server, one_round, setup

pytestmark = pytest.mark.slow  # soak, crash and restart runs: `pytest -m slow`

KILL_POINTS = 3


def test_sigkill_during_uploads_decisions_and_charges(tmp_path: Path, record_property: Any) -> None:
    server = Server(tmp_path / "node")
    server.start()
    try:
        setup(server)
        rng = random.Random(20240607)
        results = [one_round(server, rng) for _ in range(KILL_POINTS)]
    finally:
        server.kill()
    record_property("kill_points", len(results))
    assert sum(r["answers"] + r["uploads"] + r["accepted"] for r in results) > 0
