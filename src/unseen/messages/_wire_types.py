"""The layout of every typed value on the wire, as JSON Schema and prose (docs/protocol.md).

One :class:`WireType` per msgpack ext code of :mod:`unseen.serde` (``serde.spec``) and per
type that :func:`unseen.messages.setup` registers (``Ref``, ``Action``). The schemas
describe a value's header as JSON after the mapping of :mod:`unseen.messages.schema` (an ext
marker is ``{"$ext": code}``, bin is ``{"$bin": base64}``); tests encode a value of each
type with the codec and validate its header against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.errors import UsageError
from unseen.serde import spec

__all__ = ["WireField", "WireType", "wire_types", "ref", "VALUE", "BIN"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


VALUE = ref("value")
BIN = ref("bin")
_DATA: Schema = {
    "anyOf": [BIN, {"type": "integer", "minimum": 0}],
    "description": "inline bytes (bin), or the index of an out-of-band buffer (int)",
}
_SHAPE: Schema = {"type": "array", "items": {"type": "integer", "minimum": 0}}
_DTYPE: Schema = {"type": "string", "pattern": f"^(?:{spec.DTYPE_PATTERN})$"}
_INDEX: Schema = {"anyOf": [ref("type.index"), ref("type.index_object")]}
_ARROW = "an Arrow IPC stream, uncompressed (bin, or the index of an out-of-band buffer)"


@dataclass(frozen=True)
class WireField:
    name: str
    schema: Schema
    text: str


@dataclass(frozen=True)
class WireType:
    """``[ext(code), field, ...]``: the fields in order, then ``rest`` repeated, if any."""

    name: str
    stands_for: str
    fields: tuple[WireField, ...]
    text: str
    rest: WireField | None = None

    def schema(self, code: int) -> Schema:
        marker = {
            "type": "object",
            "required": ["$ext"],
            "properties": {"$ext": {"const": code}},
        }
        out: Schema = {
            "description": f"{self.stands_for}: {self.text}",
            "type": "array",
            "prefixItems": [marker, *(f.schema for f in self.fields)],
            "minItems": 1 + len(self.fields),
        }
        if self.rest is not None:
            out["items"] = self.rest.schema
        else:
            out["maxItems"] = 1 + len(self.fields)
        return out


def _f(name: str, schema: Schema, text: str) -> WireField:
    return WireField(name, schema, text)


_ITEM = _f("item", VALUE, "a value")
_BUILTIN: dict[str, WireType] = {
    "tuple": WireType("tuple", "a Python tuple", (), "its items, in order", _ITEM),
    "set": WireType("set", "a Python set", (), "its items (hashable values)", _ITEM),
    "frozenset": WireType("frozenset", "a Python frozenset", (), "its items", _ITEM),
    "complex": WireType(
        "complex",
        "a Python complex",
        (
            _f("real", {"type": "number"}, "msgpack float"),
            _f("imag", {"type": "number"}, "msgpack float"),
        ),
        "real and imaginary parts as msgpack floats",
    ),
    "bigint": WireType(
        "bigint",
        "an int outside int64 and uint64",
        (_f("bytes", BIN, "two's complement, little-endian"),),
        f"two's complement, little-endian, at most {spec.MAX_BIGINT_BYTES} bytes; ints that "
        "fit int64 or uint64 are plain msgpack ints",
    ),
    "slice": WireType(
        "slice",
        "a Python slice",
        (
            _f("start", VALUE, "nil or a value"),
            _f("stop", VALUE, "nil or a value"),
            _f("step", VALUE, "nil or a value"),
        ),
        "start, stop, step (each nil or a value, usually an int)",
    ),
    "ellipsis": WireType("ellipsis", "Python's Ellipsis (...)", (), "no fields"),
    "ndarray": WireType(
        "ndarray",
        "a numpy array",
        (
            _f("dtype", _DTYPE, "numpy dtype string: byte order, kind, size"),
            _f("shape", _SHAPE, f"at most {spec.MAX_NDIM} ints >= 0"),
            _f("order", {"enum": ["C", "F"]}, "element order of data"),
            _f("data", _DATA, "the elements' bytes, count x itemsize"),
        ),
        'data holds the elements in row-major order ("C") or column-major order ("F"), '
        "in the dtype's byte order, no padding",
    ),
    "npscalar": WireType(
        "npscalar",
        "a numpy scalar (np.float64(1.5), np.int32(3), ...)",
        (_f("dtype", _DTYPE, "numpy dtype string"), _f("bytes", BIN, "exactly itemsize bytes")),
        "its dtype and its bytes in that dtype's byte order",
    ),
    "npdtype": WireType(
        "npdtype", "a numpy dtype", (_f("dtype", _DTYPE, "numpy dtype string"),), "its string"
    ),
    "tensor": WireType(
        "tensor",
        "a torch tensor",
        (
            _f("dtype", {"enum": sorted(spec.TORCH_DTYPES)}, "torch dtype name"),
            _f("shape", _SHAPE, f"at most {spec.MAX_NDIM} ints >= 0"),
            _f("requires_grad", {"type": "boolean"}, ""),
            _f("kind", {"enum": [0, 1]}, "0 a tensor, 1 a torch.nn.Parameter"),
            _f("data", _DATA, "the elements' bytes in row-major order"),
        ),
        "data is laid out as the numpy dtype the torch dtype maps to (see the torch dtypes "
        "table), row-major (C) order",
    ),
    "torch_dtype": WireType(
        "torch_dtype",
        "a torch dtype",
        (_f("name", {"enum": sorted(spec.TORCH_DTYPES)}, "torch dtype name"),),
        "its name, without 'torch.'",
    ),
    "torch_size": WireType(
        "torch_size",
        "a torch.Size",
        (),
        f"its dimensions, at most {spec.MAX_NDIM} ints >= 0",
        _f("dim", {"type": "integer", "minimum": 0}, "a dimension"),
    ),
    "dataframe": WireType(
        "dataframe",
        "a pandas DataFrame",
        (
            _f("data", _DATA, _ARROW),
            _f("columns", _INDEX, "the column labels"),
            _f("index", _INDEX, "the row labels"),
        ),
        'the columns as an Arrow IPC stream whose columns are named "0", "1", ... in order; '
        "labels travel as Index values",
    ),
    "series": WireType(
        "series",
        "a pandas Series",
        (
            _f("data", _DATA, _ARROW + ', one column named "0"'),
            _f("name", VALUE, "the Series' name"),
            _f("index", _INDEX, "the row labels"),
        ),
        'its values as an Arrow IPC stream of one column named "0"',
    ),
    "index": WireType(
        "index",
        "a pandas Index",
        (
            _f("kind", {"enum": ["range", "columns"]}, ""),
            _f(
                "data",
                {"anyOf": [{"type": "array", "items": {"type": "integer"}}, _DATA]},
                '"range": [start, stop, step]; "columns": ' + _ARROW + " (one column a level)",
            ),
            _f("names", {"type": "array", "items": VALUE}, "one name a level"),
            _f("freq", {"type": ["string", "null"]}, "a DatetimeIndex's frequency, or nil"),
        ),
        'a RangeIndex as "range" with [start, stop, step]; any other as "columns": an Arrow '
        'IPC stream with one column a level, named "0", "1", ...',
    ),
    "index_object": WireType(
        "index_object",
        "a pandas Index of dtype object",
        (_f("values", ref("type.tuple"), "its labels"), _f("name", VALUE, "its name")),
        "its labels as a tuple value, and its name",
    ),
}

_ACTION_FIELDS: Schema = {
    "type": "array",
    "prefixItems": [
        {"type": "string", "description": "the id of the result: 8 to 64 letters or digits"},
        {"enum": ["method", "function", "attr"]},
        {"type": "string", "description": "the operation's name in the vocabulary"},
        ref("type.tuple"),
        {"type": "object", "description": "keyword arguments by name"},
    ],
    "minItems": 5,
    "description": "[id, kind, name, args, kwargs]; fields after these five are ignored",
}
# by the class's qualified name, so that this table does not import unseen.ops
_REGISTERED: dict[str, WireType] = {
    "unseen.ops._graph.Ref": WireType(
        "Ref",
        "a reference to an object on the node, by id",
        (_f("id", {"type": "string"}, "the object's id"),),
        "the id of a stored object or of an earlier action's result",
    ),
    "unseen.ops._graph.Action": WireType(
        "Action",
        "one operation of a graph",
        (_f("action", _ACTION_FIELDS, "[id, kind, name, args, kwargs]"),),
        "one array [id, kind, name, args, kwargs]: kind is method (args[0] is the object), "
        "function or attr; args is a tuple value whose items are values or Refs",
    ),
}


def wire_types() -> dict[int, WireType]:
    """Every typed value by code: serde's own and those unseen registers. ``UsageError`` if
    one of unseen's codes has no description here (a type added to the codec must be
    described); types an application registers are not part of the protocol."""
    found: dict[int, WireType] = {}
    missing = sorted(set(spec.BUILTIN_TYPES) - set(_BUILTIN))
    for name, code in spec.BUILTIN_TYPES.items():
        if name in _BUILTIN:
            found[code] = _BUILTIN[name]
    for code, cls in spec.registered().items():
        if not cls.__module__.startswith("unseen."):
            continue  # an application's own type (a test's), not part of the published protocol
        qualified = f"{cls.__module__}.{cls.__qualname__}"
        if qualified in _REGISTERED:
            found[code] = _REGISTERED[qualified]
        else:
            missing.append(f"{code} ({qualified})")
    if missing:
        raise UsageError(
            f"wire types without a description: {', '.join(missing)}: describe them in "
            "unseen/messages/_wire_types.py"
        )
    return dict(sorted(found.items()))
