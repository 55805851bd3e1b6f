"""Lower layers never import higher ones (DESIGN.md section 13), checked on the source."""

from __future__ import annotations

import ast
import functools
import pathlib
import shutil

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "unseen"

# Lowest first. A module may import its own layer and the layers below it; the layer of a module
# is that of the LONGEST name here that is it or a package above it. `unseen` itself (its
# __init__, the public face) is the top and matches only itself: a package missing here is an error.
LAYERS: list[set[str]] = [
    {"unseen._version", "unseen.errors"},
    {"unseen.serde"},
    {"unseen.mpc"},
    {"unseen.ops"},
    {"unseen.messages"},
    {"unseen.store"},
    {"unseen.dp"},
    # Code-request jobs: the isolated worker and its executor (docs/code.md, "Isolation").
    {"unseen.jobs"},
    {"unseen.node"},
    {"unseen.transport"},
    {"unseen.client"},
    # Training: module pointers and optimizers on the client's pointers (docs/training.md).
    {"unseen.train"},
    # The applications, one package a layer: a network node is built from the domain server's
    # parts, Duet meets through a network's rendezvous, FL may use them all.
    {"unseen.server"},
    {"unseen.network"},
    {"unseen.duet"},
    {"unseen.fl"},
    {"unseen.cli"},
    {"unseen"},
]

# Modules that call importlib.import_module with a computed name, and why that name never names
# a module of unseen. A module with a `_LAZY` table may also do so: the table's values are checked.
COMPUTED_IMPORTS = {
    "unseen.ops._resolve": "imports the library named by an op table's target (numpy, torch, ...)",
}

_DYNAMIC = {"import_module", "__import__"}


class NoLayer(AssertionError):
    """A module of unseen that LAYERS does not place."""


def layer_of(module: str) -> int:
    if module == "unseen":
        return len(LAYERS) - 1
    best, length = -1, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if name != "unseen" and (module == name or module.startswith(name + ".")):
                if len(name) > length:
                    best, length = index, len(name)
    if best < 0:
        raise NoLayer(f"{module} belongs to no layer: add it to LAYERS")
    return best


def modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Every module under ``root`` (a directory named ``unseen``) by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _package(module: str, path: pathlib.Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _literal_prefix(node: ast.expr) -> str | None:
    """The string, or the leading literal part of an f-string; None when computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


@functools.cache
def _parse(text: str) -> ast.Module:
    return ast.parse(text)  # the planted copies reparse only the file that changed


def _absolute(package: str, level: int, name: str) -> str:
    """``name`` imported with ``level`` leading dots from ``package``, as an absolute name."""
    if not level:
        return name
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imported(module: str, path: pathlib.Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every module of unseen that ``module`` imports, however it does it.

    Import statements anywhere (module level, functions, TYPE_CHECKING blocks), relative ones
    resolved against the package; literal names given to importlib.import_module / __import__
    (an f-string by its literal prefix); the values of a ``_LAZY`` table. A computed name handed
    to import_module is reported as ``<computed>`` unless the module is excused above.
    """
    package = _package(module, path)
    tree = _parse(path.read_text())
    found: list[tuple[int, str]] = []
    has_lazy = False

    def add(line: int, name: str) -> None:
        if name == "unseen" or name.startswith("unseen."):
            found.append((line, name))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module or "")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(node.lineno, sub if sub in known else base)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _DYNAMIC:
                prefix = _literal_prefix(node.args[0])
                if prefix is None:
                    found.append((node.lineno, "<computed>"))
                else:  # a relative name resolves against the caller's package
                    level = len(prefix) - len(prefix.lstrip("."))
                    add(node.lineno, _absolute(package, level, prefix[level:]).rstrip("."))
        elif isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
                has_lazy = True
                for value in node.value.values:
                    text = _literal_prefix(value) if value is not None else None
                    if text is not None:
                        add(node.lineno, text if text.startswith("unseen") else f"{package}.{text}")
    if has_lazy or module in COMPUTED_IMPORTS:
        found = [(line, name) for line, name in found if name != "<computed>"]
    return found


def _unit(module: str) -> str:
    """The package a module belongs to for the loop check: unseen.X (or unseen itself)."""
    return ".".join(module.split(".")[:2])


