"""The blob store: object values as files, written atomically and read without copies.

A value is encoded with :mod:`unseen.serde` and written to a temporary file in the blob
directory; ``commit`` fsyncs it and moves it into place in one step (a hard link that refuses
to replace an existing blob, or ``os.replace`` when asked to replace), then fsyncs the
directory. A process killed at any point therefore leaves either the whole blob or only a
temporary file, which :meth:`DirectoryBlobStore.remove_temp_files` deletes at the next start.
Large durable blobs are written with ``O_DIRECT``, past the page cache (see
:mod:`unseen.store._blob_writer`).

File names: an id of lowercase letters, digits, ``_`` and ``-`` (at most 128 characters, the
node's uuid hex ids among them) is its own file name; any other id is stored under ``~`` and
the sha256 of the id, so that no id can escape the directory or collide on a case-insensitive
file system. Temporary files start with ``.``, which no blob name does.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from unseen import serde
from unseen.errors import NotFound, UsageError
from unseen.store._blob_writer import FileWriter, read_writable

__all__ = ["BlobStore", "BlobWriter", "DirectoryBlobStore", "blob_name"]

_PLAIN = re.compile(r"[a-z0-9_-]{1,128}")
_TEMP_PREFIX = ".tmp-"


def blob_name(object_id: str) -> str:
    """The file name of an object's blob (see the module docstring)."""
    if not isinstance(object_id, str) or not object_id:
        raise UsageError(f"an object id must be a non-empty str, got {object_id!r}")
    if _PLAIN.fullmatch(object_id):
        return object_id
    return "~" + hashlib.sha256(object_id.encode("utf-8", "surrogatepass")).hexdigest()


class BlobWriter(Protocol):
    """A blob being written: ``write`` chunks, then ``commit`` (or ``abort``); ``contents``
    gives the bytes written, to check them before the commit."""

    def write(self, chunk: bytes | bytearray | memoryview) -> None: ...
    def contents(self) -> bytearray | mmap.mmap: ...
    def commit(self) -> int: ...
    def abort(self) -> None: ...
    def __enter__(self) -> BlobWriter: ...
    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BlobStore(Protocol):
    """Encoded object values by object id. Plain storage: no authorization, no metadata."""

    def name(self, object_id: str) -> str: ...
    def begin(self, object_id: str, *, replace: bool = False) -> BlobWriter: ...
    def put(self, object_id: str, value: Any, *, replace: bool = False) -> int: ...
    def get(self, object_id: str) -> Any: ...
    def read(self, object_id: str) -> bytearray | mmap.mmap: ...
    def open(self, object_id: str) -> IO[bytes]: ...
    def size(self, object_id: str) -> int: ...
    def exists(self, object_id: str) -> bool: ...
    def delete(self, object_id: str) -> None: ...
    def discard(self, object_id: str) -> None: ...
    def names(self) -> Iterator[str]: ...
    def remove_names(self, names: Iterable[str]) -> None: ...
    def remove_temp_files(self) -> list[str]: ...


class DirectoryBlobStore:
    """Blobs as files in one directory (created if missing).

    ``fsync=False`` skips the fsync calls: faster, but a power loss (not a killed process)
    may then lose or truncate recent blobs. ``direct=False`` never writes with O_DIRECT; it
    turns itself off when the file system refuses O_DIRECT.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, fsync: bool = True, direct: bool = True
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.direct = direct
        self.rename_lock = threading.Lock()

    def name(self, object_id: str) -> str:
        """The name under which :meth:`names` lists the blob of ``object_id``."""
        return blob_name(object_id)

    def path(self, object_id: str) -> Path:
        """Where the blob of ``object_id`` lives (whether or not it exists)."""
        return self.root / blob_name(object_id)

    def begin(self, object_id: str, *, replace: bool = False) -> FileWriter:
        """Start writing the blob of ``object_id`` in chunks (bounded memory); nothing is
        visible until ``commit()``. Use it as a context manager: leaving the block without a
        commit aborts."""
        temp = self.root / f"{_TEMP_PREFIX}{secrets.token_hex(8)}"
        return FileWriter(self, self.path(object_id), temp, replace)

    def put(self, object_id: str, value: Any, *, replace: bool = False) -> int:
        """Encode ``value`` with serde and store it; returns the blob's size in bytes. Large
        arrays are written from views of the value, never copied whole."""
        with self.begin(object_id, replace=replace) as writer:
            for part in serde.encode_parts(value):
                writer.write(part)
            return writer.commit()

    def read(self, object_id: str) -> bytearray | mmap.mmap:
        """The blob's bytes, writable, so that serde decodes arrays as views of them: a
        bytearray for small blobs, a private copy-on-write memory map for large ones."""
        try:
            with open(self.path(object_id), "rb") as f:
                return read_writable(f, os.fstat(f.fileno()).st_size)
        except FileNotFoundError:
            raise NotFound(f"no blob for object {object_id!r}") from None

    def get(self, object_id: str) -> Any:
        """The decoded value of ``object_id``."""
        return serde.decode(memoryview(self.read(object_id)))

    def open(self, object_id: str) -> IO[bytes]:
        """A binary file open on the blob, to stream its encoded bytes out."""
        try:
            return open(self.path(object_id), "rb")
        except FileNotFoundError:
            raise NotFound(f"no blob for object {object_id!r}") from None

    def size(self, object_id: str) -> int:
        """The blob's size in bytes."""
        try:
            return self.path(object_id).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no blob for object {object_id!r}") from None

    def exists(self, object_id: str) -> bool:
        return self.path(object_id).is_file()

    def delete(self, object_id: str) -> None:
        """Remove the blob; ``NotFound`` if there is none."""
        try:
            os.unlink(self.path(object_id))
        except FileNotFoundError:
            raise NotFound(f"no blob for object {object_id!r}") from None

    def discard(self, object_id: str) -> None:
        """Remove the blob if there is one."""
        try:
            os.unlink(self.path(object_id))
        except FileNotFoundError:
            pass

    def names(self) -> Iterator[str]:
        """The file names of all committed blobs (see :func:`blob_name`)."""
        for entry in os.scandir(self.root):
            if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                yield entry.name

    def remove_temp_files(self) -> list[str]:
        """Delete the temporary files of interrupted writes; returns their names. Call it
        only while no writer is open (at start, before serving)."""
        removed = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
                removed.append(entry.name)
        return removed

    def remove_names(self, names: Iterable[str]) -> None:
        """Delete the blobs with these file names (missing ones are skipped)."""
        for name in names:
            if "/" in name or os.sep in name or name.startswith("."):
                raise UsageError(f"{name!r} is not a blob name")
            try:
                os.unlink(self.root / name)
            except FileNotFoundError:
                pass

    def sync_dir(self) -> None:
        """fsync the directory, so that a rename survives a power loss."""
        if not self.fsync or os.name != "posix":
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
