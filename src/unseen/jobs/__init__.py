"""Jobs: a reviewed Python function run on its inputs in an isolated worker process.

Public interface: :class:`JobSpec` (what to run), :class:`JobLimits` (its bounds),
:class:`JobOutcome` (how it ended), the :class:`JobHandle` and :class:`Executor` protocols,
:class:`ProcessExecutor` (the default: a fresh worker process per job) and
:data:`DEFAULT_IMPORTS`. Inputs and results cross the process boundary through unseen.serde,
never pickle. The isolation model and its limits: docs/code.md, "Isolation".
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

from ._spec import DEFAULT_IMPORTS, Executor, JobHandle, JobLimits, JobOutcome, JobSpec

if TYPE_CHECKING:
    from ._executor import ProcessExecutor

# The worker imports this package too: the executor (subprocess, threading) loads on first use.
_LAZY = {"ProcessExecutor": "unseen.jobs._executor"}

__all__ = [
    "DEFAULT_IMPORTS",
    "Executor",
    "JobHandle",
    "JobLimits",
    "JobOutcome",
    "JobSpec",
    "ProcessExecutor",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unseen.jobs' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value
