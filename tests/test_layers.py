"""Lower layers never import higher ones (DESIGN.md section 13), checked on the source."""

from __future__ import annotations

import ast
import pathlib
import shutil

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "unseen"

# Lowest first. A module may import its own layer and the layers before it.
LAYERS: list[set[str]] = [
    {"unseen._version", "unseen.errors"},
    {"unseen.serde"},
    {"unseen.mpc"},
    {"unseen.ops"},
    {"unseen.messages"},
    {"unseen.store"},
    {"unseen.dp"},
    {"unseen.node"},
    {"unseen.transport"},
    {"unseen.client"},
    {"unseen.server", "unseen.fl", "unseen.duet", "unseen.network"},
    {"unseen.cli"},
    {"unseen"},
]


def layer_of(module: str) -> int:
    best = -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                best = index
    if best < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    if module == "unseen":
        return len(LAYERS) - 1
    return best


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "unseen"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "unseen":
                if node.module == "unseen":
                    found |= {f"unseen.{a.name}" for a in node.names}
                else:
                    found.add(node.module)
    return found


def violations(root: pathlib.Path = SRC) -> list[str]:
    """Every layer violation in the tree at ``root`` (a directory named ``unseen``)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        me = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        if me == "unseen":
            continue
        mine = layer_of(me)
        for target in imported(path):
            try:
                theirs = layer_of(target)
            except AssertionError:
                theirs = layer_of(target.rsplit(".", 1)[0])
            if theirs > mine:
                found.append(f"{me} (layer {mine}) imports {target} (layer {theirs})")
    return found


def test_lower_layers_never_import_higher_ones() -> None:
    found = violations()
    assert not found, "\n".join(found)


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
    for path in sorted((SRC / "mpc").rglob("*.py")):
        for target in imported(path):
            assert target == "unseen.errors" or target.startswith("unseen.mpc"), (path, target)


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
