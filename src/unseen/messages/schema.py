"""The published protocol: a JSON Schema of every message, reply and value, and its page.

:func:`protocol_schema` builds the machine-readable document (``docs/protocol.schema.json``):
a JSON Schema (draft 2020-12) whose root validates a message or a reply, with ``$defs`` for
every value, typed value and kind body, and an ``x-unseen`` block that lists the kinds with
their roles, the errors, the typed values' codes and layouts, and the limits.
:func:`render_markdown` writes ``docs/protocol.md`` from that document alone. The roles and
the transports are facts of higher layers, so they come in as arguments:
``python -m unseen.cli.protocol`` supplies them and writes both files.

The schema describes the msgpack header of an encoded message read as JSON: a map is an
object (``{"$map": [[key, value], ...]}`` if a key is not a string), bin is
``{"$bin": base64}``, and the empty ext value that opens a typed value is
``{"$ext": code}`` (:func:`header_json`).
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack

from unseen.errors import DecodeError, UsageError
from unseen.messages import KINDS, PROTOCOL_VERSION, SPEAKS, TYPED, setup
from unseen.messages.network import REGISTRY_TEXT
from unseen.serde import Limits, spec

from ._json_schema import build_defs, error_kinds, kind_entries
from ._markdown import render_markdown
from ._wire_types import wire_types

__all__ = [
    "SCHEMA_DIALECT",
    "protocol_schema",
    "render_markdown",
    "header_json",
    "attribute_docs",
    "limit_entries",
]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def header_json(data: bytes | bytearray | memoryview) -> Any:
    """The msgpack header of an encoded message or value, as the JSON the schema describes
    (out-of-band buffers are left out: a typed value refers to them by index)."""
    view = memoryview(data).cast("B")
    prefix = struct.Struct(spec.PREFIX_FORMAT)
    if view.nbytes < prefix.size:
        raise DecodeError("too short for an unseen message")
    magic, _, nbuf, hlen = prefix.unpack_from(view, 0)
    if magic != spec.MAGIC:
        raise DecodeError(f"bad magic {bytes(magic)!r}")
    start = prefix.size + 8 * nbuf
    header = msgpack.unpackb(view[start : start + hlen], raw=False, strict_map_key=False)
    return _as_json(header)


def _as_json(value: Any) -> Any:
    if isinstance(value, msgpack.ExtType):
        return {"$ext": value.code}
    if isinstance(value, bytes):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _as_json(v) for k, v in value.items()}
        return {"$map": [[_as_json(k), _as_json(v)] for k, v in value.items()]}
    return value


_ATTRIBUTE = re.compile(r"    (\w+): (.*)")


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a dataclass's docstring, by field; ``UsageError`` if a
    field is not described there (the generated pages list every limit)."""
    doc = inspect.getdoc(cls) or ""
    _, _, section = doc.partition("Attributes:\n")
    found: dict[str, str] = {}
    current = ""
    for line in section.splitlines():
        match = _ATTRIBUTE.fullmatch(line)
        if match:
            current = match[1]
            found[current] = match[2].strip()
        elif current and line.startswith("        "):
            found[current] += " " + line.strip()
        else:
            break
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    missing = [n for n in names if n not in found]
    if missing:
        raise UsageError(f"{cls.__name__}'s docstring does not describe {missing} (Attributes:)")
    return {n: found[n] for n in names}


def limit_entries(cls: type, instance: Any) -> list[dict[str, Any]]:
    """``[{name, default, text}]`` of a settings dataclass, from its docstring."""
    texts = attribute_docs(cls)
    return [{"name": n, "default": getattr(instance, n), "text": t} for n, t in texts.items()]


