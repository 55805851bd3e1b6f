"""A client of an unseen node written from docs/protocol.md alone: it imports nothing of unseen.

An example for clients in other languages: httpx for HTTP, websockets for the WebSocket,
msgpack for the header, numpy only to turn array bytes into arrays (the documented layout:
dtype string, shape, order, raw bytes). Every section of docs/protocol.md it uses is named
where it is used. It knows the typed values it needs (tuple, ndarray, numpy scalar, Ref,
Action) and refuses the others with an error naming them.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgpack
import numpy as np
from websockets.sync.client import connect

SPEAKS = [(1, 0)]  # the protocol versions this client speaks

# "Encoding": the frame's prefix and alignment, the type codes this client knows
PREFIX = struct.Struct("<3sBIQ")
MAGIC, WIRE_VERSION, ALIGN, INLINE_MAX = b"UNS", 1, 64, 64 * 1024
TUPLE, NDARRAY, NPSCALAR, REF, ACTION = 1, 16, 17, 64, 65
# "WebSocket": the message id before each frame, and the reply's flag after it
REQUEST_HEAD, REPLY_HEAD = struct.Struct("<Q"), struct.Struct("<QB")
FLAG_REPLY, FLAG_TICKET, FLAG_AUTH = 0, 1, 2


class NodeError(Exception):
    """A reply with ``ok`` false: ``kind`` is the error's wire name ("Errors")."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.kind = str(error.get("kind", "UnseenError"))
        self.message = str(error.get("message", ""))
        self.fields = {k: v for k, v in error.items() if k not in ("kind", "message")}
        super().__init__(f"{self.kind}: {self.message}")


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Action:
    id: str
    kind: str  # method, function or attr
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def _marker(code: int) -> msgpack.ExtType:
    return msgpack.ExtType(code, b"")  # packs as c7 00 <code>


def _little_endian(array: np.ndarray) -> np.ndarray:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    return np.ascontiguousarray(array, dtype=dtype)


def _to_wire(value: Any, buffers: list[bytes]) -> Any:
    """A value as msgpack-ready data: typed values as [ext(code), field, ...]."""
    if isinstance(value, Ref):
        return [_marker(REF), value.id]
    if isinstance(value, Action):
        args = _to_wire(tuple(value.args), buffers)
        kwargs = {k: _to_wire(v, buffers) for k, v in value.kwargs.items()}
        return [_marker(ACTION), [value.id, value.kind, value.name, args, kwargs]]
    if isinstance(value, tuple):
        return [_marker(TUPLE), *(_to_wire(v, buffers) for v in value)]
    if isinstance(value, np.ndarray):
        array = _little_endian(value)
        data: bytes | int = array.tobytes()
        if len(data) >= INLINE_MAX:  # large data goes out of band, referred to by index
            buffers.append(data)
            data = len(buffers) - 1
        return [_marker(NDARRAY), array.dtype.str, list(array.shape), "C", data]
    if isinstance(value, list):
        return [_to_wire(v, buffers) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v, buffers) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    raise TypeError(f"this client does not send {type(value).__name__} values")


def encode(value: Any) -> bytes:
    """The frame of "Encoding": prefix, buffer lengths, header, aligned buffers."""
    buffers: list[bytes] = []
    header = msgpack.packb(_to_wire(value, buffers), use_bin_type=True)
    out = bytearray(PREFIX.pack(MAGIC, WIRE_VERSION, len(buffers), len(header)))
    out += struct.pack(f"<{len(buffers)}Q", *map(len, buffers)) + header
    for data in buffers:
        out += bytes(-len(out) % ALIGN) + data
    return bytes(out)


def _frame(data: bytes) -> tuple[Any, list[bytes]]:
    """The msgpack header (ext markers as msgpack.ExtType) and the out-of-band buffers."""
    magic, version, nbuf, hlen = PREFIX.unpack_from(data, 0)
    if magic != MAGIC or version != WIRE_VERSION:
        raise ValueError(f"not an unseen frame of wire version {WIRE_VERSION}")
    sizes = struct.unpack_from(f"<{nbuf}Q", data, PREFIX.size)
    start = PREFIX.size + 8 * nbuf
    header = msgpack.unpackb(data[start : start + hlen], raw=False, strict_map_key=False)
    buffers, pos = [], start + hlen
    for size in sizes:
        pos += -pos % ALIGN
        buffers.append(data[pos : pos + size])
        pos += size
    return header, buffers


