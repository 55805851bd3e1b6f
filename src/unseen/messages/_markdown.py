"""docs/protocol.md, written from the protocol document of :mod:`unseen.messages.schema` alone.

Everything specific (codes, fields, kinds, roles, limits, examples) comes from the document;
the prose here says what the rules mean. Code blocks are ``json`` or ``text``, never
``python`` (tests/docs/test_snippets.py runs those).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render_markdown"]

Doc = dict[str, Any]
_REGENERATE = "PYTHONPATH=src python -m unseen.cli.protocol"


def _code(text: Any) -> str:
    return f"`{text}`"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _block(lang: str, text: str) -> list[str]:
    return [f"```{lang}", text.rstrip("\n"), "```", ""]


def _json(value: Any, indent: str = "") -> str:
    """``value`` as JSON on one line if it fits, else its items on lines of their own."""
    text = json.dumps(value)
    if len(indent) + len(text) <= 92 or not isinstance(value, (dict, list)) or not value:
        return text
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_json(v, inner).lstrip()}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    items = [inner + _json(v, inner).lstrip() for v in value]
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


def _size(n: Any) -> str:
    if isinstance(n, bool) or not isinstance(n, int):
        return str(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,}"


def _anchor(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")


def type_text(schema: Any, defs: Doc) -> str:
    """A short name of what a JSON Schema admits, for the field tables."""
    if not isinstance(schema, dict):
        return "any value"
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        if name == "value":
            return "any value"
        if name.startswith("type."):
            return f"{name.removeprefix('type.')} (typed value)"
        target = defs.get(name, {})
        if target.get("type") == "object" and "properties" in target:
            return f"[{name}](#{_anchor(name)})"
        return name
    if "anyOf" in schema:
        return " or ".join(type_text(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return " or ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {type_text(schema.get('items', {}), defs)}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"map of {type_text(extra, defs)}" if isinstance(extra, dict) else "map"
    if kind == "null":
        return "nil"
    if isinstance(kind, str):
        return kind
    return "any value"


def _fields(schema: Doc, defs: Doc) -> list[str]:
    props = schema.get("properties", {})
    if not props:
        return ["No fields: the body is `{}`.", ""]
    required = set(schema.get("required", []))
    rows = []
    for name, field in props.items():
        default = json.dumps(field["default"]) if "default" in field else ""
        need = "yes" if name in required else "no"
        rows.append(
            [_code(name), type_text(field, defs), need, default, field.get("description", "")]
        )
    return _table(["field", "type", "required", "default", "what"], rows)


def _intro(doc: Doc) -> list[str]:
    info = doc["x-unseen"]
    speaks = ", ".join(f"{a}.{b}" for a, b in info["protocol"]["speaks"])
    return [
        "# The unseen protocol",
        "",
        f"Protocol versions: {speaks}. This page is generated from the code by `{_REGENERATE}` "
        "(with `protocol.schema.json`, the same facts as a JSON Schema); do not edit it: "
        "`tests/protocol/test_protocol_schema.py` fails when it differs from what the code generates.",
        "",
        "It is written so that a client can be built from it in any language. "
        "[tests/protocol/raw_client.py](../tests/protocol/raw_client.py) is such a client, "
        "written from this page with only httpx, websockets, msgpack and numpy (nothing of "
        "unseen): it logs in, sends a value, runs a graph, reads the result and an error.",
        "",
        "A session:",
        "",
        "1. `GET /api/v1/info`: pick the highest protocol version both sides speak "
        "([Versions](#versions-and-negotiation)).",
        "2. `POST /api/v1/login` with the email and password: a token.",
        "3. Send messages: each is an [envelope](#the-envelope) `{v, kind, body}`, "
        "[encoded](#encoding), over the [WebSocket](#websocket) or "
        "`POST /api/v1/message` with `Authorization: Bearer <token>`.",
        "4. Each reply is `{v, ok, body}` or `{v, ok: false, error: {kind, message}}`; "
        "the [errors](#errors) are named by kind. What each [kind](#message-kinds) takes and "
        "returns, and which roles may send it, is listed at the end.",
        "",
    ]


def _transports(doc: Doc) -> list[str]:
    t = doc["x-unseen"].get("transports")
    if t is None:
        return []
    defs = doc["$defs"]
    out = ["## Transports", "", "### HTTP endpoints", ""]
    out += _table(
        ["method", "path", "who", "what", "body", "answer"],
        [
            [e["method"], _code(e["path"]), e["access"], e["summary"], e["body"], e["answer"]]
            for e in t["endpoints"]
        ],
    )
    out += [t["status_text"], "", t["large_text"], ""]
    for name in t["json_bodies"]:
        out += [f"#### {name}", ""]
        out += _fields(defs[name], defs)
    ws = t["websocket"]
    out += ["### WebSocket", "", ws["text"], ""]
    out += _block("text", "\n".join(ws["frames"]))
    out += ["### Server limits", ""]
    out += _table(
        ["setting", "default", "what"],
        [[_code(x["name"]), _size(x["default"]), x["text"]] for x in t["limits"]],
    )
    return out


def _encoding(doc: Doc) -> list[str]:
    info = doc["x-unseen"]
    wire = info["wire"]
    ex = info["examples"]
    align = wire["align"]
    out = [
        "## Encoding",
        "",
        "Every message, reply and uploaded value is one frame (all integers little-endian; "
        f"struct format `{wire['prefix_format']}` for the prefix):",
        "",
    ]
    out += _block(
        "text",
        f"""offset 0   {wire["magic"]!r:<8}             magic (3 bytes)
       3   u8   version            {wire["version"]}
       4   u32  nbuf               number of out-of-band buffers
       8   u64  hlen               header length in bytes
      16   u64 x nbuf              length of each buffer
           hlen bytes              the header: one msgpack value
           each buffer, starting at the next multiple of {align} from offset 0 (zero
           padding between); the frame ends exactly at the end of the last buffer""",
    )
    out += [
        "The header is msgpack with nil, bool, int (up to 64 bits), float (32 or 64 bits), "
        "str (UTF-8), bin, array and map. Every other value is a **typed value**: an array "
        "whose first item is an empty ext value (ext 8, length 0, `c7 00 <code>`) whose code "
        f"names the type, then its fields. Codes below {wire['user_codes'][0]} are the "
        f"codec's own; {wire['user_codes'][0]}..{wire['user_codes'][1]} are registered by "
        "unseen (Ref and Action). An unknown code, a non-empty ext or a marker anywhere but "
        "first in an array is refused. Message bodies are maps with string keys.",
        "",
        f"The node's `node.info` message `{_json(ex['node_info'])}`, whole: "
        f"`{ex['node_info_hex']}`.",
        "",
        "### Typed values",
        "",
    ]
    rows = []
    for t in info["types"]:
        fields = [f["name"] for f in t["fields"]] + (
            [f"{t['rest']['name']}..."] if t["rest"] else []
        )
        layout = "[" + ", ".join([f"ext({t['code']})", *fields]) + "]"
        rows.append([t["code"], t["name"], t["stands_for"], _code(layout), t["text"]])
    out += _table(["code", "name", "stands for", "layout", "notes"], rows)
    out += ["Fields:", ""]
    for t in info["types"]:
        described = [f for f in [*t["fields"], t["rest"]] if f and f["text"]]
        if described:
            parts = "; ".join(f"`{f['name']}`: {f['text']}" for f in described)
            out.append(f"- **{t['name']}**: {parts}.")
    out += [
        "",
        f"**Arrays.** `data` is inline bin below {_size(wire['inline_max'])}; larger data "
        "travels out of band: `data` is then the index (0, 1, ...) of a buffer after the "
        "header, and every buffer must be referred to exactly once. A reader accepts either "
        "form at any size. The bytes are count x itemsize, no strides: the elements in "
        'row-major order for "C", column-major for "F" (a reader reshapes to the reversed '
        "shape and transposes).",
        "",
        f"**dtypes** are numpy's array-interface strings: byte order (`<` little, `>` big, "
        "`|` not applicable), kind (`b` bool, `i` int, `u` unsigned, `f` float, `c` complex, "
        "`M` datetime64, `m` timedelta64, `U` UTF-32 text, `S` bytes) and size in bytes, "
        "e.g. `<f8`, `|b1`, `<M8[ns]`, `<U5`. Allowed are those that fully match "
        f"`{wire['dtype_pattern']}`; object, structured and void dtypes never travel.",
        "",
        "**torch dtypes** travel as their name; the data is laid out as the numpy dtype "
        "given here (those numpy lacks travel as their bits, as unsigned ints):",
        "",
    ]
    out += _table(
        ["torch dtype", "data laid out as", "bits only"],
        [
            [_code(n), _code(d["carrier"]), "yes" if d["bits_only"] else ""]
            for n, d in wire["torch_dtypes"].items()
        ],
    )
    out += ["Encodings of some values (the header, as JSON, see [The schema](#the-schema)):", ""]
    out += _block("json", "\n".join(f"{v['python']}\n{_json(v['json'])}\n" for v in ex["values"]))
    out += [
        "### Decoding limits",
        "",
        "A node refuses a message beyond any of these with a `DecodeError` (before it "
        "allocates anything):",
        "",
    ]
    out += _table(
        ["limit", "default", "what"],
        [[_code(x["name"]), _size(x["default"]), x["text"]] for x in info["limits"]],
    )
    return out


def _envelope(doc: Doc) -> list[str]:
    info = doc["x-unseen"]
    ex = info["examples"]
    newest = ".".join(map(str, info["protocol"]["newest"]))
    speaks = ", ".join(f"[{a}, {b}]" for a, b in info["protocol"]["speaks"])
    out = ["## The envelope", "", "A message (`graph.run` of two actions, x + 1 then its sum):", ""]
    out += _block("json", _json(ex["graph_run"]))
    out += ["Its reply, and a failed one:", ""]
    out += _block("json", _json(ex["graph_run_reply"]) + "\n" + _json(ex["error_reply"]))
    out += [
        "`v` is the protocol version the message is written in; `body` is a map (absent: "
        "`{}`). A reply carries `body` when `ok` is true, else `error` with `kind` (see "
        "[Errors](#errors)) and `message` (for people); some kinds add fields (below). The "
        "node answers in the version of the message.",
        "",
        "### Versions and negotiation",
        "",
        f"This node speaks {speaks} (newest {newest}). `GET /api/v1/info` lists "
        "`protocol_versions` (`protocol_version`, one version, on nodes older than "
        "negotiation): a client sends the highest version both sides speak. Only the major "
        "must match: a message of another major is refused with `DecodeError`; one of "
        "another minor of the same major is answered in the node's newest minor of that "
        "major. Within a major, changes are additive: each side ignores map fields it does "
        "not know (in the envelope, a body, a reply, or after the five fields of an Action), "
        "a new field has a default that means what the older side did, and a new kind is "
        "refused by an older node with an error naming it. A field with a default may be "
        "absent: readers use the default.",
        "",
    ]
    return out


def _errors(doc: Doc) -> list[str]:
    rows = []
    for e in doc["x-unseen"]["errors"]:
        fields = ", ".join(f"`{k}` ({v})" for k, v in e.get("fields", {}).items())
        rows.append([_code(e["kind"]), e["parent"] or "", fields, e["text"]])
    return [
        "## Errors",
        "",
        "An error's `kind` is one of these names. Each refines the one in the second column "
        "(a `CannotRequestPrivateData` is a `PermissionDenied`); a client that does not know "
        "a kind treats it as its nearest known parent, else as `UnseenError`.",
        "",
        *_table(["kind", "is a", "extra fields", "meaning"], rows),
    ]


def _kinds(doc: Doc) -> list[str]:
    defs = doc["$defs"]
    kinds = doc["x-unseen"]["kinds"]
    with_roles = all("roles" in k for k in kinds)
    out = ["## Message kinds", ""]
    if with_roles:
        out += [
            "Roles: owner, admin, data_scientist, guest. A kind refuses every role it does "
            "not list with `PermissionDenied`; an unknown kind is refused with `UsageError`.",
            "",
        ]
    head = ["kind", *(["roles"] if with_roles else []), "request", "reply", "what"]

    def rows(node: str) -> list[list[str]]:
        out = []
        for k in kinds:
            if k.get("node", "domain") != node:
                continue
            req, rep = (defs[k[side].removeprefix("#/$defs/")] for side in ("request", "reply"))
            request = type_text(req, defs) if k["typed"] else "map (not yet typed)"
            reply = type_text(rep, defs) if k["typed"] else "any value (not yet typed)"
            roles = [", ".join(k["roles"])] if with_roles else []
            out.append([_code(k["kind"]), *roles, request, reply, k["text"]])
        return out

    out += _table(head, rows("domain"))
    network = rows("network")
    if network:
        out += [
            "### A network node's kinds",
            "",
            "A network node answers the account kinds of a domain (`node.info`, `user.*`) and "
            "these, which a domain refuses as unknown:",
            "",
            *_table(head, network),
        ]
    out += [
        "### Message types",
        "",
        "The bodies of the typed kinds. A request needs its required fields; every other "
        "field may be left out (its default applies), and fields a side does not know are "
        "ignored.",
        "",
    ]
    for name, schema in defs.items():
        if "x-class" in schema:
            out += [f"#### {name}", ""]
            if schema.get("description"):
                out += [schema["description"], ""]
            out += _fields(schema, defs)
    return out


def _schema_section(doc: Doc) -> list[str]:
    return [
        "## The schema",
        "",
        "[protocol.schema.json](protocol.schema.json) is a JSON Schema (draft 2020-12) of a "
        "message or a reply: the msgpack header read as JSON, with a msgpack map as an object "
        '(`{"$map": [[key, value], ...]}` when a key is not a string), bin as '
        '`{"$bin": "<base64>"}` and the ext marker of a typed value as `{"$ext": code}`. '
        "Its `$defs` hold every value and typed value (`type.<name>`), and each kind's bodies "
        "(`<kind>:request`, `<kind>:reply`: a reply says no kind, so validate it against the "
        "kind of its message). `x-unseen` holds the rest of this page as data: versions, "
        "wire constants, typed values, limits, errors, kinds with their roles, transports.",
        "",
    ]


def render_markdown(doc: Doc) -> str:
    """docs/protocol.md for a protocol document (:func:`unseen.messages.schema.protocol_schema`)."""
    parts = [
        *_intro(doc),
        *_transports(doc),
        *_encoding(doc),
        *_envelope(doc),
        *_errors(doc),
        *_kinds(doc),
        *_schema_section(doc),
    ]
    return "\n".join(parts).rstrip("\n") + "\n"
