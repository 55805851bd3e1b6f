"""The published protocol (docs/protocol.md, docs/protocol.schema.json) against the code.

The committed files must be what ``python -m unseen.cli.protocol`` generates now; the
recorded 1.0 fixtures, and a value of every typed value the codec writes, must be valid
under the schema (read as JSON the way raw_client.py reads them, with msgpack only); and the
generator must refuse what it cannot describe (a type code without a description, an
undocumented limit), describe a kind not yet typed as a plain map, and follow any typed kind.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any, Literal

import jsonschema
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import raw_client as raw  # noqa: E402

from unseen import errors, ops, serde  # noqa: E402
from unseen.cli import protocol  # noqa: E402
from unseen.errors import UsageError  # noqa: E402
from unseen.messages import Kind, decode_message, setup, to_wire  # noqa: E402
from unseen.messages.schema import attribute_docs, protocol_schema  # noqa: E402
from unseen.serde import spec  # noqa: E402

ROOT = HERE.parents[1]
FIXTURES = HERE / "fixtures" / "1.0"
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())


def validator(name: str | None = None) -> jsonschema.Draft202012Validator:
    """The published schema's root, or one of its defs."""
    if name is None:
        return jsonschema.Draft202012Validator(SCHEMA)
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"})


def test_the_committed_documents_are_what_the_code_generates() -> None:
    stale = protocol.stale(ROOT)
    assert not stale, f"{stale} differ from the code: regenerate with {protocol.REGENERATE}"


