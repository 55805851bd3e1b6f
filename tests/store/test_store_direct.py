"""Durable blob writes with O_DIRECT: byte-identical blobs whatever the sizes and chunking,
ordinary writes for small blobs, a silent fall-back where O_DIRECT is refused, and nothing
visible after an interrupted write (aborted, or a killed process)."""

from __future__ import annotations

import errno
import mmap
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from unseen.errors import UsageError
from unseen.store import DirectoryBlobStore, _blob_writer

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="needs O_DIRECT")

MIB = 1 << 20
DATA = np.random.default_rng(7).integers(0, 256, (10 * MIB) + 3, dtype=np.uint8).tobytes()
SIZES = [0, 1, 4095, 4096, 4097, MIB, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 10 * MIB + 3]
CHUNKS = [1000, 4096, MIB + 7, 5 * MIB, 1 << 30]


@pytest.fixture
def direct_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths opened with O_DIRECT (a spy on os.open)."""
    opened: list[str] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_DIRECT:
            opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    return opened


def aligned_copy(data: bytes) -> mmap.mmap:
    """``data`` in page-aligned memory (as an upload's receive buffer is)."""
    buf = mmap.mmap(-1, max(len(data), 1))
    buf[: len(data)] = data
    return buf


def write_chunked(blobs: DirectoryBlobStore, name: str, data: memoryview, chunk: int) -> int:
    with blobs.begin(name, replace=True) as writer:
        for start in range(0, data.nbytes, chunk):
            writer.write(data[start : start + chunk])
        return writer.commit()


@pytest.mark.parametrize("size", SIZES)
def test_durable_blobs_are_byte_identical(
    tmp_path: Path, size: int, direct_opens: list[str]
) -> None:
    blobs = DirectoryBlobStore(tmp_path / "blobs")  # fsync on: large blobs go with O_DIRECT
    data = DATA[:size]
    aligned, shifted = aligned_copy(data), aligned_copy(b"-" + data)
    try:
        sources = [memoryview(aligned)[:size], memoryview(shifted)[1 : size + 1]]
        for source in [*sources, memoryview(data)]:
            page_aligned = size > 0 and _blob_writer._address(source) % 4096 == 0
            for chunk in CHUNKS:
                direct_opens.clear()
                assert write_chunked(blobs, "blob", source, chunk) == size
                assert (blobs.root / "blob").read_bytes() == data, (page_aligned, chunk)
                # a blob that fits the staging buffer is written buffered unless it arrives
                # in large page-aligned chunks; a larger one always goes with O_DIRECT
                assert bool(direct_opens) == (
                    size >= _blob_writer._STAGE
                    or (page_aligned and min(chunk, size) >= _blob_writer._DIRECT_FROM)
                ), (page_aligned, chunk)
            source.release()
    finally:
        aligned.close()
        shifted.close()
    assert os.listdir(blobs.root) == ["blob"]


def test_arrays_put_durably_read_back_equal(tmp_path: Path, direct_opens: list[str]) -> None:
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    value = np.random.default_rng(3).random((1000, 1001))  # 8 MB: not a multiple of a block
    blobs.put("big", value)
    assert direct_opens
    np.testing.assert_array_equal(blobs.get("big"), value)


def test_small_blobs_and_unsynced_stores_write_buffered(
    tmp_path: Path, direct_opens: list[str]
) -> None:
    durable = DirectoryBlobStore(tmp_path / "durable")
    durable.put("small", np.arange(1000))
    unsynced = DirectoryBlobStore(tmp_path / "unsynced", fsync=False)
    off = DirectoryBlobStore(tmp_path / "off", direct=False)
    big = aligned_copy(DATA)
    try:
        for blobs in (unsynced, off):
            assert write_chunked(blobs, "big", memoryview(big)[: len(DATA)], 4 * MIB) == len(DATA)
            assert (blobs.root / "big").read_bytes() == DATA
    finally:
        big.close()
    assert direct_opens == []
    np.testing.assert_array_equal(durable.get("small"), np.arange(1000))


def test_refused_o_direct_open_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def no_direct(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_direct)
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    assert write_chunked(blobs, "a", memoryview(DATA), MIB + 7) == len(DATA)
    assert (blobs.root / "a").read_bytes() == DATA
    assert blobs.direct is False  # the next writers do not try again
    assert write_chunked(blobs, "b", memoryview(DATA), 3 * MIB) == len(DATA)
    assert (blobs.root / "b").read_bytes() == DATA
    assert sorted(os.listdir(blobs.root)) == ["a", "b"]


@pytest.mark.parametrize("failing_write", [1, 2])
def test_refused_direct_write_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_write: int
) -> None:
    """A file system that opens with O_DIRECT but refuses the writes (EINVAL)."""
    real_open, real_pwrite = os.open, os.pwrite
    direct_fds: set[int] = set()
    calls = [0]

    def spy_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        fd = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
        if flags & os.O_DIRECT:
            direct_fds.add(fd)
        return fd

    def refusing_pwrite(fd: int, data: memoryview, offset: int) -> int:
        if fd in direct_fds:
            calls[0] += 1
            if calls[0] >= failing_write:
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "pwrite", refusing_pwrite)
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    aligned = aligned_copy(DATA)
    try:
        source = memoryview(aligned)[: len(DATA)]
        assert write_chunked(blobs, "a", source, 2 * MIB) == len(DATA)
        source.release()
    finally:
        aligned.close()
    assert (blobs.root / "a").read_bytes() == DATA
    assert direct_fds and not blobs.direct


