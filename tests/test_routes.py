"""Every message kind has exactly one route once the node is imported (a linter once removed the
imports that declare routes, and half the kinds became unknown)."""

from __future__ import annotations

import subprocess
import sys


def test_every_kind_has_a_route_in_a_fresh_process() -> None:
    code = (
        "from unseen.node import Node\n"
        "from unseen.node._routes import ROUTES\n"
        "from unseen.messages import KINDS\n"
        "missing, extra = sorted(set(KINDS) - set(ROUTES)), sorted(set(ROUTES) - set(KINDS))\n"
        "assert not missing and not extra, (missing, extra)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
