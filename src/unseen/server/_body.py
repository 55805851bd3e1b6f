"""Request bodies in, reply bytes out, with bounded memory.

An upload is read into one preallocated bytearray (its Content-Length; grown only for a
chunked body) up to a size limit, then decoded zero-copy: arrays in the message are views
of that buffer, so a large upload costs about its own size. Large replies stream from
:func:`unseen.serde.encode_parts` without being joined into one buffer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from unseen.errors import DecodeError

STREAM_CHUNK = 4 * 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        what = f"{size:,} bytes" if size is not None else "larger than that"
        super().__init__(
            f"the message is {what}; this node accepts at most {limit:,} bytes per message "
            "(send less at once, or start the node with a larger --max-message-bytes)"
        )


async def read_body(request: Request, limit: int) -> bytearray:
    """The whole body in one writable buffer; BodyTooLarge past ``limit``, DecodeError if
    the body does not match its Content-Length."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise DecodeError(f"invalid Content-Length {declared!r}") from None
        if size > limit:
            raise BodyTooLarge(size, limit)
        buf = bytearray(size)  # zero pages until written: a false length costs nothing
        pos = 0
        async for chunk in request.stream():
            end = pos + len(chunk)
            if end > size:
                raise DecodeError("the body is longer than its Content-Length")
            buf[pos:end] = chunk
            pos = end
        if pos != size:
            raise DecodeError(f"the body ended after {pos:,} of {size:,} bytes")
        return buf
    grown = bytearray()
    async for chunk in request.stream():
        grown += chunk
        if len(grown) > limit:
            raise BodyTooLarge(None, limit)
    return grown


async def _stream(parts: list[bytes | memoryview]) -> AsyncIterator[bytes | memoryview]:
    for part in parts:
        view = memoryview(part).cast("B")
        for start in range(0, len(view), STREAM_CHUNK):
            yield view[start : start + STREAM_CHUNK]


def binary_response(
    parts: list[bytes | memoryview], status: int = 200, stream_min: int = 1 << 20
) -> Response:
    """An octet-stream response of the concatenated parts, streamed when large."""
    total = sum(memoryview(p).nbytes for p in parts)
    if total < stream_min:
        return Response(b"".join(parts), status_code=status, media_type="application/octet-stream")
    return StreamingResponse(
        _stream(parts),
        status_code=status,
        media_type="application/octet-stream",
        headers={"Content-Length": str(total)},
    )