def test_other_write_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int, data: memoryview, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    blobs = DirectoryBlobStore(tmp_path / "blobs")
    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_chunked(blobs, "a", memoryview(DATA), 5 * MIB)
    assert os.listdir(blobs.root) == [] and blobs.direct


def test_tmpfs(tmp_path: Path) -> None:
    """/dev/shm: tmpfs refuses O_DIRECT on older kernels and takes it on newer ones."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        blobs = DirectoryBlobStore(Path(shm) / "blobs")
        for chunk in (4096, 3 * MIB + 1):
            assert write_chunked(blobs, "a", memoryview(DATA), chunk) == len(DATA)
            assert (blobs.root / "a").read_bytes() == DATA
        value = np.arange(3_000_000.0)
        blobs.put("b", value)
        np.testing.assert_array_equal(blobs.get("b"), value)


@pytest.mark.parametrize("fsync", [True, False])
def test_contents_before_the_commit(tmp_path: Path, fsync: bool) -> None:
    blobs = DirectoryBlobStore(tmp_path / "blobs", fsync=fsync)
    aligned = aligned_copy(DATA)
    try:
        source = memoryview(aligned)[: len(DATA)]
        with blobs.begin("a") as writer:
            writer.write(source[: 8 * MIB])
            writer.write(source[8 * MIB :])
            written = writer.contents()
            assert isinstance(written, mmap.mmap) and written.size() == len(DATA)
            assert written[:] == DATA and not blobs.exists("a")
            written[:3] = b"xyz"  # a private copy: the blob is unchanged
            with pytest.raises(UsageError):
                writer.write(b"more")
            assert writer.commit() == len(DATA)
        source.release()
    finally:
        aligned.close()
    assert (blobs.root / "a").read_bytes() == DATA
    with blobs.begin("b") as writer:
        writer.write(b"small")
        assert writer.contents() == bytearray(b"small")
        writer.commit()
    assert blobs.read("b") == bytearray(b"small")


def test_interrupted_direct_writes_leave_nothing(tmp_path: Path, direct_opens: list[str]) -> None:
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    aligned = aligned_copy(DATA)
    try:
        source = memoryview(aligned)[: len(DATA)]
        writer = blobs.begin("a")
        writer.write(source[: 8 * MIB])
        writer.write(source[8 * MIB :])
        assert direct_opens and not blobs.exists("a")
        writer.abort()
        writer.abort()
        with pytest.raises(RuntimeError), blobs.begin("b") as writer:
            writer.write(source)
            raise RuntimeError("the client went away")
        writer = blobs.begin("c")
        writer.write(source)
        del writer  # dropped unfinished
        source.release()
    finally:
        aligned.close()
    assert os.listdir(blobs.root) == []


CHILD = r"""
import mmap, sys, time
from unseen.store import DirectoryBlobStore
blobs = DirectoryBlobStore(sys.argv[1])  # durable: large writes go with O_DIRECT
chunk = mmap.mmap(-1, 4 << 20)
writer = blobs.begin("big")
for n in range(100_000):
    writer.write(chunk)
    if n == 3:
        print("writing", flush=True)
    time.sleep(0.01)
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "blobs")], stdout=subprocess.PIPE, text=True
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_during_a_direct_write(tmp_path: Path, child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    leftovers = os.listdir(blobs.root)
    assert leftovers and all(name.startswith(".tmp-") for name in leftovers)
    assert list(blobs.names()) == [] and not blobs.exists("big")
    assert blobs.remove_temp_files() == leftovers
    assert os.listdir(blobs.root) == []
