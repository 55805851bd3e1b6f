"""Fixtures of the attack suite; the world and helpers live in ``security_support``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from security_support import attacks, world  # noqa: E402, F401
