"""The WebSocket endpoint: one persistent connection carrying many small messages.

The frame format is documented in :mod:`unseen.transport._ws`. Small messages of kinds that
only read (:data:`unseen.server._service.INLINE_KINDS`) are answered on the event loop at
once: a hop to a thread would cost more than they do. Every other message runs as its own
task in the worker pool, so a blocked ``request.wait`` does not hold up the others; replies go
back tagged with the request id, in whatever order they finish. The token is checked again
for every message (a deleted user or an expired token stops at once).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket

from unseen.errors import AuthError
from unseen.transport import AUTH_CLOSE_CODE, REQUEST_HEAD, pack_reply

if TYPE_CHECKING:
    from unseen.server._service import Service

log = logging.getLogger("unseen.server")

FIRST_FRAME_TIMEOUT_S = 10.0


def _text_of(message: Mapping[str, Any]) -> str | None:
    text = message.get("text")
    if isinstance(text, str):
        return text
    data = message.get("bytes")
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return None


def install_websocket(app: FastAPI, service: Service) -> None:
    @app.websocket("/api/v1/ws")
    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        try:
            first = await asyncio.wait_for(ws.receive(), FIRST_FRAME_TIMEOUT_S)
        except TimeoutError:
            await ws.close(code=AUTH_CLOSE_CODE, reason="send a token as the first frame")
            return
        if first.get("type") == "websocket.disconnect":
            return
        token = _text_of(first)
        try:
            principal = await service.pool.run(service.authenticate, token)
        except AuthError as exc:
            await ws.close(code=AUTH_CLOSE_CODE, reason=exc.message[:120])
            return
        await ws.send_text(
            json.dumps({"ok": True, "user_id": principal.user_id, "role": principal.role})
        )
        await _serve(ws, service, token or "")


async def _serve(ws: WebSocket, service: Service, token: str) -> None:
    in_flight = asyncio.Semaphore(service.settings.ws_max_in_flight)
    send_lock = asyncio.Lock()
    tasks: set[asyncio.Task[None]] = set()
    state = {"token": token}

    async def one(request_id: int, work: Any) -> None:
        try:
            flag, payload = await service.pool.run(service.process_frame, state["token"], work)
            del work
            frame = pack_reply(request_id, flag, payload)
            del payload
            async with send_lock:
                await ws.send_bytes(frame)
        except Exception as exc:  # a closed socket: the client reconnects
            log.debug("websocket reply failed: %s", exc)
        finally:
            in_flight.release()

    try:
        while True:
            message = await ws.receive()
            if message.get("type") == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:  # a text frame: a new token
                new = _text_of(message)
                try:
                    await service.pool.run(service.authenticate, new)
                except AuthError as exc:
                    await ws.close(code=AUTH_CLOSE_CODE, reason=exc.message[:120])
                    break
                state["token"] = new or ""
                continue
            if len(data) < REQUEST_HEAD.size:
                continue
            (request_id,) = REQUEST_HEAD.unpack_from(data)
            here, work = service.triage(memoryview(data)[REQUEST_HEAD.size :])
            del data
            if here:
                flag, payload = service.process_frame(state["token"], work)
                del work
                async with send_lock:
                    await ws.send_bytes(pack_reply(request_id, flag, payload))
                continue
            await in_flight.acquire()
            task = asyncio.create_task(one(request_id, work))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    except Exception as exc:
        log.debug("websocket closed: %s", exc)
    finally:
        for task in tasks:
            task.cancel()
