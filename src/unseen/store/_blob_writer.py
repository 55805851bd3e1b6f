"""Writing one blob: a temporary file that ``commit`` fsyncs and moves into place.

Durable writes of large blobs bypass the page cache (``O_DIRECT``, on Linux): buffered writes
are throttled by write-back to a fraction of what the disk takes, and would leave most of the
work to the final fsync. Whole blocks are written directly, from the caller's buffer when it
is page-aligned (an upload's receive buffers are) or else through a page-aligned staging
buffer; the last partial block goes through the page cache, and the fsync before the rename
covers both. Small blobs (those that fit the staging buffer), ``fsync=False`` and file
systems that refuse ``O_DIRECT`` (EINVAL) get ordinary writes.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from unseen.errors import UsageError

if TYPE_CHECKING:
    from unseen.store._blobs import DirectoryBlobStore

#: files at most this large are read into a bytearray; larger ones are memory-mapped
_MMAP_FROM = 1 << 16
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
#: O_DIRECT needs the address, file offset and length aligned to the device's logical block
#: size; 4096 (the page size) is a multiple of it on common devices
_BLOCK = 4096
#: the page-aligned staging buffer; a blob that fits in it is written buffered, at commit
_STAGE = 4 << 20
#: a page-aligned chunk is written directly, without a copy, from this size on
_DIRECT_FROM = 1 << 20


class FileWriter:
    """Streams chunks into a temporary file; ``commit`` makes it the blob, atomically (see
    the module docstring for when it writes with O_DIRECT)."""

    def __init__(self, store: DirectoryBlobStore, final: Path, temp: Path, replace: bool) -> None:
        self._store = store
        self._final = final
        self._replace = replace
        self._temp = temp
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(self._temp, flags, 0o600)
        self._size = 0
        self._done = False
        self._sealed = False  # contents() was called: no more writes
        #: whether chunks go through the aligned path (positional writes, staging buffer)
        self._aligned = store.fsync and store.direct and _O_DIRECT != 0
        self._direct = self._aligned  # False once O_DIRECT was refused
        self._dfd: int | None = None  # the O_DIRECT descriptor, opened at the first direct write
        self._stage: mmap.mmap | None = None
        self._staged = 0  # bytes in the staging buffer; they belong at offset _written
        self._written = 0  # bytes in the file (a multiple of _BLOCK before commit)

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append ``chunk`` (any contiguous buffer of bytes) to the blob."""
        if self._fd is None or self._sealed:
            raise UsageError("this blob writer is closed: begin() a new one")
        view = memoryview(chunk).cast("B")
        if self._aligned:
            self._write_aligned(view)
            return
        while view.nbytes:
            n = os.write(self._fd, view)
            view = view[n:]
            self._size += n

    def _write_aligned(self, view: memoryview) -> None:
        while view.nbytes:
            whole = view.nbytes - view.nbytes % _BLOCK
            if not self._staged and whole >= _DIRECT_FROM and _address(view) % _BLOCK == 0:
                self._put(view[:whole])
                self._size += whole
                view = view[whole:]
                continue
            if self._stage is None:
                self._stage = mmap.mmap(-1, _STAGE)
            n = min(view.nbytes, _STAGE - self._staged)
            self._stage[self._staged : self._staged + n] = view[:n]
            self._staged += n
            self._size += n
            view = view[n:]
            if self._staged == _STAGE:
                with memoryview(self._stage) as stage:
                    self._put(stage)
                self._staged = 0

    def _put(self, view: memoryview) -> None:
        """Write whole blocks at the end of the file, with O_DIRECT unless it was refused."""
        assert self._fd is not None
        if self._direct:
            try:
                if self._dfd is None:
                    self._dfd = os.open(self._temp, os.O_WRONLY | _O_DIRECT)
                _write_at(self._dfd, view, self._written)
                self._written += view.nbytes
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: this file system refuses O_DIRECT
                    raise
                self._direct = False
                self._store.direct = False
        _write_at(self._fd, view, self._written)
        self._written += view.nbytes

    def _drain(self) -> None:
        """Write what the staging buffer holds: its whole blocks directly if the blob went
        that way already (else it is small, and written buffered), the rest buffered."""
        if not self._staged or self._stage is None or self._fd is None:
            return
        with memoryview(self._stage) as stage:
            whole = self._staged - self._staged % _BLOCK if self._dfd is not None else 0
            if whole:
                self._put(stage[:whole])
            _write_at(self._fd, stage[whole : self._staged], self._written)
        self._written += self._staged - whole
        self._staged = 0

    def contents(self) -> bytearray | mmap.mmap:
        """The bytes written, writable (as :meth:`DirectoryBlobStore.read` gives a blob's),
        to check them before the commit; the writer takes no more writes after it."""
        if self._fd is None:
            raise UsageError("this blob writer is closed: begin() a new one")
        self._drain()
        self._sealed = True
        with open(self._temp, "rb") as f:
            return read_writable(f, self._size)

    def commit(self) -> int:
        """Make the written bytes the blob; returns its size. Raises ``UsageError`` (and
        keeps nothing) if the blob exists already and the writer was not begun with
        ``replace=True``."""
        if self._fd is None:
            raise UsageError("this blob writer is closed: begin() a new one")
        try:
            self._drain()
            if self._store.fsync:
                os.fsync(self._fd)  # the file's data, however written, and its size
            self._close()
            if self._replace:
                os.replace(self._temp, self._final)
            else:
                self._link_no_replace()
            self._store.sync_dir()
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self._size

    def _close(self) -> None:
        for fd in (self._dfd, self._fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._dfd = None
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def _link_no_replace(self) -> None:
        try:
            os.link(self._temp, self._final)
        except FileExistsError:
            raise UsageError(
                f"a blob named {self._final.name!r} exists already: use a fresh object id"
            ) from None
        except OSError:  # a file system without hard links: check, then rename
            with self._store.rename_lock:
                if self._final.exists():
                    raise UsageError(
                        f"a blob named {self._final.name!r} exists already: use a fresh id"
                    ) from None
                os.replace(self._temp, self._final)
                return
        os.unlink(self._temp)

    def abort(self) -> None:
        """Forget what was written (idempotent; a no-op after a successful commit)."""
        self._close()
        if not self._done:
            self._done = True
            try:
                os.unlink(self._temp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()  # after commit() this does nothing; without it the bytes are dropped

    def __del__(self) -> None:
        try:
            self.abort()
        except Exception:  # noqa: S110  (best effort at garbage collection)
            pass


def read_writable(f: io.BufferedReader, n: int) -> bytearray | mmap.mmap:
    """The first ``n`` bytes of ``f``, writable: read into a bytearray if few, else a
    private copy-on-write memory map."""
    if n < _MMAP_FROM:
        buf = bytearray(n)
        got = f.readinto(buf)
        if got != n:
            raise OSError(f"short read of a blob: {got} of {n} bytes")
        return buf
    return mmap.mmap(f.fileno(), n, access=mmap.ACCESS_COPY)


def _address(view: memoryview) -> int:
    """The memory address of the first byte of ``view``."""
    return int(np.frombuffer(view, dtype=np.uint8).ctypes.data)


def _write_at(fd: int, view: memoryview, offset: int) -> None:
    while view.nbytes:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n
