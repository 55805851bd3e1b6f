"""``POST /api/v1/upload``: a large value streamed into the object store while it arrives.

The body is the serde encoding of one value (not a message). It is received into one
preallocated buffer (as a message body is) and, at the same time, a writer thread appends
each received range to the object store's blob writer (``ObjectStore.begin_put``), so that
the network and the disk overlap. When the body is complete the buffer is decoded once, as
a check (an undecodable value is refused and nothing is kept), and the upload is staged on
the node: the caller's next ``object.send`` or ``dataset.upload`` refers to it as
``{"upload": id}``. ``object.send`` commits it (one fsync, then the row); until then, and for
an interrupted or refused upload, nothing is visible (a temporary blob file at most, removed
at once or at the next start).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import TYPE_CHECKING

from starlette.requests import Request

from unseen.errors import DecodeError
from unseen.server._body import BodyTooLarge

if TYPE_CHECKING:
    from unseen.node._objects import StagedUpload

#: received bytes are handed to the writer thread in ranges of at least this size
WRITE_BATCH = 4 * 1024 * 1024


class _Writer:
    """A thread that writes ranges of the receive buffer to the staged upload, in order."""

    def __init__(self, staged: StagedUpload, buf: bytearray) -> None:
        self._staged = staged
        self._view = memoryview(buf)
        self._queue: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="unseen-upload", daemon=True)
        self._thread.start()

    def write(self, start: int, end: int) -> None:
        self._queue.put((start, end))

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        error: BaseException | None = None
        while (item := self._queue.get()) is not None:
            if error is None:
                try:
                    self._staged.write(self._view[item[0] : item[1]])
                except BaseException as exc:  # reported when the body is complete
                    error = exc
        self._view.release()
        self._loop.call_soon_threadsafe(_settle, self.done, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(None)


async def receive_upload(request: Request, staged: StagedUpload, limit: int) -> bytearray:
    """Receive the body into one buffer while writing it to ``staged``; returns the buffer.
    Raises BodyTooLarge or DecodeError (a body that does not match its Content-Length); the
    caller aborts ``staged`` on any error."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise DecodeError("an upload needs a Content-Length")
    size = int(declared)
    if size > limit:
        raise BodyTooLarge(size, limit)
    buf = bytearray(size)
    writer = _Writer(staged, buf)
    pos = flushed = 0
    try:
        async for chunk in request.stream():
            end = pos + len(chunk)
            if end > size:
                raise DecodeError("the body is longer than its Content-Length")
            buf[pos:end] = chunk
            pos = end
            if pos - flushed >= WRITE_BATCH:
                writer.write(flushed, pos)
                flushed = pos
        if pos != size:
            raise DecodeError(f"the body ended after {pos:,} of {size:,} bytes")
        if flushed < pos:
            writer.write(flushed, pos)
    finally:
        writer.close()
        await asyncio.shield(writer.done)  # the thread lets go of the buffer before we return
    return buf