def _loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def violations(root: pathlib.Path = SRC) -> list[str]:
    """Every layer violation and package loop in the tree at ``root``."""
    found: list[str] = []
    mods = modules(root)
    known = set(mods)
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for me, path in mods.items():
        try:
            mine = layer_of(me)
        except NoLayer as e:
            found.append(str(e))
            continue
        for line, target in imported(me, path, known):
            here = f"{me}:{line}"
            if target == "<computed>":
                found.append(f"{here} imports a computed module name: use a literal")
                continue
            try:
                theirs = layer_of(target)
            except NoLayer as e:
                found.append(f"{here}: {e}")
                continue
            if theirs > mine:
                found.append(f"{here} (layer {mine}) imports {target} (layer {theirs})")
            a, b = _unit(me), _unit(target)
            if a != b and a != "unseen":
                edges.setdefault(a, set()).add(b)
                where.setdefault((a, b), f"{here} imports {target}")
    for group in _loops(edges):
        shown = [where[(a, b)] for a in group for b in group if (a, b) in where]
        found.append(f"import cycle between {', '.join(group)}: " + "; ".join(shown))
    return found


def test_lower_layers_never_import_higher_ones() -> None:
    found = violations()
    assert not found, "\n".join(found)


# Private modules that another package may still import, and why. Empty is the goal.
PRIVATE_ALLOWED: dict[tuple[str, str], str] = {}


def _owner(target: str) -> str | None:
    """The package a private module belongs to (the part before its first ``_`` component).

    None for a public module. The top package's own private modules (``unseen._version``) are
    the bottom layer, shared by all, and count as public here.
    """
    parts = target.split(".")
    for i, part in enumerate(parts[1:], 1):
        if part.startswith("_"):
            owner = ".".join(parts[:i])
            return None if owner == "unseen" else owner
    return None


def private_imports(root: pathlib.Path = SRC) -> list[str]:
    """Every import of another package's private module (``unseen.B._x``) in the tree at ``root``.

    A module may import the private modules of its own package unseen.A (and of packages inside
    it); everything shared with another package has a public name (the package's __init__ or a
    public module). The top-level ``unseen/__init__`` counts as a package of its own: its
    ``_LAZY`` table and imports name public packages only.
    """
    found: list[str] = []
    mods = modules(root)
    known = set(mods)
    for me, path in mods.items():
        mine = _unit(me)
        for line, target in imported(me, path, known):
            owner = _owner(target)
            if owner is None or (mine != "unseen" and (owner + ".").startswith(mine + ".")):
                continue
            if (_unit(me), target) in PRIVATE_ALLOWED:
                continue
            text = f"{me}:{line} imports the private module {target} of {owner}"
            if text not in found:
                found.append(text)
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    found = private_imports()
    assert not found, f"{len(found)} imports of private modules:\n" + "\n".join(found)


PRIVATE_PLANTS = {
    "from_private": ("client/_pointer.py", "from unseen.node._network import x\n", "_network"),
    "private_as_name": ("client/_pointer.py", "from unseen.node import _network\n", "_network"),
    "relative": ("client/_pointer.py", "from ..node._node import Node\n", "unseen.node._node"),
    "function_local": (
        "client/_pointer.py",
        "def _planted() -> None:\n    import unseen.node._node\n",
        "unseen.node._node",
    ),
    "import_module": (
        "client/_pointer.py",
        "import importlib\n_m = importlib.import_module('unseen.node._node')\n",
        "unseen.node._node",
    ),
    "top_lazy": ("__init__.py", "_LAZY = {'Node': 'unseen.node._node'}\n", "unseen.node._node"),
}


@pytest.mark.parametrize("name", sorted(PRIVATE_PLANTS))
def test_private_check_reports_a_planted_import(tmp_path: pathlib.Path, name: str) -> None:
    root = tmp_path / "unseen"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    rel, text, phrase = PRIVATE_PLANTS[name]
    target = root / rel
    target.write_text(target.read_text() + "\n" + text)
    found = private_imports(root)
    assert any(phrase in line and "private" in line for line in found), (name, found)