def test_the_staleness_check_sees_a_hand_edit(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    protocol.write(tmp_path)
    assert protocol.stale(tmp_path) == []
    page = tmp_path / protocol.FILES[0]
    page.write_text(page.read_text().replace("CannotRequestPrivateData", "Forbidden"))
    assert protocol.stale(tmp_path) == [protocol.FILES[0]]
    (tmp_path / protocol.FILES[1]).unlink()
    assert protocol.stale(tmp_path) == list(protocol.FILES)
    assert protocol.main(["--root", str(tmp_path), "--check"]) == 1


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_page_has_no_python_blocks_and_is_linked() -> None:
    page = (ROOT / "docs" / "protocol.md").read_text()
    fences = re.findall(r"^```(\w*)", page, flags=re.M)
    assert set(fences) <= {"json", "text", ""} and "json" in fences
    assert "raw_client.py" in page
    assert "protocol.md" in (ROOT / "docs" / "architecture.md").read_text()
    assert "docs/protocol.md" in (ROOT / "README.md").read_text()


def test_the_recorded_fixtures_are_valid_under_the_schema() -> None:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    root = validator()
    for step in manifest["steps"]:
        message = (FIXTURES / f"{step['stem']}.msg").read_bytes()
        reply = (FIXTURES / f"{step['stem']}.reply").read_bytes()
        kind = step["kind"]
        as_json = raw.header_json(message)
        root.validate(as_json)
        validator(f"{kind}:request").validate(as_json["body"])
        answer = raw.header_json(reply)
        root.validate(answer)
        assert answer["ok"] is True, step["stem"]
        validator(f"{kind}:reply").validate(answer["body"])
    login = json.loads((FIXTURES / "login.reply.json").read_text())
    validator("http.LoginReply").validate(login)


def test_the_schema_refuses_what_a_node_refuses() -> None:
    root = validator()
    good = raw.header_json((FIXTURES / "03-graph.run.msg").read_bytes())
    root.validate(good)
    bad = [
        {"v": [1], "kind": "node.info", "body": {}},  # a version is [major, minor]
        {"v": [1, 0], "kind": "user.create", "body": {"password": "x"}},  # no email
        {"v": [1, 0], "kind": "user.create", "body": {"email": 1, "password": "x"}},
        {"v": [1, 0], "ok": False},  # a failed reply without its error
        {"v": [1, 0], "ok": False, "error": {"message": "no kind"}},
    ]
    array = raw.header_json(raw.encode(np.arange(3.0)))
    for dtype in ("|O", "<V8", "f8"):  # object, void, no byte order
        bad.append({"v": [1, 0], "ok": True, "body": [array[0], dtype, *array[2:]]})
    bad.append({"v": [1, 0], "ok": True, "body": [array[0], "<f8", [3], "A", array[4]]})
    bad.append({"v": [1, 0], "ok": True, "body": [{"$ext": 16}, "<f8", [3]]})  # no data
    for instance in bad:
        assert not root.is_valid(instance), instance


def examples() -> dict[str, list[Any]]:
    """Values of every typed value the codec writes (torch and pandas when installed)."""
    setup()
    out: dict[str, list[Any]] = {
        "tuple": [(1, "a"), ()],
        "set": [{1, 2}],
        "frozenset": [frozenset({"a"})],
        "complex": [complex(1.5, -2)],
        "bigint": [2**64, -(2**100)],
        "slice": [slice(1, None, 2), slice(None)],
        "ellipsis": [Ellipsis],
        "ndarray": [
            np.arange(6.0).reshape(2, 3),
            np.asfortranarray(np.ones((3, 2), ">i4")),
            np.zeros(10_000),
            np.array(["ab", "c"]),
            np.array([1, 2], "datetime64[ns]"),
        ],
        "npscalar": [np.float32(1.5), np.bool_(True)],
        "npdtype": [np.dtype("<c16")],
        "Ref": [ops.Ref("x1234567")],
        "Action": [ops.Action("a1234567", "method", "sum", (ops.Ref("x1234567"),), {"axis": 0})],
    }
    torch = pytest.importorskip("torch")
    out["tensor"] = [
        torch.ones(2, 3),
        torch.zeros(2, dtype=torch.bfloat16),
        torch.nn.Parameter(torch.ones(2)),
    ]
    out["torch_dtype"] = [torch.float16]
    out["torch_size"] = [torch.Size([2, 3])]
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    out["dataframe"] = [frame]
    out["series"] = [frame["a"]]
    out["index"] = [pd.RangeIndex(3), pd.date_range("2024-01-01", periods=3, freq="D")]
    out["index_object"] = [pd.Index(["a", 1], dtype=object)]
    return out


def test_every_typed_value_the_codec_writes_is_valid_under_its_definition() -> None:
    values = examples()
    types = {t["name"]: t for t in SCHEMA["x-unseen"]["types"]}
    assert set(values) == set(types), "every typed value needs an example here"
    every_value = validator("value")
    for name, samples in values.items():
        own = validator(f"type.{name}")
        for value in samples:
            as_json = raw.header_json(serde.encode(value))
            own.validate(as_json)
            every_value.validate(as_json)
            assert as_json[0] == {"$ext": types[name]["code"]}
            for other in set(types) - {name}:  # and it is no other type
                assert not validator(f"type.{other}").is_valid(as_json), (name, other)


def test_the_documented_codes_are_the_codecs() -> None:
    codes = {t["name"]: t["code"] for t in SCHEMA["x-unseen"]["types"]}
    setup()
    registered = {
        cls.__name__: code
        for code, cls in spec.registered().items()
        if cls.__module__.startswith("unseen.")  # not the types other tests register
    }
    assert codes == {**spec.BUILTIN_TYPES, **registered}
    wire = SCHEMA["x-unseen"]["wire"]
    assert (wire["align"], wire["inline_max"], wire["prefix_format"]) == (64, 65536, "<3sBIQ")


def test_a_type_code_without_a_description_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Widget:
        pass

    Widget.__module__ = "unseen.widgets"  # a type of unseen's own that no one described
    registered = spec.registered()
    monkeypatch.setattr(spec, "registered", lambda: {**registered, 99: Widget})
    with pytest.raises(UsageError, match="99"):
        protocol_schema()
    monkeypatch.undo()
    monkeypatch.setitem(spec.BUILTIN_TYPES, "widget", 40)
    with pytest.raises(UsageError, match="widget"):
        protocol_schema()


def test_an_undocumented_limit_is_refused() -> None:
    @dataclasses.dataclass
    class Settings:
        """Limits.

        Attributes:
            max_rows: the most rows,
                over two lines.
        """

        max_rows: int = 3
        max_cols: int = 4

    with pytest.raises(UsageError, match="max_cols"):
        attribute_docs(Settings)
    Settings.__doc__ = (Settings.__doc__ or "") + "    max_cols: the most columns.\n"
    assert attribute_docs(Settings)["max_rows"] == "the most rows, over two lines."


def test_error_fields_are_those_error_to_wire_writes() -> None:
    documented = {e["kind"]: set(e.get("fields", {})) for e in SCHEMA["x-unseen"]["errors"]}
    assert set(documented) == {n for n in errors.__all__ if n[0].isupper()}
    samples = {
        "RemoteError": errors.RemoteError("x failed", operation="x"),
        "TooManyRequests": errors.TooManyRequests("wait", retry_after=2.0),
        "TooManyAttempts": errors.TooManyAttempts("wait", retry_after=2.0),
    }
    for kind, fields in documented.items():
        exc = samples.get(kind) or getattr(errors, kind)("text")
        wire = errors.error_to_wire(exc)
        assert set(wire) == {"kind", "message", *fields}, kind
        validator("error").validate(wire)


# A family of kinds as another helper might convert it: nested, optional, literal, lists.
@dataclasses.dataclass(frozen=True, kw_only=True)
class Point:
    x: float
    label: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShapeRequest:
    """Draw a shape."""

    kind: Literal["line", "polygon"]
    points: list[Point]
    value: Any = None
    tags: list[str] = dataclasses.field(default_factory=list, metadata={"doc": "free tags"})


SHAPE: Kind[ShapeRequest, list[Point]] = Kind("shape.draw", ShapeRequest, list[Point])


def test_a_typed_kind_is_followed_and_an_untyped_one_is_a_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unseen import messages
    from unseen.messages import _markdown, schema

    monkeypatch.setitem(messages.KINDS, "shape.draw", "draw a shape")
    monkeypatch.setitem(messages.KINDS, "shape.erase", "erase one")
    monkeypatch.setitem(messages.TYPED, "shape.draw", SHAPE)
    doc = schema.protocol_schema(roles={"shape.draw": ["owner"]})
    jsonschema.Draft202012Validator.check_schema(doc)
    defs = doc["$defs"]
    request = jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/shape.draw:request"})
    good = ShapeRequest(kind="line", points=[Point(x=1.0), Point(x=2, label="b")], value=(1, 2))
    body = raw.header_json(raw.encode({"b": to_wire(good)}))["b"]
    request.validate(body)
    assert not request.is_valid({**body, "kind": "circle"})
    assert not request.is_valid({"kind": "line", "points": [{"label": "no x"}]})
    reply = jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/shape.draw:reply"})
    reply.validate([{"x": 1.5}])
    assert defs["ShapeRequest"]["properties"]["tags"]["description"] == "free tags"
    assert defs["shape.erase:request"]["description"] == "body: map (not yet typed)"
    page = _markdown.render_markdown(doc)
    assert (
        "| `shape.draw` | owner | [ShapeRequest](#shaperequest) | list of [Point](#point) |" in page
    )
    assert "| `shape.erase` |  | map (not yet typed) |" in page
    assert "#### Point" in page and '"line" or "polygon"' in page


def test_a_typed_kind_missing_from_kinds_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from unseen import messages

    monkeypatch.setitem(messages.TYPED, "shape.draw", SHAPE)
    with pytest.raises(UsageError, match="shape.draw"):
        protocol_schema()


def test_the_json_mapping_of_the_package_is_the_raw_clients() -> None:
    from unseen.messages.schema import header_json

    data = (FIXTURES / "02-object.send.msg").read_bytes()
    assert header_json(data) == raw.header_json(data)
    assert decode_message(data).body["id"] == header_json(data)["body"]["id"]
    odd = serde.encode({1: "int key", "b": b"\x00"})
    assert header_json(odd) == {"$map": [[1, "int key"], ["b", {"$bin": "AA=="}]]}


def test_an_application_type_is_not_part_of_the_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """A type an application (or another test) registers with serde is its own business:
    the published protocol neither lists it nor refuses to generate (the whole suite failed
    so once tests/test_serde.py had registered its Point first)."""

    class Point:
        pass

    registered = spec.registered()
    monkeypatch.setattr(spec, "registered", lambda: {**registered, 100: Point})
    codes = {t["code"] for t in protocol_schema()["x-unseen"]["types"]}
    assert 100 not in codes and codes >= set(spec.BUILTIN_TYPES.values())


def test_every_kind_of_both_node_tables_is_published_with_its_roles() -> None:
    from unseen.network import build_network_routes
    from unseen.node import ROLES, build_routes

    published = {k["kind"]: k for k in SCHEMA["x-unseen"]["kinds"]}
    domain = build_routes()
    for table in (domain, build_network_routes()):
        for kind, route in table.items():
            entry = published[kind]
            assert entry["typed"] and entry["roles"] == [r for r in ROLES if r in route.roles]
            assert entry["node"] == ("domain" if kind in domain else "network")
    assert {k for k, e in published.items() if e["node"] == "network"} == {
        "registry.list", "registry.decide", "registry.remove", "registry.domains",
        "registry.search",
    }  # fmt: skip
