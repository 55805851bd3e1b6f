"""``POST /api/v1/upload``: a large value streamed into the object store while it arrives.

The body is the serde encoding of one value (not a message). It is received into a few
page-aligned buffers of :data:`WRITE_BATCH` bytes, used in turn: a writer thread appends each
full buffer to the object store's writer (``ObjectStore.begin_put``) and hands it back, so
that the network and the disk overlap, the server holds a few MiB per upload rather than the
value, and the blob writer can write the buffers with O_DIRECT straight from where they are.
When the body is complete, the bytes written are read back (a memory map of the temporary
file: decoding an array touches only its header) and decoded once, as a check: an
undecodable value is refused and nothing is kept. The upload is then staged on the node: the
caller's next ``object.send`` or ``dataset.upload`` refers to it as ``{"upload": id}`` and
commits it (one fsync, then the row), as the object or as a dataset's asset. Until then, and
for an interrupted or refused upload, nothing is visible (a temporary blob file at most,
removed at once or at the next start).
"""

from __future__ import annotations

import asyncio
import mmap
import queue
import threading
from collections import deque
from typing import TYPE_CHECKING

from starlette.requests import Request

from unseen.errors import DecodeError
from unseen.server._body import BodyTooLarge

if TYPE_CHECKING:
    from unseen.node import StagedUpload

#: the size of each receive buffer (a multiple of the page size)
WRITE_BATCH = 4 * 1024 * 1024
#: at most this many buffers per upload; receiving waits while all are being written
BUFFERS = 8


class _Writer:
    """A thread that writes full receive buffers to the staged upload, in order, and hands
    them back for reuse; at the end it reads back what was written (``done``'s result)."""

    def __init__(self, staged: StagedUpload) -> None:
        self._staged = staged
        self._queue: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._free: deque[mmap.mmap] = deque()
        self._made = 0
        self._complete = False
        self._returned: asyncio.Event = asyncio.Event()
        self.done: asyncio.Future[bytearray | mmap.mmap] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="unseen-upload", daemon=True)
        self._thread.start()

    async def buffer(self) -> mmap.mmap:
        """A free buffer (waits while every buffer is queued or being written)."""
        while not self._free:
            if self._made < BUFFERS:
                self._made += 1
                return mmap.mmap(-1, WRITE_BATCH)
            self._returned.clear()
            await self._returned.wait()
        return self._free.popleft()

    def write(self, buf: mmap.mmap, n: int) -> None:
        self._queue.put((buf, n))

    def close(self, complete: bool) -> None:
        """No more buffers; read back what was written if the body was ``complete``."""
        self._complete = complete
        self._queue.put(None)

    def _give_back(self, buf: mmap.mmap) -> None:
        self._free.append(buf)
        self._returned.set()

    def _run(self) -> None:
        error: BaseException | None = None
        while (item := self._queue.get()) is not None:
            buf, n = item
            if error is None:
                try:
                    with memoryview(buf) as view, view[:n] as part:
                        self._staged.write(part)
                except BaseException as exc:  # reported when the body is complete
                    error = exc
            self._loop.call_soon_threadsafe(self._give_back, buf)
        written: bytearray | mmap.mmap = bytearray()
        if error is None and self._complete:
            try:
                written = self._staged.contents()
            except BaseException as exc:
                error = exc
        self._loop.call_soon_threadsafe(_settle, self.done, error, written)


def _settle(
    future: asyncio.Future[bytearray | mmap.mmap],
    error: BaseException | None,
    written: bytearray | mmap.mmap,
) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(written)


async def receive_upload(request: Request, staged: StagedUpload, limit: int) -> memoryview:
    """Receive the body while writing it to ``staged``; returns the bytes written (writable,
    to decode as the check). Raises BodyTooLarge or DecodeError (a body that does not match
    its Content-Length); the caller aborts ``staged`` on any error."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise DecodeError("an upload needs a Content-Length")
    size = int(declared)
    if size > limit:
        raise BodyTooLarge(size, limit)
    writer = _Writer(staged)
    received = filled = 0
    complete = False
    try:
        buf = await writer.buffer()
        async for chunk in request.stream():
            received += len(chunk)
            if received > size:
                raise DecodeError("the body is longer than its Content-Length")
            view = memoryview(chunk)
            while view:
                n = min(len(view), WRITE_BATCH - filled)
                buf[filled : filled + n] = view[:n]
                filled += n
                view = view[n:]
                if filled == WRITE_BATCH:
                    writer.write(buf, filled)
                    buf, filled = await writer.buffer(), 0
        if received != size:
            raise DecodeError(f"the body ended after {received:,} of {size:,} bytes")
        if filled:
            writer.write(buf, filled)
        complete = True
    finally:
        writer.close(complete)
        written = await asyncio.shield(writer.done)
    return memoryview(written)
