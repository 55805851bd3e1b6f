"""Core benchmarks (issue: core): remote chains, small-op throughput, and import time.

Run: python bench/bench_core.py. Every figure is a ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import unseen  # noqa: E402
from _common import best_of, line  # noqa: E402


def chain_of_100() -> None:
    a = np.random.default_rng(0).standard_normal(1_000_000)
    worker = unseen.VirtualWorker(name="bench")
    x = worker.send(a)

    def local() -> np.ndarray:
        y = a
        for _ in range(25):
            y = ((y + 1.0) * 0.5 - 0.25) / 1.0001
        return y

    def remote() -> np.ndarray:
        y = x
        for _ in range(25):
            y = ((y + 1.0) * 0.5 - 0.25) / 1.0001
        return y.get()

    np.testing.assert_allclose(remote(), local())
    t_local, t_remote = best_of(local), best_of(remote)
    print(
        line(
            "chain of 100 elementwise ops on 1e6 float64 + get",
            t_remote,
            t_local,
            "numpy",
            "target <= 1.3",
        )
    )


def small_ops() -> None:
    worker = unseen.VirtualWorker(name="bench")
    x = worker.send(np.arange(4.0))
    n = 10_000

    def issue_and_fetch() -> None:
        results = worker.get_many([x + float(i) for i in range(n)])
        assert len(results) == n

    t = best_of(issue_and_fetch, repeat=3)
    print(f"10,000 small ops issued and fetched (one batch): {n / t:,.0f} ops/s (target >= 20,000)")

    def one_by_one() -> None:
        for i in range(1000):
            (x + float(i)).get()

    t1 = best_of(one_by_one, repeat=3)
    print(f"small op round trips one at a time, in-process: {1000 / t1:,.0f} ops/s")


def import_time() -> None:
    def run(code: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    bare, numpy_t, unseen_t = run("pass"), run("import numpy"), run("import unseen")
    print(
        f"import unseen: {unseen_t - bare:.3f} s beside import numpy {numpy_t - bare:.3f} s "
        f"(interpreter start {bare:.3f} s excluded; target <= 0.3 s)"
    )


if __name__ == "__main__":
    chain_of_100()
    small_ops()
    import_time()
