"""Write the published protocol: ``docs/protocol.md`` and ``docs/protocol.schema.json``.

``PYTHONPATH=src python -m unseen.cli.protocol`` (``--check`` only compares). It lives on the
top layer because the documents need the facts of every layer below: the kinds, bodies,
values and errors from :mod:`unseen.messages.schema`, the roles of each kind from the domain's
and the network node's route tables (:func:`unseen.node.build_routes`,
:func:`unseen.network.build_network_routes`), the WebSocket framing from
:mod:`unseen.transport`, and the HTTP endpoints, JSON bodies and limits from the domain's app
(built in memory, not served).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from unseen.messages.schema import limit_entries, protocol_schema, render_markdown
from unseen.network import build_network_routes
from unseen.node import ROLES, Node, build_routes
from unseen.server import ACCESS, Domain, NodeIdentity, ServerSettings, create_app
from unseen.transport import AUTH_CLOSE_CODE, FLAG_AUTH, FLAG_REPLY, FLAG_TICKET, REQUEST_HEAD

__all__ = ["FILES", "REGENERATE", "documents", "transports", "write", "stale", "main"]

#: the generated files, relative to the repository root
FILES = ("docs/protocol.md", "docs/protocol.schema.json")
WS_PATH = "/api/v1/ws"
REGENERATE = "PYTHONPATH=src python -m unseen.cli.protocol"


def _roles() -> dict[str, list[str]]:
    """The roles each kind admits: a domain's kinds, then those only a network node has."""
    table = {**build_network_routes(), **build_routes()}
    return {kind: [r for r in ROLES if r in route.roles] for kind, route in table.items()}


def _openapi() -> dict[str, Any]:
    """The domain app's OpenAPI document, from an app over an in-memory node."""
    node = Node("protocol")
    identity = NodeIdentity(node_id=node.id, token_secret=b"\0" * 32, signing_seed=b"\0" * 32)
    domain = Domain(node, node.stores, identity, Path("."), "", None, False)
    return create_app(domain).openapi()


def _rename_refs(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _rename_refs(v) for k, v in value.items() if k != "title"}
        if isinstance(out.get("$ref"), str):
            out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/http.")
        return out
    if isinstance(value, list):
        return [_rename_refs(v) for v in value]
    return value


def _content(spec: dict[str, Any]) -> tuple[str, str | None]:
    """What a request body or a 200 answer holds, and the JSON body's schema name."""
    content = spec.get("content", {})
    if "application/octet-stream" in content:
        return "encoded (binary)", None
    schema = content.get("application/json", {}).get("schema", {})
    name = schema.get("$ref", "").removeprefix("#/components/schemas/")
    return (f"JSON [{name}](#http{name.lower()})", f"http.{name}") if name else ("", None)


def transports() -> dict[str, Any]:
    """``x-unseen.transports`` of the protocol document, with the JSON bodies as ``defs``."""
    api = _openapi()
    endpoints, bodies = [], []
    for path, methods in api["paths"].items():
        for method, op in methods.items():
            body, body_def = _content(op.get("requestBody", {}))
            answer, answer_def = _content(op.get("responses", {}).get("200", {}))
            bodies += [d for d in (body_def, answer_def) if d and d not in bodies]
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "access": ACCESS[path],
                    "summary": op.get("summary", ""),
                    "body": body or "none",
                    "answer": answer,
                }
            )
    endpoints.append(
        {
            "method": "GET (upgrade)",
            "path": WS_PATH,
            "access": ACCESS[WS_PATH],
            "summary": "a WebSocket carrying many messages (below)",
            "body": "frames",
            "answer": "frames",
        }
    )
    schemas = api.get("components", {}).get("schemas", {})
    defs = {f"http.{name}": _rename_refs(schema) for name, schema in schemas.items()}
    settings = ServerSettings()
    head = REQUEST_HEAD.format
    return {
        "defs": defs,
        "endpoints": endpoints,
        "json_bodies": bodies,
        "status_text": (
            "`token` endpoints need `Authorization: Bearer <token>` (the token of "
            "`POST /api/v1/login`, valid until its `expires_at`). The node's own errors travel "
            "inside an encoded reply with status 200; other statuses: 400 an undecodable "
            "message (an encoded `DecodeError` reply) or a bad JSON body, 401 a missing, "
            "invalid, expired or revoked token (JSON `{detail}`), 413 a body over the limit, "
            "422 a JSON field of the wrong type, 429 too many requests (an encoded "
            "`TooManyRequests` reply) or failed logins, with `Retry-After` in seconds."
        ),
        "large_text": (
            "Large values: `POST /api/v1/message` takes a body with a Content-Length or in "
            "chunked transfer encoding, up to `max_message_bytes`, and large replies come back "
            "streamed. A value may also be streamed ahead: `POST /api/v1/upload` takes the frame "
            "of one value (not a message; Content-Length required) and answers "
            '`{"upload": id, "bytes": n}`; a message then uses it: `object.send` with the field '
            "`upload` (the id) instead of `value`, or a `dataset.upload` asset whose `data` or "
            '`mock` is `{"upload": id}`. An upload is kept ten minutes, for its uploader, and '
            "used once."
        ),
        "websocket": {
            "path": WS_PATH,
            "text": (
                f"`{WS_PATH}` carries many messages on one connection; replies may come out of "
                "order and carry the id of their message. The first frame is the token (text); "
                "the node answers a JSON text frame, or closes the connection with code "
                f"{AUTH_CLOSE_CODE} and the reason. A later text frame replaces the token (send "
                "a fresh one before the old expires). Integers are little-endian (struct "
                f"`{head}` for the id)."
            ),
            "frames": [
                "client -> node  text    the token (first frame; a later one replaces it)",
                'node -> client  text    {"ok": true, "user_id": ..., "role": ...} once, '
                "after the first token",
                "client -> node  binary  u64 message id | encoded message",
                "node -> client  binary  u64 message id | u8 flag | payload",
                f"    flag {FLAG_REPLY}  payload = the encoded reply",
                f"    flag {FLAG_TICKET}  payload = a ticket (UTF-8): the reply is larger than "
                f"{settings.ws_inline_max >> 20} MiB;",
                "            GET /api/v1/reply/<ticket> fetches it, once, within 2 minutes",
                f"    flag {FLAG_AUTH}  payload = why the token was refused (UTF-8); the "
                "message was not handled",
                f"frames from the client may be up to ws_frame_max = "
                f"{settings.ws_frame_max >> 20} MiB; send larger messages over HTTP",
            ],
            "auth_close_code": AUTH_CLOSE_CODE,
            "flags": {"reply": FLAG_REPLY, "ticket": FLAG_TICKET, "auth": FLAG_AUTH},
        },
        "limits": limit_entries(ServerSettings, settings),
    }


def documents() -> dict[str, str]:
    """The text of each generated file (:data:`FILES`), as the code describes it now."""
    doc = protocol_schema(roles=_roles(), transports=transports())
    return {
        FILES[0]: render_markdown(doc),
        FILES[1]: json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
    }


def write(root: Path) -> list[Path]:
    """Write the documents under the repository ``root``; the paths written."""
    written = []
    for name, text in documents().items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path) -> list[str]:
    """The generated files under ``root`` that differ from what the code generates now."""
    return [
        name
        for name, text in documents().items()
        if not (root / name).is_file() or (root / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unseen.cli.protocol", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root")
    parser.add_argument("--check", action="store_true", help="only say whether they are stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale(args.root)
        for name in old:
            print(f"{name} is stale: regenerate it with {REGENERATE}")
        return 1 if old else 0
    for path in write(args.root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
