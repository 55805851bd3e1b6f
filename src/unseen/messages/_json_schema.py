"""The JSON Schema of the protocol: values, the envelope, errors and every kind's bodies.

Built from the code: the kinds from :data:`KINDS`, their bodies from :data:`TYPED`'s
dataclasses (a kind not yet typed gets a plain map), the typed values from
:mod:`._wire_types`, the errors from the :mod:`unseen.errors` tree.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import unseen.errors as errors_module
from unseen.errors import UnseenError, UsageError
from unseen.messages._typed import Kind

from ._wire_types import BIN, VALUE, ref, wire_types

__all__ = ["Schema", "build_defs", "error_kinds", "kind_entries", "type_schema", "UNTYPED"]

Schema = dict[str, Any]

#: what the documents say of a kind whose body is not typed yet
UNTYPED = "body: map (not yet typed)"
_RESERVED_KEYS = ["$ext", "$bin", "$map"]
# classes of other layers or libraries that travel as typed values, by qualified name
_TYPED_BY_NAME = {
    "numpy.ndarray": "ndarray",
    "torch.Tensor": "tensor",
    "pandas.core.frame.DataFrame": "dataframe",
    "pandas.core.series.Series": "series",
    "unseen.ops._graph.Ref": "Ref",
    "unseen.ops._graph.Action": "Action",
}


def _value_defs() -> dict[str, Schema]:
    """The defs every value refers to: any value, lists, maps, bin and the typed values."""
    types_by_code = wire_types()
    defs: dict[str, Schema] = {
        "value": {
            "description": "any value of a message: a msgpack scalar, bin, list, map or typed "
            "value",
            "anyOf": [
                {"type": ["null", "boolean", "integer", "number", "string"]},
                BIN,
                ref("list"),
                ref("map"),
                ref("typed"),
            ],
        },
        "bin": {
            "description": "msgpack bin (raw bytes), written in JSON as base64",
            "type": "object",
            "required": ["$bin"],
            "properties": {"$bin": {"type": "string", "contentEncoding": "base64"}},
            "additionalProperties": False,
        },
        "ext": {
            "description": "an empty msgpack ext value: the marker that opens a typed value",
            "type": "object",
            "required": ["$ext"],
            "properties": {"$ext": {"type": "integer", "minimum": 0, "maximum": 127}},
            "additionalProperties": False,
        },
        "list": {
            "description": "a msgpack array that does not start with an ext marker",
            "type": "array",
            "items": VALUE,
            "not": {"minItems": 1, "prefixItems": [ref("ext")]},
        },
        "map": {
            "description": "a msgpack map: a JSON object when every key is a string, else "
            '{"$map": [[key, value], ...]}',
            "anyOf": [
                {
                    "type": "object",
                    "propertyNames": {"not": {"enum": _RESERVED_KEYS}},
                    "additionalProperties": VALUE,
                },
                {
                    "type": "object",
                    "required": ["$map"],
                    "properties": {
                        "$map": {
                            "type": "array",
                            "items": {
                                "type": "array",
                                "prefixItems": [VALUE, VALUE],
                                "minItems": 2,
                                "maxItems": 2,
                            },
                        }
                    },
                    "additionalProperties": False,
                },
            ],
        },
        "typed": {
            "description": "[ext(code), field, ...]: a value of a type msgpack lacks",
            "anyOf": [ref(f"type.{t.name}") for t in types_by_code.values()],
        },
        "version": {
            "description": "a protocol version [major, minor]",
            "type": "array",
            "prefixItems": [
                {"type": "integer", "minimum": 0},
                {"type": "integer", "minimum": 0},
            ],
            "minItems": 2,
            "maxItems": 2,
        },
    }
    for code, wire_type in types_by_code.items():
        defs[f"type.{wire_type.name}"] = wire_type.schema(code)
    return defs


def _field_text(f: dataclasses.Field[Any]) -> str:
    doc = f.metadata.get("doc") if f.metadata else None
    return str(doc) if doc else ""


def prose(text: str) -> str:
    """The first paragraph of a docstring on one line, with Markdown's code quotes."""
    return " ".join(text.split("\n\n")[0].split()).replace("``", "`")


def _class_text(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    if doc.startswith(f"{cls.__name__}("):  # the signature dataclasses write without one
        return ""
    return prose(doc)


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _dataclass_schema(cls: type, defs: dict[str, Schema]) -> Schema:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Schema] = {}
    required = []
    for f in dataclasses.fields(cls):
        field_schema = type_schema(hints[f.name], defs)
        text = _field_text(f)
        if text:
            field_schema = {**field_schema, "description": text}
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        elif f.default is not dataclasses.MISSING and _jsonable(f.default):
            field_schema = {**field_schema, "default": f.default}
        properties[f.name] = field_schema
    out: Schema = {"type": "object", "properties": properties, "required": required}
    text = _class_text(cls)
    if text:
        out["description"] = text
    return out


def _def_name(cls: type, defs: dict[str, Schema]) -> str:
    """The def a message dataclass is kept under: its name, qualified if another class of
    the same name came first."""
    for name in (cls.__name__, f"{cls.__module__}.{cls.__qualname__}"):
        held = defs.get(name)
        if held is None or held.get("x-class") == f"{cls.__module__}.{cls.__qualname__}":
            return name
    raise UsageError(f"two message classes are both named {cls.__qualname__!r}")


