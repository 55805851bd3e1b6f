"""The public face: __all__ is complete and importable, and `import unseen` stays light."""

from __future__ import annotations

import subprocess
import sys

import unseen


def test_all_names_resolve() -> None:
    for name in unseen.__all__:
        assert getattr(unseen, name) is not None, name


def test_all_is_complete() -> None:
    public = {
        n
        for n in dir(unseen)
        if not n.startswith("_") and n not in ("annotations", "TYPE_CHECKING")
    }
    modules = {
        "errors",
        "serde",
        "ops",
        "messages",
        "store",
        "node",
        "transport",
        "client",
        "mpc",
        "cli",
        "server",
        "dp",
        "duet",
        "network",
        "fl",
        "train",
        "jobs",
    }
    assert public - set(unseen.__all__) - modules == set()


def test_errors_form_one_tree() -> None:
    for name in unseen.__all__:
        obj = getattr(unseen, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, unseen.UnseenError), name


def test_import_is_light_and_patches_nothing() -> None:
    code = (
        "import sys, unseen\n"
        "heavy = [m for m in ('torch', 'pandas', 'pyarrow', 'fastapi', 'sqlalchemy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_torch_is_not_patched_on_import() -> None:
    import torch

    assert not hasattr(torch.Tensor, "send")
