"""Coverage-guided fuzzing of the decoder with atheris (a longer job than the test suite).

    python bench/fuzz_serde.py [seconds]        # default 60; needs `pip install atheris`

Feeds bytes to unseen.serde.decode and unseen.messages.decode_message (seeded with valid
encodings of many types and messages). Anything but a clean DecodeError, or a decode slower
than 5 s, is a failure: atheris stops and prints the input. At the end libFuzzer prints
"Done N runs in S second(s)"; bench/bench_security.py reads that line.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np


def corpus_dir() -> str:
    from unseen import serde
    from unseen.messages import Message, encode_message

    values = [
        None, [1, -2, 3.5, "s", b"b", True], {"k": (1, (2, [3])), 4: frozenset({1})},
        [slice(1, None, 2), Ellipsis, 1 + 2j, 2**100], np.arange(12, dtype=">i4").reshape(3, 4),
        np.arange(20_000, dtype=np.float32), np.array(["ab", "c"]), np.float16(1.5),
    ]  # fmt: skip
    try:
        import pandas as pd
        import torch

        values += [torch.arange(6.0), pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})]
    except ImportError:
        pass
    folder = tempfile.mkdtemp(prefix="unseen-fuzz-")
    for i, v in enumerate(values):
        with open(os.path.join(folder, f"v{i}"), "wb") as f:
            f.write(bytes(serde.encode(v)))
    for i, kind in enumerate(("node.info", "graph.run", "object.send", "search")):
        with open(os.path.join(folder, f"m{i}"), "wb") as f:
            f.write(bytes(encode_message(Message(kind, {"value": np.ones(3), "query": "#x"}))))
    return folder


def main() -> None:
    import atheris

    with atheris.instrument_imports():
        from unseen import serde
        from unseen.errors import DecodeError
        from unseen.messages import decode_message

    limits = serde.Limits(
        max_array_bytes=1 << 22, max_container_len=100_000, max_containers=100_000
    )

    def one(data: bytes) -> None:
        start = time.perf_counter()
        try:
            serde.decode(data, limits)
        except DecodeError:
            pass
        try:
            decode_message(data)
        except DecodeError:
            pass
        if time.perf_counter() - start > 5.0:
            raise AssertionError(f"decoding {len(data)} bytes took over 5 s")

    seconds = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 60
    args = [sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=4096", "-print_final_stats=1",
            corpus_dir()]  # fmt: skip
    atheris.Setup(args, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
