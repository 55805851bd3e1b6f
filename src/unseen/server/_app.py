"""The domain server's HTTP API (FastAPI): login, messages, health, node info, WebSocket.

Every endpoint declares who may call it in :data:`ACCESS`; an endpoint missing there stops
the app from being built (default deny). Anonymous callers reach only login, health, node
info and the API docs; everything else needs a token, and the node's route table then
checks the caller's role for each message kind.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import FastAPI, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from unseen._version import __version__
from unseen.errors import (
    AuthError,
    DecodeError,
    PermissionDenied,
    QuotaExceeded,
    TooManyAttempts,
    UnseenError,
)
from unseen.messages import PROTOCOL_VERSION, SPEAKS, Reply, decode_reply, encode_reply_parts
from unseen.node import check_stored, install_agents
from unseen.server._agent import AGENTS
from unseen.server._body import BodyTooLarge, binary_response, read_body
from unseen.server._domain import Domain
from unseen.server._page import root_page as page
from unseen.server._problems import BadBody, install_problems
from unseen.server._service import ServerSettings, Service
from unseen.server._uploads import receive_upload
from unseen.server._websocket import install_websocket

API = "/api/v1"
SMALL_BODY = 64 * 1024  # bodies up to this size are read before the token is checked

#: Who may call each endpoint. "anonymous": anyone; "token": a logged-in user (the node's
#: route table then checks the role for each message kind).
ACCESS: dict[str, str] = {
    "/": "anonymous",
    f"{API}/health": "anonymous",
    f"{API}/info": "anonymous",
    f"{API}/login": "anonymous",
    f"{API}/logout": "token",
    f"{API}/message": "token",
    f"{API}/reply/{{ticket}}": "token",
    f"{API}/upload": "token",
    f"{API}/ws": "token",
    "/docs": "anonymous",
    "/docs/oauth2-redirect": "anonymous",
    "/openapi.json": "anonymous",
}

DESCRIPTION = """\
An **unseen** domain node: private data stays here; data scientists compute through pointers,
and values leave only through releases.