def type_schema(tp: Any, defs: dict[str, Schema]) -> Schema:
    """The JSON Schema of a field or reply of type ``tp``; dataclasses go into ``defs``."""
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp is Any or tp is object:
        return VALUE
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(a, defs) for a in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if tp is dict or origin in (dict, Mapping):
        out: Schema = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            out["additionalProperties"] = type_schema(args[1], defs)
        return out
    if tp in (list, tuple) or origin in (list, tuple, Iterable):
        item = args[0] if args else Any
        return {"type": "array", "items": type_schema(item, defs)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = _def_name(tp, defs)
        if name not in defs:
            defs[name] = {}  # taken before recursing: a class may refer to itself
            defs[name] = {
                **_dataclass_schema(tp, defs),
                "x-class": f"{tp.__module__}.{tp.__qualname__}",
            }
        return ref(name)
    qualified = f"{getattr(tp, '__module__', '')}.{getattr(tp, '__qualname__', tp)}"
    if qualified in _TYPED_BY_NAME:
        return ref(f"type.{_TYPED_BY_NAME[qualified]}")
    return {**VALUE, "description": f"a value ({qualified})"}


def kind_entries(
    kinds: Mapping[str, str],
    typed: Mapping[str, Kind[Any, Any]],
    roles: Mapping[str, Iterable[str]] | None,
    defs: dict[str, Schema],
) -> list[Schema]:
    """One entry per kind (text, roles, whether typed, the defs of its bodies); adds the
    defs ``<kind>:request`` and ``<kind>:reply`` to ``defs``."""
    unknown = sorted(set(typed) - set(kinds))
    if unknown:
        raise UsageError(f"typed kinds missing from KINDS: {unknown}: add them to KINDS")
    entries = []
    for name, text in kinds.items():
        kind = typed.get(name)
        if kind is None:
            defs[f"{name}:request"] = {"type": "object", "description": UNTYPED}
            defs[f"{name}:reply"] = {**VALUE, "description": "reply: any value (not yet typed)"}
        else:
            defs[f"{name}:request"] = type_schema(kind.request, defs)
            defs[f"{name}:reply"] = type_schema(kind.reply, defs)
        entry: Schema = {"kind": name, "text": text, "typed": kind is not None}
        if roles is not None:
            entry["roles"] = list(roles.get(name, ()))
        entry["request"] = f"#/$defs/{name}:request"
        entry["reply"] = f"#/$defs/{name}:reply"
        entries.append(entry)
    return entries


def _extra_error_fields(cls: type[UnseenError]) -> dict[str, str]:
    """Fields an error's wire form carries besides kind and message: the parameters of its
    constructor after the message, with their JSON types."""
    params = list(inspect.signature(cls.__init__).parameters.values())[2:]
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for p in params:
        schema = type_schema(hints.get(p.name, Any), {})
        kinds = [s.get("type") for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        out[p.name] = str(kinds[0]) if kinds else "value"
    return out


def error_kinds() -> list[Schema]:
    """The error tree, parents first: each kind's wire name, parent, text, extra fields."""
    classes = [
        obj
        for name in errors_module.__all__
        if isinstance(obj := getattr(errors_module, name), type) and issubclass(obj, UnseenError)
    ]
    out = []
    for cls in classes:
        parent = cls.__mro__[1]
        entry: Schema = {
            "kind": cls.__name__,
            "parent": parent.__name__ if issubclass(parent, UnseenError) else None,
            "text": prose(inspect.getdoc(cls) or ""),
        }
        extra = _extra_error_fields(cls)
        if extra:
            entry["fields"] = extra
        out.append(entry)
    return out


def build_defs() -> dict[str, Schema]:
    """The defs of values, the envelope and errors (the kinds' bodies are added later)."""
    defs = _value_defs()
    extra: dict[str, Schema] = {}
    for entry in error_kinds():
        for name, json_type in entry.get("fields", {}).items():
            extra[name] = {"type": json_type, "description": f"only on {entry['kind']}"}
    defs["error"] = {
        "description": "why a message failed; 'kind' is the wire name of an unseen error",
        "type": "object",
        "required": ["kind", "message"],
        "properties": {
            "kind": {"type": "string"},
            "message": {"type": "string", "description": "for people: never parse it"},
            **extra,
        },
    }
    defs["message"] = {
        "description": "a request to a node",
        "type": "object",
        "required": ["v", "kind"],
        "properties": {
            "v": ref("version"),
            "kind": {"type": "string"},
            "body": {"type": "object", "description": "absent means {}"},
        },
    }
    defs["reply"] = {
        "description": "a node's answer: a body, or an error",
        "type": "object",
        "required": ["v", "ok"],
        "properties": {"v": ref("version"), "ok": {"type": "boolean"}},
        "if": {"properties": {"ok": {"const": True}}},
        "then": {"properties": {"body": VALUE}},
        "else": {"required": ["error"], "properties": {"error": ref("error")}},
    }
    return defs
