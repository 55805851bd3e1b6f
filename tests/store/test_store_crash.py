"""Crash safety: a process SIGKILLed while it writes leaves, after re-opening, each object
either whole or absent: no row without its value, no visible partial value, no temp files."""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_support import Backend

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.slow,
]

CHILD = r"""
import sys, time
import numpy as np
from unseen.store import ObjectRecord, open_stores

mode, url, data_dir = sys.argv[1:4]
stores = open_stores(None if url == "-" else url, data_dir, fsync=False)  # a kill, not a power cut

def record(i):
    return ObjectRecord(id=f"obj{i:05d}", family="ndarray", creator="c", sources=frozenset("c"))

if mode == "upload":  # a slow streaming upload, killed midway
    upload = stores.objects.begin_put(record(0))
    for n in range(100_000):
        upload.write(bytes(1 << 20))
        if n == 3:
            print("writing", flush=True)
        time.sleep(0.01)
elif mode == "between":  # the value is committed, the row not yet inserted
    stores.objects.blobs.put(record(0).id, np.arange(10))
    print("committed", flush=True)
    time.sleep(60)
elif mode == "puts":  # puts of 8 MB arrays, one after the other, killed at a random point
    for i in range(100_000):
        stores.objects.put(record(i), np.full(1_000_000, i, dtype=np.int64))
        print(i, flush=True)
"""


def start(mode: str, backend: Backend) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, backend.url or "-", str(backend.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )


def read_lines(proc: subprocess.Popen[str], n: int, timeout: float = 30.0) -> list[str]:
    """The child's first ``n`` lines of output (fails if they take longer than ``timeout``)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while len(lines) < n:
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"the child said only {lines}"
            line = proc.stdout.readline()
            assert line, f"the child ended early (rc {proc.poll()}) after {lines}"
            lines.append(line.strip())
    return lines


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()


def check_consistent(stores: Any) -> set[str]:
    """Every row has its whole value and every blob a row; returns the object ids."""
    ids = {r.id for r in stores.objects.list()}
    assert set(os.listdir(stores.blobs.root)) == ids  # no orphans, no temp files left
    for object_id in ids:
        value = stores.objects.value(object_id)
        np.testing.assert_array_equal(value, np.full(1_000_000, int(object_id[3:])))
    return ids


def test_killed_during_an_upload(sql_backend: Backend) -> None:
    sql_backend.open().close()  # create and migrate first: the child only writes
    proc = start("upload", sql_backend)
    read_lines(proc, 1)
    kill(proc)
    leftovers = os.listdir(Path(sql_backend.data_dir) / "blobs")
    assert leftovers and all(n.startswith(".tmp-") for n in leftovers)  # killed midway
    stores = sql_backend.open()
    assert stores.recovery.temp_files == leftovers
    assert stores.objects.list() == [] and os.listdir(stores.blobs.root) == []


def test_killed_between_the_value_and_the_row(sql_backend: Backend) -> None:
    sql_backend.open().close()
    proc = start("between", sql_backend)
    read_lines(proc, 1)
    kill(proc)
    stores = sql_backend.open()
    assert stores.recovery.orphan_blobs == ["obj00000"]
    assert not stores.objects.exists("obj00000")
    assert os.listdir(stores.blobs.root) == []


def test_killed_at_random_points_of_puts(sql_backend: Backend) -> None:
    sql_backend.open().close()
    rng = random.Random(1234)
    for _ in range(4):
        proc = start("puts", sql_backend)
        finished = {f"obj{int(n):05d}" for n in read_lines(proc, rng.randint(1, 3))}
        time.sleep(rng.uniform(0.0, 0.05))  # somewhere in the next put, or a later one
        kill(proc)
        with sql_backend.open() as stores:
            ids = check_consistent(stores)
            assert finished <= ids
            for object_id in ids:  # the next run starts on an empty store
                stores.objects.delete(object_id)
