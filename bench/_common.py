"""Helpers for benchmarks: best-of-n timing and ratio lines printed in one format."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def line(name: str, ours: float, base: float, base_name: str, target: str) -> str:
    ratio = ours / base if base > 0 else float("inf")
    return f"{name}: {ours * 1e3:.2f} ms vs {base_name} {base * 1e3:.2f} ms -> ratio {ratio:.2f} ({target})"