def _from_wire(value: Any, buffers: list[bytes]) -> Any:
    if isinstance(value, dict):
        return {k: _from_wire(v, buffers) for k, v in value.items()}
    if not isinstance(value, list):
        return value
    if not value or not isinstance(value[0], msgpack.ExtType):
        return [_from_wire(v, buffers) for v in value]
    code, fields = value[0].code, value[1:]
    if code == TUPLE:
        return tuple(_from_wire(v, buffers) for v in fields)
    if code == NDARRAY:
        dtype, shape, order, data = fields
        raw = buffers[data] if isinstance(data, int) else data
        if order == "C":
            return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape[::-1]).T
    if code == NPSCALAR:
        dtype, data = fields
        return np.frombuffer(data, dtype=np.dtype(dtype))[0]
    if code == REF:
        return Ref(fields[0])
    raise TypeError(f"this client does not read typed values of code {code}")


def decode(data: bytes) -> Any:
    header, buffers = _frame(data)
    return _from_wire(header, buffers)


def header_json(data: bytes) -> Any:
    """The header as the JSON that docs/protocol.schema.json describes ("The schema")."""

    def as_json(value: Any) -> Any:
        if isinstance(value, msgpack.ExtType):
            return {"$ext": value.code}
        if isinstance(value, bytes):
            return {"$bin": base64.b64encode(value).decode()}
        if isinstance(value, list):
            return [as_json(v) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: as_json(v) for k, v in value.items()}
            return {"$map": [[as_json(k), as_json(v)] for k, v in value.items()]}
        return value

    return as_json(_frame(data)[0])


class RawClient:
    """One scientist's session: negotiate, log in, then messages over a WebSocket or HTTP.

    ``exchanges`` keeps every (kind, message bytes, reply bytes), for checking them against
    the published schema."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=30.0)
        self.version: tuple[int, int] | None = None
        self.token = ""
        self.ws: Any = None
        self.ids = itertools.count(1)
        self.exchanges: list[tuple[str, bytes, bytes]] = []

    def negotiate(self) -> tuple[int, int]:
        """The highest protocol version both sides speak ("Versions and negotiation")."""
        info = self.http.get("/api/v1/info").json()
        theirs = info.get("protocol_versions") or [info["protocol_version"]]
        common = {(int(v[0]), int(v[1])) for v in theirs} & set(SPEAKS)
        if not common:
            raise RuntimeError(f"no protocol version in common: node {theirs}, client {SPEAKS}")
        self.version = max(common)
        return self.version

    def login(self, email: str, password: str) -> dict[str, Any]:
        answer = self.http.post("/api/v1/login", json={"email": email, "password": password})
        if answer.status_code != 200:
            raise RuntimeError(f"login refused ({answer.status_code}): {answer.json()['detail']}")
        reply: dict[str, Any] = answer.json()
        self.token = reply["token"]
        return reply

    def open_websocket(self) -> dict[str, Any]:
        """The token as the first (text) frame, then the node's JSON greeting ("WebSocket")."""
        url = "ws" + self.url.removeprefix("http") + "/api/v1/ws"
        self.ws = connect(url, max_size=None).__enter__()  # websockets wants it entered
        self.ws.send(self.token)
        greeting: dict[str, Any] = json.loads(self.ws.recv(timeout=10))
        if not greeting.get("ok"):
            raise RuntimeError(f"the WebSocket was refused: {greeting}")
        return greeting

    def _message(self, kind: str, body: dict[str, Any] | None) -> bytes:
        if self.version is None:
            raise RuntimeError("negotiate() first")
        return encode({"v": list(self.version), "kind": kind, "body": body or {}})

    def _reply(self, kind: str, sent: bytes, data: bytes) -> Any:
        self.exchanges.append((kind, sent, data))
        reply = decode(data)
        if reply["ok"]:
            return reply.get("body")
        raise NodeError(reply["error"])

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        """One message over the WebSocket; the reply's body, or NodeError."""
        sent = self._message(kind, body)
        request_id = next(self.ids)
        self.ws.send(REQUEST_HEAD.pack(request_id) + sent)
        while True:  # replies may come out of order: this client sends one at a time
            frame = self.ws.recv(timeout=60)
            got, flag = REPLY_HEAD.unpack_from(frame)
            if got == request_id:
                break
        payload = frame[REPLY_HEAD.size :]
        if flag == FLAG_TICKET:  # a large reply: fetched once over HTTP
            answer = self.http.get(f"/api/v1/reply/{payload.decode()}", headers=self._bearer())
            answer.raise_for_status()
            payload = answer.content
        elif flag == FLAG_AUTH:
            raise RuntimeError(f"the token was refused: {payload.decode()}")
        return self._reply(kind, sent, payload)

    def call_http(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        """One message as ``POST /api/v1/message``; the reply's body, or NodeError."""
        sent = self._message(kind, body)
        headers = {**self._bearer(), "Content-Type": "application/octet-stream"}
        answer = self.http.post("/api/v1/message", content=sent, headers=headers)
        if answer.status_code in (401, 413):  # JSON {detail}, not an encoded reply
            raise RuntimeError(f"HTTP {answer.status_code}: {answer.json()['detail']}")
        return self._reply(kind, sent, answer.content)

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.http.close()
