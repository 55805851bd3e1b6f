"""The network node's HTTP API: the domain server's login and message endpoints, plus the registry.

Registrations, heartbeats and tunnel hellos are signed by domains' node keys, so they need no
account; listing domains, searching and the registry page are public; relaying needs nothing
either, because the network only carries sealed bytes between a client and a domain (only they
hold the keys). Every endpoint is declared in :data:`NETWORK_ACCESS` (default deny).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response

from unseen._version import __version__
from unseen.errors import AuthError, NotFound, UnseenError
from unseen.network._hub import Hub
from unseen.network._node import NetworkNode
from unseen.network._page import render_page
from unseen.network._rendezvous import Rendezvous
from unseen.server import ACCESS, Domain, ServerSettings, create_app, json_body
from unseen.transport import RELAY_MAX, TUNNEL_FRAME_MAX

__all__ = ["NETWORK_ACCESS", "RELAY_MAX", "TUNNEL_FRAME_MAX", "create_network_app"]

NET = "/network/v1"

#: Who may call each endpoint of a network node: the domain server's table, plus these.
NETWORK_ACCESS: dict[str, str] = {
    **ACCESS,
    "/": "anonymous (the registry page)",
    f"{NET}/info": "anonymous",
    f"{NET}/register": "signed by the domain's node key",
    f"{NET}/heartbeat": "signed by the domain's node key",
    f"{NET}/domains": "anonymous",
    f"{NET}/domains/{{ident}}": "anonymous",
    f"{NET}/search": "anonymous",
    f"{NET}/models": "anonymous",
    f"{NET}/relay/{{ident}}": "anonymous (sealed end to end: the network cannot read it)",
    f"{NET}/tunnel": "signed by an approved domain's node key (first frame)",
    f"{NET}/duet/offer": "signed by the Duet owner's session key",
    f"{NET}/duet/withdraw": "signed by the Duet owner's session key",
    f"{NET}/duet/claim/{{ident}}": "anyone holding the id (single-use, 128 random bits)",
    f"{NET}/duet/relay/{{ident}}": "anonymous (sealed end to end to the Duet owner's key)",
    f"{NET}/duet/tunnel": "signed by a live Duet offer's key (first frame)",
}


def _problem(exc: UnseenError) -> JSONResponse:
    status = 403 if isinstance(exc, AuthError) else 404 if isinstance(exc, NotFound) else 400
    return JSONResponse({"detail": exc.message, "kind": type(exc).__name__}, status_code=status)


def create_network_app(domain: Domain, settings: ServerSettings | None = None) -> FastAPI:
    """The ASGI app of a network node."""
    app = create_app(domain, settings, root_page=False)
    app.title = f"unseen network: {domain.node.name}"
    node: NetworkNode = domain.node  # type: ignore[assignment]
    registry = node.registry
    pool = app.state.service.pool
    hub = Hub(registry)
    app.state.hub = hub
    rendezvous = Rendezvous()
    duet_hub = Hub(rendezvous)
    app.state.rendezvous, app.state.duet_hub = rendezvous, duet_hub

    app.state.raw_body_paths += [f"{NET}/relay/", f"{NET}/duet/relay/"]  # their own limit

    async def _signed(request: Request, action: Any) -> Response:
        body = await json_body(request)  # a plain 400 unless JSON (the app's shared handler)
        try:
            return JSONResponse(await pool.run(action, body))
        except UnseenError as exc:
            return _problem(exc)

    @app.get(f"{NET}/info", tags=["network"], summary="The network's public identity")
    async def info() -> dict[str, Any]:
        return {
            "name": node.name,
            "id": node.id,
            "node_type": "network",
            "version": __version__,
            "public_key": domain.identity.public_key,
            "auto_approve": registry.auto_approve,
            "offline_after": registry.offline_after,
        }

    @app.post(f"{NET}/register", tags=["network"], summary="A domain's signed registration")
    async def register(request: Request) -> Response:
        return await _signed(request, registry.register)

    @app.post(f"{NET}/heartbeat", tags=["network"], summary="A domain's signed heartbeat")
    async def heartbeat(request: Request) -> Response:
        return await _signed(request, registry.heartbeat)

    @app.get(f"{NET}/domains", tags=["network"], summary="Approved domains, online or not")
    async def domains() -> list[dict[str, Any]]:
        return registry.domains()

    @app.get(f"{NET}/domains/{{ident}}", tags=["network"], summary="One domain and its signed doc")
    async def one_domain(ident: str) -> Response:
        try:
            found = registry.approved(ident)
        except UnseenError as exc:
            return _problem(exc)
        summary = next(d for d in registry.domains() if d["public_key"] == found.key)
        return JSONResponse({**summary, "registration": found.signed})

    @app.get(f"{NET}/search", tags=["network"], summary="Datasets' assets across domains")
    async def search(q: str = "", limit: int = 500) -> Response:
        try:
            return JSONResponse(registry.search(q, max(0, min(limit, 5000))))
        except UnseenError as exc:
            return _problem(exc)

    @app.get(f"{NET}/models", tags=["network"], summary="Models across domains (metadata)")
    async def models(q: str = "") -> Response:
        try:
            return JSONResponse(registry.models(q))
        except UnseenError as exc:
            return _problem(exc)

    async def _relay(through: Hub, find: Any, ident: str, request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > RELAY_MAX:
            return JSONResponse(
                {"detail": f"relayed messages need a length of at most {RELAY_MAX} bytes"},
                status_code=413,
            )
        try:
            key = find(ident)
        except UnseenError as exc:
            return _problem(exc)
        body = await request.body()
        status, payload = await through.relay(key, body)
        if status != 200:
            return JSONResponse({"detail": payload.decode()}, status_code=status)
        return Response(payload, media_type="application/octet-stream")

    @app.post(f"{NET}/relay/{{ident}}", tags=["network"], summary="Sealed bytes to a domain")
    async def relay(ident: str, request: Request) -> Response:
        return await _relay(hub, lambda i: registry.approved(i).key, ident, request)

    @app.post(f"{NET}/duet/offer", tags=["duet"], summary="A Duet owner's signed offer")
    async def duet_offer(request: Request) -> Response:
        return await _signed(request, rendezvous.offer)

    @app.post(f"{NET}/duet/withdraw", tags=["duet"], summary="A Duet owner ends its offers")
    async def duet_withdraw(request: Request) -> Response:
        return await _signed(request, lambda body: {"ended": rendezvous.withdraw(body)})

    @app.post(f"{NET}/duet/claim/{{ident}}", tags=["duet"], summary="Claim a Duet id (once)")
    async def duet_claim(ident: str) -> Response:
        try:
            return JSONResponse(rendezvous.claim(ident))
        except UnseenError as exc:
            return _problem(exc)

    @app.post(f"{NET}/duet/relay/{{ident}}", tags=["duet"], summary="Sealed bytes to a Duet owner")
    async def duet_relay(ident: str, request: Request) -> Response:
        return await _relay(duet_hub, rendezvous.key_of, ident, request)

    @app.websocket(f"{NET}/duet/tunnel")
    async def duet_tunnel(ws: WebSocket) -> None:
        await duet_hub.serve(ws)

    @app.websocket(f"{NET}/tunnel")
    async def tunnel(ws: WebSocket) -> None:
        await hub.serve(ws)

    @app.get("/", response_class=HTMLResponse, tags=["network"], summary="The registry page")
    async def page(q: str = "") -> HTMLResponse:
        return HTMLResponse(render_page(node.name, registry, q))

    paths = {getattr(r, "path", "") for r in app.routes}
    undeclared = sorted(p for p in paths if p not in NETWORK_ACCESS)
    if undeclared:
        raise RuntimeError(f"endpoints without a declared access rule (default deny): {undeclared}")
    return app