def _examples() -> dict[str, Any]:
    """Values, messages and replies encoded by the codec, as the JSON the schema describes."""
    import numpy as np

    from unseen.errors import CannotRequestPrivateData
    from unseen.messages import Message, Reply, encode_message, encode_reply
    from unseen.ops import Action, Ref
    from unseen.serde import encode

    values = {
        "(1, 'a')": (1, "a"),
        "{1, 2}": {1, 2},
        "complex(1.5, -2.0)": complex(1.5, -2.0),
        "2**64": 2**64,
        "slice(1, None, 2)": slice(1, None, 2),
        "...": Ellipsis,
        "np.arange(6, dtype='<i4').reshape(2, 3)": np.arange(6, dtype="<i4").reshape(2, 3),
        "np.arange(6, dtype='<i2').reshape(2, 3).T": np.arange(6, dtype="<i2").reshape(2, 3).T,
        "np.zeros(10_000)  # 80,000 bytes: out of band": np.zeros(10_000),
        "np.float64(1.5)": np.float64(1.5),
        "np.dtype('<f4')": np.dtype("<f4"),
        "Ref('x1234567')": Ref("x1234567"),
    }
    add = Action("r1234567", "method", "__add__", (Ref("x1234567"), 1.0), {})
    total = Action("r7654321", "method", "sum", (Ref("r1234567"),), {"axis": 0})
    node_info = encode_message(Message("node.info", {}, (1, 0)))
    graph = {"actions": [add, total], "keep": [total.id], "get": [total.id], "drop": []}
    answer = {"kept": {total.id: "ndarray"}, "values": [np.array([4.0, 6.0])]}
    return {
        "values": [{"python": k, "json": header_json(encode(v))} for k, v in values.items()],
        "node_info_hex": bytes(node_info).hex(),
        "node_info": header_json(node_info),
        "graph_run": header_json(encode_message(Message("graph.run", graph, (1, 0)))),
        "graph_run_reply": header_json(encode_reply(Reply(ok=True, body=answer))),
        "error_reply": header_json(encode_reply(Reply.failure(CannotRequestPrivateData()))),
    }


def protocol_schema(
    *,
    roles: Mapping[str, Iterable[str]] | None = None,
    transports: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The protocol as one JSON-able document (``docs/protocol.schema.json``).

    ``roles``: the roles each kind admits (:func:`unseen.node.build_routes`); ``transports``:
    the endpoints and framing of the server (``x-unseen.transports``), with extra ``defs``
    (its JSON bodies) merged into ``$defs``. Both are optional: without them the document
    says nothing of either."""
    setup()  # Ref and Action are registered types: their codes must be known
    defs = build_defs()
    # a domain's kinds, then those a network node adds (its registry)
    kinds = kind_entries({**KINDS, **REGISTRY_TEXT}, TYPED, roles, defs)
    for entry in kinds:
        entry["node"] = "network" if entry["kind"] in REGISTRY_TEXT else "domain"
    defs["message"]["allOf"] = [
        {
            "if": {"required": ["kind"], "properties": {"kind": {"const": k["kind"]}}},
            "then": {"properties": {"body": {"$ref": k["request"]}}},
        }
        for k in kinds
    ]
    info: dict[str, Any] = {
        "protocol": {"speaks": [list(v) for v in SPEAKS], "newest": list(PROTOCOL_VERSION)},
        "wire": {
            "magic": spec.MAGIC.decode(),
            "version": spec.WIRE_VERSION,
            "prefix_format": spec.PREFIX_FORMAT,
            "align": spec.ALIGN,
            "inline_max": spec.INLINE_MAX,
            "max_bigint_bytes": spec.MAX_BIGINT_BYTES,
            "max_ndim": spec.MAX_NDIM,
            "user_codes": [spec.FIRST_USER_CODE, spec.LAST_USER_CODE],
            "dtype_pattern": spec.DTYPE_PATTERN,
            "torch_dtypes": {
                name: {"carrier": carrier, "bits_only": bits}
                for name, (carrier, bits) in sorted(spec.TORCH_DTYPES.items())
            },
        },
        "types": [
            {
                "code": code,
                "name": t.name,
                "stands_for": t.stands_for,
                "text": t.text,
                "fields": [{"name": f.name, "text": f.text} for f in t.fields],
                "rest": None if t.rest is None else {"name": t.rest.name, "text": t.rest.text},
                "schema": f"#/$defs/type.{t.name}",
            }
            for code, t in wire_types().items()
        ],
        "limits": limit_entries(Limits, Limits()),
        "errors": error_kinds(),
        "kinds": kinds,
        "examples": _examples(),
    }
    if transports is not None:
        transports = dict(transports)
        defs.update(transports.pop("defs", {}))
        info["transports"] = transports
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"unseen protocol {PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}",
        "description": "A message to a node or its reply: the msgpack header of its encoding, "
        "read as JSON (docs/protocol.md, 'The schema').",
        "oneOf": [{"$ref": "#/$defs/message"}, {"$ref": "#/$defs/reply"}],
        "$defs": defs,
        "x-unseen": info,
    }
