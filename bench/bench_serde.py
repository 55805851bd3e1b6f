"""Speed of unseen.serde against np.copy: encode + decode of big arrays, tensors and frames.

Run: ``python bench/bench_serde.py`` (about 20 s). Target: serde is at least half as fast as
np.copy of the same bytes (ratio = np.copy time / serde time >= 0.5).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from unseen.serde import decode, encode

REPEATS = 5


def best_ms(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
        del out
    return best * 1000.0


def report(label: str, serde_ms: float, copy_ms: float) -> None:
    ratio = copy_ms / serde_ms
    print(
        f"serde {label} encode+decode: {serde_ms:.1f} ms, np.copy: {copy_ms:.1f} ms, "
        f"speed ratio: {ratio:.2f} (target >= 0.5)"
    )


def bench_numpy() -> None:
    arr = np.random.default_rng(0).random(256 * 2**20 // 8)  # 256 MB of float64
    serde_ms = best_ms(lambda: decode(encode(arr)))
    copy_ms = best_ms(lambda: np.copy(arr))
    report("256MB float64", serde_ms, copy_ms)
    enc_ms = best_ms(lambda: encode(arr))
    wire = encode(arr)
    dec_ms = best_ms(lambda: decode(wire))
    wire_ro = bytes(wire)
    dec_ro_ms = best_ms(lambda: decode(wire_ro))
    print(
        f"  (encode {enc_ms:.1f} ms, decode of bytearray {dec_ms:.2f} ms zero-copy, "
        f"decode of read-only bytes {dec_ro_ms:.1f} ms with one copy)"
    )


def bench_torch() -> None:
    try:
        import torch
    except ImportError:
        print("torch not installed: skipped")
        return
    t = torch.rand(256 * 2**20 // 4, dtype=torch.float32)  # 256 MB
    serde_ms = best_ms(lambda: decode(encode(t)))
    copy_ms = best_ms(lambda: np.copy(t.numpy()))
    report("256MB torch float32", serde_ms, copy_ms)


def bench_pandas() -> None:
    try:
        import pandas as pd
    except ImportError:
        print("pandas not installed: skipped")
        return
    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame(
        {
            "x": rng.random(n),
            "y": rng.integers(0, 1000, n),
            "flag": rng.random(n) > 0.5,
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "when": pd.date_range("2020-01-01", periods=n, freq="s"),
        }
    )
    nbytes = int(df.memory_usage(index=True, deep=False).sum())
    flat = np.zeros(nbytes, dtype=np.uint8)
    serde_ms = best_ms(lambda: decode(encode(df)))
    copy_ms = best_ms(lambda: np.copy(flat))
    frame_ms = best_ms(lambda: df.copy(deep=True))
    report(f"1e6-row DataFrame ({nbytes / 2**20:.0f}MB)", serde_ms, copy_ms)
    print(f"  (df.copy(deep=True): {frame_ms:.1f} ms)")


def main() -> None:
    start = time.perf_counter()
    bench_numpy()
    bench_torch()
    bench_pandas()
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
