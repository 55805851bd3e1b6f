"""Nothing registers at import: one explicit function builds each table.

- the node's route table comes from ``unseen.node.build_routes()`` (the network's from
  ``unseen.network.build_network_routes()``): the same table on every call, exactly one route
  per kind (a linter once removed the imports that declared routes, and half the kinds
  became unknown);
- importing a module changes no global table of another module (a planted module that
  registers at import is caught);
- the wire types of ``unseen.ops`` are registered by ``unseen.messages.setup()``, so that
  ``unseen.messages`` alone decodes a ``graph.run`` without ``unseen.ops`` imported first.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import pytest

from unseen.errors import UsageError
from unseen.messages import KINDS, Message, encode_message
from unseen.ops import Action, Ref


def _run(code: str, *args: str, path: Path | None = None) -> str:
    done = subprocess.run(  # `python -c` imports from its working directory first
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, cwd=path
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- the route tables ---------------------------------------------------------------------
def test_every_kind_has_exactly_one_route_in_a_fresh_process() -> None:
    code = (
        "from unseen.node import build_routes\n"
        "from unseen.messages import KINDS\n"
        "table = build_routes()\n"
        "assert table is build_routes()\n"
        "missing, extra = sorted(set(KINDS) - set(table)), sorted(set(table) - set(KINDS))\n"
        "assert not missing and not extra, (missing, extra)\n"
        "assert all(route.kind == kind for kind, route in table.items())\n"
    )
    _run(code)


def test_the_network_table_covers_its_kinds_exactly_once() -> None:
    from unseen.messages import TYPED
    from unseen.network import build_network_routes
    from unseen.network._node import BASE_KINDS, NETWORK_KINDS
    from unseen.node import ADMINS, ANYONE, build_routes

    table = build_network_routes()
    assert table is build_network_routes()
    assert set(table) == set(BASE_KINDS) | set(NETWORK_KINDS)
    assert all(route.kind == kind for kind, route in table.items())
    for kind in BASE_KINDS:  # the domain's own handler, not a copy
        assert table[kind] is build_routes()[kind]
    roles = {"registry.list": ADMINS, "registry.decide": ADMINS, "registry.remove": ADMINS}
    roles |= {"registry.domains": ANYONE, "registry.search": ANYONE}
    assert {kind: table[kind].roles for kind in NETWORK_KINDS} == roles
    for kind in NETWORK_KINDS:  # typed: the route carries the kind's request and reply types
        assert table[kind].message is TYPED[kind] and table[kind].typed_handler is not None


def test_the_network_table_refuses_a_handler_without_its_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unseen.network import _node

    def unmarked(node: object, principal: object, request: object) -> None:
        return None

    handlers = (*_node.REGISTRY_HANDLERS[1:], unmarked)  # planted: registry.list unhandled
    monkeypatch.setattr(_node, "REGISTRY_HANDLERS", handlers)
    _node.build_network_routes.cache_clear()
    try:
        with pytest.raises(UsageError, match="unmarked is not the one handler"):
            _node.build_network_routes()
        monkeypatch.setattr(_node, "REGISTRY_HANDLERS", handlers[:-1])
        _node.build_network_routes.cache_clear()
        with pytest.raises(UsageError, match=r"without a handler: \['registry.list'\]"):
            _node.build_network_routes()
    finally:
        _node.build_network_routes.cache_clear()


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Nothing:
    pass


def _module(name: str, *kinds: str, typed: bool = True) -> types.ModuleType:
    """A planted handler module declaring one route per kind (``typed=False``: a route
    marked by hand without typed messages, as the untyped ``@route`` of protocol 1.0 did)."""
    from unseen.messages import Kind
    from unseen.node import ANYONE, Route, typed_route

    module = types.ModuleType(name)
    for i, kind in enumerate(kinds):

        def handler(node: object, principal: object, request: object) -> None:
            return None

        handler.__module__ = name
        handler.__name__ = f"handler{i}"
        if typed:
            typed_route(Kind(kind, _Nothing, None), ANYONE)(handler)  # type: ignore[arg-type]
        else:
            handler.__unseen_route__ = Route(kind, ANYONE, handler)
        setattr(module, handler.__name__, handler)
    return module


def test_every_route_of_both_tables_is_typed() -> None:
    from unseen.messages import TYPED
    from unseen.network import build_network_routes
    from unseen.node import build_routes

    for table in (build_routes(), build_network_routes()):
        for kind, found in table.items():
            assert found.message is not None and found.message is TYPED[kind], kind


def test_the_builder_refuses_an_untyped_route() -> None:
    from unseen.node._table import build_table

    with pytest.raises(UsageError, match="'node.info' in a is untyped"):
        build_table([_module("a", "node.info", typed=False)], {"node.info"})


def test_the_builder_refuses_a_kind_declared_twice() -> None:
    from unseen.node._table import build_table

    with pytest.raises(UsageError, match="node.info"):
        build_table([_module("a", "node.info"), _module("b", "node.info")], {"node.info"})


def test_the_builder_refuses_missing_and_unknown_kinds() -> None:
    from unseen.node._table import build_table

    with pytest.raises(UsageError, match="no.such"):
        build_table([_module("a", "node.info", "no.such")], {"node.info"})
    with pytest.raises(UsageError, match="user.me"):
        build_table([_module("a", "node.info")], {"node.info", "user.me"})
    assert set(build_table([_module("a", "node.info")], {"node.info"})) == {"node.info"}


# -- nothing registers at import ----------------------------------------------------------
_PROBE = """
import importlib, importlib.abc, importlib.machinery, sys

