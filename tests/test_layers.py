"""Lower layers never import higher ones (DESIGN.md section 13), checked on the source."""

from __future__ import annotations

import ast
import pathlib

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


def test_lower_layers_never_import_higher_ones() -> None:
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        me = module_name(path)
        if me == "unseen":
            continue
        mine = layer_of(me)
        for target in imported(path):
            try:
                theirs = layer_of(target)
            except AssertionError:
                theirs = layer_of(target.rsplit(".", 1)[0])
            if theirs > mine:
                violations.append(f"{me} (layer {mine}) imports {target} (layer {theirs})")
    assert not violations, "\n".join(violations)


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
