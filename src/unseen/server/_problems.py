"""Bad request bodies get a plain 4xx message that never echoes the input.

One place for every endpoint of a domain and a network node: an exception handler for
FastAPI's validation errors (whose default answer echoes the raw body, and fails with a 500
when that body is not UTF-8), a shared JSON reader for endpoints that parse bodies
themselves, and an ASGI middleware that caps the size of every body except the binary
endpoints' (which have their own, larger limit).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_WHOLE_BODY = {"json_invalid", "model_attributes_type", "dict_type", "model_type"}


class BadBody(Exception):
    """A body that is not what the endpoint reads: answered 400 (413 when too large)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def problem(message: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _expected(request: Request) -> str:
    """What the endpoint's body should be, from its declared model (never from the input)."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        for param in route.dependant.body_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                fields = ", ".join(f'"{name}"' for name in model.model_fields)
                return f"a JSON object with the fields {fields} (Content-Type: application/json)"
    return "a JSON object (Content-Type: application/json)"


def _where(loc: Any) -> str:
    """An error's location, from names the schema declares only (no input keys or values)."""
    names = [str(p) for p in loc if isinstance(p, str) and _NAME.fullmatch(p)]
    return ".".join(names) or "the request"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    whole = [
        e for e in errors if e.get("type") in _WHOLE_BODY or tuple(e.get("loc", ())) == ("body",)
    ]
    if whole or not errors:
        return problem(f"the body must be {_expected(request)}", 400)
    found = sorted({f"{_where(e.get('loc', ()))}: {str(e.get('msg', 'invalid'))}" for e in errors})
    return problem(
        "invalid request: " + "; ".join(found) + f" (the body must be {_expected(request)})", 422
    )


async def _bad_body(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadBody)
    return problem(exc.message, exc.status)


async def json_body(request: Request) -> Any:
    """The parsed JSON body; BadBody (a plain 400) for anything that is not JSON."""
    data = await request.body()
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadBody("the body must be JSON (Content-Type: application/json)") from None


class BodyLimit:
    """Refuses (413) bodies larger than ``limit`` on every path but the ``raw`` prefixes.

    A declared Content-Length above the limit is refused before reading; a body without one
    is read up to the limit and handed on, so no endpoint ever holds more of it."""

    def __init__(self, app: ASGIApp, limit: int, raw: list[str]) -> None:
        self.app = app
        self.limit = limit
        self.raw = raw  # shared with the app: a network node adds its relay paths

    def _refuse(self) -> JSONResponse:
        return problem(
            f"the body is larger than this endpoint accepts (at most {self.limit:,} bytes)", 413
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(tuple(self.raw)):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


_PLAIN = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "title": "Problem",
}


def _document(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI schema, with its 422 answers documented as the plain message they are."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422")
                if answer is not None:
                    answer["description"] = "a field of the wrong type: a plain message naming it"
                    answer["content"] = {"application/json": {"schema": _PLAIN}}
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    return openapi


def install_problems(app: FastAPI, json_limit: int, raw: list[str]) -> None:
    """Plain 4xx answers to bad bodies on every endpoint of ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(BadBody, _bad_body)
    app.add_middleware(BodyLimit, limit=json_limit, raw=raw)
    app.state.raw_body_paths = raw
    app.openapi = _document(app)  # type: ignore[method-assign]