Clients normally speak through `unseen.login(url, email, password)`. The binary endpoints carry
serde-encoded messages (see `unseen.messages`): `POST /api/v1/message` over HTTP and
`/api/v1/ws` over a WebSocket. Errors of the node travel *inside* the reply; HTTP 401 means a
missing or invalid token, 413 a body over the node's limit, 400 an undecodable body, 422 a JSON
body with fields of the wrong type (the answer names the field, never echoes the input).
"""


class LoginBody(BaseModel):
    email: str = Field(max_length=320, examples=["ana@uni.edu"])
    password: str = Field(max_length=1024, examples=["ana-pw-123"])


class LoginReply(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>'")
    expires_at: float = Field(description="Unix time after which the token is refused")
    user_id: str
    role: str
    name: str


class LogoutReply(BaseModel):
    logged_out: bool = Field(description="the token is refused from now on")


class Problem(BaseModel):
    detail: str


class UploadReply(BaseModel):
    upload: str = Field(description='refer to the value as {"upload": <id>} in the next message')
    bytes: int


class Health(BaseModel):
    status: str
    name: str
    version: str


class Info(BaseModel):
    name: str
    id: str
    version: str
    protocol_version: list[int] = Field(
        description="the newest protocol version the node speaks (for clients before 1.0's "
        "negotiation)"
    )
    protocol_versions: list[list[int]] = Field(
        description="every protocol version [major, minor] the node speaks: a client picks "
        "the highest it speaks too (docs/protocol.md)"
    )
    public_key: str = Field(description="the node's ed25519 verify key, hex")
    max_message_bytes: int


_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
# /message reads its token itself (no dependency to solve per message) and says so here
_MESSAGE_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": _BINARY},
    "security": [{"HTTPBearer": []}],
}
_MESSAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the encoded reply (the node's errors travel inside it)",
        "content": _BINARY,
    },
    429: {
        "description": "an encoded TooManyRequests reply: the caller's graphs are refused for "
        "Retry-After seconds (per-user quotas)",
        "content": _BINARY,
    },
    400: {
        "description": "an undecodable message: an encoded DecodeError reply",
        "content": _BINARY,
    },
    401: {"description": "missing, invalid or expired token", "model": Problem},
    413: {"description": "the body exceeds the node's message limit", "model": Problem},
}


BEARER = HTTPBearer(auto_error=False, description="the token from POST /api/v1/login")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def _header_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


def create_app(
    domain: Domain, settings: ServerSettings | None = None, *, root_page: bool = True
) -> FastAPI:
    """The ASGI app of a domain node (``root_page=False``: "/" is left to the caller, as the
    network node's registry page). From then on the domains of this process may join networks:
    the domain's membership agents (:mod:`unseen.server._agent`) are installed."""
    install_agents(AGENTS)
    service = Service(domain, settings or ServerSettings())
    node = domain.node
    app = FastAPI(
        title=f"unseen domain: {node.name}",
        version=__version__,
        description=DESCRIPTION,
        redoc_url=None,
    )
    app.state.service = service
    # bad bodies anywhere: a plain 4xx that never echoes the input (binary endpoints keep
    # their own, larger limit)
    install_problems(app, service.settings.max_json_bytes, [f"{API}/message", f"{API}/upload"])

    if root_page:

        @app.get("/", include_in_schema=False)
        async def root(request: Request) -> HTMLResponse:
            return HTMLResponse(page(node.name, str(request.base_url).rstrip("/")))

    @app.get(f"{API}/health", response_model=Health, tags=["public"], summary="Is the node up?")
    async def health() -> Health:
        return Health(status="ok", name=node.name, version=__version__)

    @app.get(
        f"{API}/info", response_model=Info, tags=["public"], summary="The node's public identity"
    )
    async def info() -> Info:
        return Info(
            name=node.name,
            id=node.id,
            version=__version__,
            protocol_version=list(PROTOCOL_VERSION),
            protocol_versions=[list(v) for v in SPEAKS],
            public_key=domain.identity.public_key,
            max_message_bytes=service.settings.max_message_bytes,
        )

    @app.post(
        f"{API}/login",
        response_model=LoginReply,
        responses={
            400: {"model": Problem, "description": "a body that is not JSON"},
            401: {"model": Problem, "description": "wrong email or password"},
            413: {"model": Problem, "description": "a body over the node's JSON limit"},
            429: {
                "model": Problem,
                "description": "too many failed logins for this account or address: wait "
                "Retry-After seconds",
            },
        },
        tags=["public"],
        summary="Exchange an email and password for a short-lived token",
    )
    async def login(body: LoginBody, request: Request) -> Any:
        address = request.client.host if request.client is not None else "unknown"
        try:
            result = await service.pool.run(node.auth.login, body.email, body.password, address)
        except TooManyAttempts as exc:
            return JSONResponse(
                {"detail": exc.message},
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
            )
        except AuthError as exc:
            return _unauthorized(exc.message)
        return LoginReply(**result)

    @app.post(
        f"{API}/logout",
        response_model=LogoutReply,
        responses={
            400: {"model": Problem, "description": "a body (logout takes none)"},
            401: _MESSAGE_RESPONSES[401],
        },
        tags=["public"],
        summary="Revoke the token of this request (any logged-in user)",
    )
    async def logout(request: Request, credentials: Credentials) -> Any:
        if await request.body():
            raise BadBody("logout takes no body: send only 'Authorization: Bearer <token>'")
        try:
            await service.pool.run(service.logout, _token(credentials))
        except AuthError as exc:
            return _unauthorized(exc.message)
        return LogoutReply(logged_out=True)

    @app.post(
        f"{API}/message",
        response_class=Response,
        responses=_MESSAGE_RESPONSES,
        openapi_extra=_MESSAGE_DOC,
        tags=["messages"],
        summary="Send one encoded message to the node (any logged-in user; roles per kind)",
    )
    async def message(request: Request) -> Response:
        token = _header_token(request)
        declared = request.headers.get("content-length", "")
        small = declared.isdigit() and int(declared) <= SMALL_BODY
        if not small:  # check the token before accepting a large body
            try:
                await service.pool.run(service.authenticate, token)
            except AuthError as exc:
                return _unauthorized(exc.message)
        try:
            data = await read_body(request, service.settings.max_message_bytes)
        except BodyTooLarge as exc:
            return JSONResponse({"detail": str(exc)}, status_code=413)
        except DecodeError as exc:
            return binary_response(encode_reply_parts(Reply.failure(exc)), 400)
        here, work = service.triage(data)  # small reads are answered on the event loop
        del data
        if here:
            status, parts = service.process_with_token(token, work)
        else:
            status, parts = await service.pool.run(service.process_with_token, token, work)
        del work
        if status == 401:
            return _unauthorized(b"".join(parts).decode())
        if status == 429:  # the reply is a TooManyRequests error: say when to come back
            response = binary_response(parts, status, service.settings.stream_min)
            retry = decode_reply(b"".join(parts)).error or {}
            wait = retry.get("retry_after")
            seconds = math.ceil(wait) if isinstance(wait, (int, float)) else 1
            response.headers["Retry-After"] = str(max(1, seconds))
            return response
        return binary_response(parts, status, service.settings.stream_min)

    @app.post(
        f"{API}/upload",
        response_model=UploadReply,
        responses={
            400: {"model": Problem, "description": "an undecodable value"},
            401: _MESSAGE_RESPONSES[401],
            403: {"model": Problem, "description": "the caller's role may not upload"},
            413: {
                "model": Problem,
                "description": "the body exceeds the node's message limit, or the caller's "
                "stored-bytes quota (then 'kind' is 'QuotaExceeded')",
            },
        },
        openapi_extra=_MESSAGE_DOC,
        tags=["messages"],
        summary="Stream one large serde-encoded value ahead of the message that uses it",
    )
    async def upload(request: Request) -> Any:
        try:
            principal = await service.pool.run(service.authenticate, _header_token(request))
        except AuthError as exc:
            return _unauthorized(exc.message)
        try:
            staged = await service.pool.run(node.begin_upload, principal)
        except QuotaExceeded as exc:
            return JSONResponse({"detail": exc.message, "kind": "QuotaExceeded"}, status_code=413)
        except PermissionDenied as exc:
            return JSONResponse({"detail": exc.message}, status_code=403)
        except UnseenError as exc:
            return JSONResponse({"detail": exc.message}, status_code=400)
        try:
            buf = await receive_upload(request, staged, service.settings.max_message_bytes)
            await service.pool.run(check_stored, node, principal, len(buf))  # stored-bytes quota
            await service.pool.run(staged.finish, node, buf)  # decodes: the check
            size = len(buf)
            del buf
        except BodyTooLarge as exc:
            staged.abort()
            return JSONResponse({"detail": str(exc)}, status_code=413)
        except QuotaExceeded as exc:
            staged.abort()
            return JSONResponse({"detail": exc.message, "kind": "QuotaExceeded"}, status_code=413)
        except UnseenError as exc:
            staged.abort()
            return JSONResponse({"detail": exc.message}, status_code=400)
        except BaseException:
            staged.abort()
            raise
        return UploadReply(upload=staged.id, bytes=size)

    @app.get(
        f"{API}/reply/{{ticket}}",
        response_class=Response,
        responses={
            200: _MESSAGE_RESPONSES[200],
            401: _MESSAGE_RESPONSES[401],
            404: {"model": Problem},
        },
        tags=["messages"],
        summary="Fetch a large reply to a WebSocket message, once, by its ticket",
    )
    async def reply(ticket: str, credentials: Credentials) -> Response:
        try:
            principal = await service.pool.run(service.authenticate, _token(credentials))
        except AuthError as exc:
            return _unauthorized(exc.message)
        parts = service.tickets.take(ticket, principal.user_id)
        if parts is None:
            return JSONResponse(
                {"detail": "no such reply: tickets work once, for 2 minutes"}, status_code=404
            )
        return binary_response(parts, 200, service.settings.stream_min)

    install_websocket(app, service)
    check_access(app)
    return app


def check_access(app: FastAPI) -> None:
    """Refuse to build an app with an endpoint whose callers are not declared."""
    paths = {getattr(r, "path", "") for r in app.routes}
    undeclared = sorted(p for p in paths if p not in ACCESS)
    if undeclared:
        raise RuntimeError(f"endpoints without a declared access rule (default deny): {undeclared}")
