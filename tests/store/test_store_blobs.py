"""The directory blob store: atomic, no-clobber writes, streaming with bounded memory,
zero-copy reads, safe file names and clean-up of interrupted writes."""

from __future__ import annotations

import mmap
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from unseen.errors import NotFound, UsageError
from unseen.store import DirectoryBlobStore
from unseen.store._blobs import blob_name


@pytest.fixture
def blobs(tmp_path: Path) -> DirectoryBlobStore:
    return DirectoryBlobStore(tmp_path / "blobs", fsync=False)


def test_durable_writes(tmp_path: Path) -> None:
    blobs = DirectoryBlobStore(tmp_path / "blobs")  # fsync on
    assert blobs.fsync
    blobs.put("abc", np.arange(10))
    np.testing.assert_array_equal(blobs.get("abc"), np.arange(10))
    blobs.put("abc", "again", replace=True)
    assert blobs.get("abc") == "again"


def test_put_get_size_delete(blobs: DirectoryBlobStore) -> None:
    size = blobs.put("abc", {"x": np.arange(3)})
    assert blobs.exists("abc") and blobs.size("abc") == size
    got = blobs.get("abc")
    np.testing.assert_array_equal(got["x"], np.arange(3))
    assert list(blobs.names()) == ["abc"]
    blobs.delete("abc")
    assert not blobs.exists("abc")
    for call in (blobs.get, blobs.size, blobs.delete, blobs.read, blobs.open):
        with pytest.raises(NotFound):
            call("abc")
    blobs.discard("abc")  # no error


def test_commit_never_replaces_unless_asked(blobs: DirectoryBlobStore) -> None:
    blobs.put("abc", "first")
    with pytest.raises(UsageError):
        blobs.put("abc", "second")
    assert blobs.get("abc") == "first"
    blobs.put("abc", "third", replace=True)
    assert blobs.get("abc") == "third"
    assert os.listdir(blobs.root) == ["abc"]


def test_no_clobber_without_hard_links(
    blobs: DirectoryBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError("this file system has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    blobs.put("abc", "first")
    with pytest.raises(UsageError):
        blobs.put("abc", "second")
    assert blobs.get("abc") == "first"
    assert os.listdir(blobs.root) == ["abc"]


def test_writers_show_nothing_before_commit(blobs: DirectoryBlobStore) -> None:
    writer = blobs.begin("abc")
    writer.write(b"part")
    assert not blobs.exists("abc") and list(blobs.names()) == []
    writer.abort()
    writer.abort()
    with pytest.raises(UsageError):
        writer.write(b"more")
    with blobs.begin("abc") as writer:
        writer.write(b"dropped: no commit")
    with pytest.raises(KeyError), blobs.begin("abc") as writer:
        raise KeyError("failed midway")
    assert os.listdir(blobs.root) == []
    with blobs.begin("abc") as writer:
        writer.write(b"12345")
        assert writer.commit() == 5
    with pytest.raises(UsageError):
        writer.commit()
    assert blobs.read("abc") == bytearray(b"12345")


def test_remove_temp_files(blobs: DirectoryBlobStore) -> None:
    writer = blobs.begin("abc")
    writer.write(b"half")
    del writer  # a writer that is dropped unfinished removes its file
    assert os.listdir(blobs.root) == []
    (blobs.root / ".tmp-0123").write_bytes(b"left by a killed process")
    blobs.put("kept", 1)
    assert blobs.remove_temp_files() == [".tmp-0123"]
    assert os.listdir(blobs.root) == ["kept"]


def test_file_names_are_safe(blobs: DirectoryBlobStore) -> None:
    assert blob_name("0123abcdef") == "0123abcdef"
    for odd in ("ABC", "../x", "a/b", ".hidden", "", "x" * 200, "naïve"):
        if not odd:
            with pytest.raises(UsageError):
                blob_name(odd)
            continue
        name = blob_name(odd)
        assert name.startswith("~") and len(name) == 65 and "/" not in name
        blobs.put(odd, odd)
        assert blobs.get(odd) == odd
        assert blobs.path(odd).parent == blobs.root
    assert blob_name("ABC") != blob_name("abc")  # safe on case-insensitive file systems
    with pytest.raises(UsageError):
        blobs.remove_names(["../node.db"])


def test_reads_are_writable_and_zero_copy(blobs: DirectoryBlobStore) -> None:
    big = np.arange(100_000, dtype=np.float64)
    blobs.put("big", big)
    blobs.put("small", np.arange(10))
    assert isinstance(blobs.read("big"), mmap.mmap)
    assert isinstance(blobs.read("small"), bytearray)
    got = blobs.get("big")
    assert got.flags.writeable and not got.flags.owndata
    got[:] = -1  # a private copy-on-write mapping: the blob is unchanged
    np.testing.assert_array_equal(blobs.get("big"), big)
    blobs.delete("big")  # a value still in use stays readable
    assert got[5] == -1


def test_streaming_write_has_bounded_memory(blobs: DirectoryBlobStore) -> None:
    chunk = bytes(1 << 20)
    tracemalloc.start()
    try:
        with blobs.begin("big") as writer:
            for _ in range(64):
                writer.write(chunk)
            writer.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert blobs.size("big") == 64 << 20
    assert peak < 4 << 20


def test_put_writes_arrays_without_copying_them(blobs: DirectoryBlobStore) -> None:
    value = np.ones(4 << 20)  # 32 MiB
    tracemalloc.start()
    try:
        blobs.put("big", value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    np.testing.assert_array_equal(blobs.get("big"), value)
