"""Jobs: a reviewed Python function run on its inputs in an isolated worker process.

Public interface: :class:`JobSpec` (what to run), :class:`JobLimits` (its bounds),
:class:`JobOutcome` (how it ended), the :class:`JobHandle` and :class:`Executor` protocols,
:class:`ProcessExecutor` (the default: a fresh worker process per job) and
:data:`DEFAULT_IMPORTS`. Inputs and results cross the process boundary through unseen.serde,
never pickle. The isolation model and its limits: docs/code.md, "Isolation".
"""

from __future__ import annotations

from ._executor import ProcessExecutor
from ._spec import DEFAULT_IMPORTS, Executor, JobHandle, JobLimits, JobOutcome, JobSpec

__all__ = [
    "DEFAULT_IMPORTS",
    "Executor",
    "JobHandle",
    "JobLimits",
    "JobOutcome",
    "JobSpec",
    "ProcessExecutor",
]