def tables(module):
    return {
        module.__name__ + "." + attr: len(value)
        for attr, value in list(vars(module).items())
        if isinstance(value, (dict, list, set)) and not attr.startswith("__")
    }

SEEN = {}  # each table of unseen as its own module left it, or as last checked

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "unseen" and not name.startswith("unseen."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module
            def exec_module(module, run=run):
                run(module)
                SEEN.update(tables(module))
            spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Watch())
for target in sys.argv[1:]:
    importlib.import_module(target)
    now = {}
    for name, module in list(sys.modules.items()):
        if name == "unseen" or name.startswith("unseen."):
            now.update(tables(module))
    changed = sorted(key for key, size in SEEN.items() if now.get(key, size) != size)
    SEEN.update(now)
    print(target, " ".join(changed) or "-")
"""

_HANDLERS = [
    "unseen.node._users",
    "unseen.node._objects",
    "unseen.node._datasets",
    "unseen.node._requests",
    "unseen.node._dp",
    "unseen.node._mpc",
    "unseen.node._mpc_trust",
    "unseen.node._network",
    "unseen.node._quotas",
]


def _changed_globals(*targets: str, path: Path | None = None) -> dict[str, str]:
    out = _run(_PROBE, *targets, path=path)
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_importing_handlers_ops_node_and_network_changes_no_global_table() -> None:
    targets = [*_HANDLERS, "unseen.ops", "unseen.node", "unseen.network"]
    changed = _changed_globals(*targets)
    assert changed == dict.fromkeys(targets, "-")


def test_a_planted_module_that_registers_at_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "planted_register.py").write_text(
        "from unseen.serde import register\n"
        "class Planted:\n"
        "    pass\n"
        "register(99, Planted, lambda p: 0, lambda v: Planted())\n"
    )
    changed = _changed_globals("unseen.node._users", "planted_register", path=tmp_path)
    assert changed["unseen.node._users"] == "-"
    assert "unseen.serde._registry._BY_CODE" in changed["planted_register"].split()


# -- wire types ---------------------------------------------------------------------------
_DECODE = """
import sys
import unseen.messages as messages
import unseen.serde
assert "unseen.ops" not in sys.modules, "importing messages must not import unseen.ops"
messages.setup()
messages.setup()  # idempotent
message = messages.decode_message(bytes.fromhex(sys.argv[1]))
from unseen.ops import Action, Ref
action = message.body["actions"][0]
assert type(action) is Action, type(action)
assert (action.id, action.kind, action.name) == ("y", "function", "numpy.add"), action
assert action.args == (Ref("x"), 2), action.args
back = unseen.serde.decode(unseen.serde.encode(Ref("z")))
assert back == Ref("z"), back
print("ok", message.kind)
"""


def test_messages_alone_decode_a_graph_run_after_setup() -> None:
    action = Action("y", "function", "numpy.add", (Ref("x"), 2))
    data = encode_message(Message("graph.run", {"actions": [action], "get": ["y"]}))
    assert _run(_DECODE, bytes(data).hex()).split() == ["ok", "graph.run"]
    assert "graph.run" in KINDS