def test_private_check_passes_public_and_own_private_imports(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "unseen"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = private_imports(root)
    pointer = root / "client" / "_pointer.py"
    pointer.write_text(
        pointer.read_text()
        + "\nfrom unseen.node import Node\nfrom unseen.client import _views\n"
        + "from unseen._version import __version__\nfrom . import _client\n"
    )
    assert private_imports(root) == before


# Each plant: (file under unseen/, text appended to it, a phrase the report must contain).
PLANTS = {
    "upward": ("store/_memory.py", "from unseen.node import Node\n", "unseen.store._memory"),
    "upward_deep": ("store/_memory.py", "import unseen.node._node\n", "unseen.node._node"),
    "relative_upward": ("store/_memory.py", "from ..node import Node\n", "unseen.node"),
    "relative_module": ("store/_memory.py", "from .. import node\n", "unseen.node"),
    "function_local": (
        "store/_memory.py",
        "def _planted() -> None:\n    from unseen.node import Node\n",
        "unseen.node",
    ),
    "type_checking": (
        "store/_memory.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from unseen.node import Node\n",
        "unseen.node",
    ),
    "import_module_relative": (
        "store/_memory.py",
        "import importlib\n_m = importlib.import_module('..node', __package__)\n",
        "unseen.node",
    ),
    "import_module": (
        "store/_memory.py",
        "import importlib\n_m = importlib.import_module('unseen.node')\n",
        "unseen.node",
    ),
    "import_module_fstring": (
        "store/_memory.py",
        "from importlib import import_module\n_m = import_module(f'unseen.server.{1}')\n",
        "unseen.server",
    ),
    "dunder_import": ("store/_memory.py", "_m = __import__('unseen.server')\n", "unseen.server"),
    "computed_name": (
        "store/_memory.py",
        "import importlib\n_n = 'unseen.' + 'node'\n_m = importlib.import_module(_n)\n",
        "computed",
    ),
    "lazy_table": ("store/_planted.py", "_LAZY = {'Node': 'unseen.node'}\n", "unseen.node"),
    "from_unseen_name": ("store/_memory.py", "from unseen import Client\n", "unseen "),
    "unlisted_package": ("extra/__init__.py", '"""A package in no layer."""\n', "no layer"),
    # errors and _version share layer 0: importing each other is a loop, not an upward import.
    "cycle": ("errors.py", "from unseen import _version\n", "cycle"),
}


def test_loops_are_found_at_any_depth() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}}
    assert _loops(edges) == [["a", "b", "c"]]


def test_check_passes_downward_and_same_package_imports(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "unseen"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    memory = root / "store" / "_memory.py"
    memory.write_text(
        memory.read_text()
        + "\nfrom unseen.errors import UsageError\nfrom . import _records\nfrom .. import serde\n"
        + "def _fine() -> None:\n    import importlib\n"
        + "    importlib.import_module('unseen.messages')\n"
    )
    assert violations(root) == []


def _plant(tmp_path: pathlib.Path, name: str) -> list[str]:
    root = tmp_path / "unseen"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    rel, text, _ = PLANTS[name]
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if name == "cycle":
        version = root / "_version.py"
        version.write_text(version.read_text() + "\nfrom unseen.errors import UnseenError\n")
    old = target.read_text() if target.exists() else '"""Planted."""\n'
    target.write_text(old + "\n" + text)
    return violations(root)


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_check_reports_a_planted_violation(tmp_path: pathlib.Path, name: str) -> None:
    found = _plant(tmp_path, name)
    phrase = PLANTS[name][2]
    assert any(phrase in line for line in found), (name, found)


def test_mpc_engine_imports_only_errors() -> None:
    mods = modules(SRC)
    for me, path in mods.items():
        if me.startswith("unseen.mpc"):
            for _, target in imported(me, path, set(mods)):
                assert target == "unseen.errors" or target.startswith("unseen.mpc"), (me, target)


def test_modules_stay_small() -> None:
    big = [f"{p}: {n}" for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600]
    assert not big, big


def test_every_module_says_its_job() -> None:
    missing = [
        str(p) for p in SRC.rglob("*.py") if ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert not missing, missing


def test_no_pickle_paths_in_src() -> None:
    banned = (
        "import pickle",
        "import dill",
        "import cloudpickle",
        "allow_pickle=True",
        "from pickle",
    )
    hits = [
        f"{p}: {line.strip()}"
        for p in SRC.rglob("*.py")
        for line in p.read_text().splitlines()
        if any(b in line for b in banned) and not line.strip().startswith("#")
    ]
    hits += [
        f"{p}: torch.load without weights_only"
        for p in SRC.rglob("*.py")
        for line in p.read_text().splitlines()
        if "torch.load(" in line and "weights_only=True" not in line
    ]
    assert not hits, hits
