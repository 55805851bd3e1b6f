"""What a job is, what bounds it and how it ended: the types every executor shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from unseen.errors import UsageError

__all__ = [
    "DEFAULT_IMPORTS",
    "JobLimits",
    "JobSpec",
    "JobOutcome",
    "JobHandle",
    "Executor",
    "STATUSES",
]

# The packages a job may import by default (the owner sets the list per job). The stdlib
# modules here hold no way out of the worker: no files, processes, sockets or interpreter
# internals (os, sys, io, subprocess, socket, ctypes, importlib, pathlib are not in it).
DEFAULT_IMPORTS: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "torch",
    "opendp",
    "math",
    "cmath",
    "statistics",
    "random",
    "time",
    "datetime",
    "decimal",
    "fractions",
    "itertools",
    "functools",
    "operator",
    "collections",
    "heapq",
    "bisect",
    "re",
    "string",
    "json",
    "typing",
    "dataclasses",
    "enum",
    "copy",
)

STATUSES = ("done", "failed", "cancelled")

_GIB = 1 << 30


@dataclass(frozen=True, kw_only=True)
class JobLimits:
    """The bounds of one job; the worker's rlimits and the parent's deadline.

    Attributes:
        cpu_seconds: CPU time (RLIMIT_CPU: SIGXCPU past it, SIGKILL a second later).
        wall_seconds: the wall-clock deadline from the worker's start; the parent kills the
            worker's process group past it.
        memory_bytes: address space (RLIMIT_AS: allocations past it fail with MemoryError).
        file_bytes: the largest file the job may write (RLIMIT_FSIZE), the result included.
        processes: RLIMIT_NPROC. The kernel ignores it for a worker running as root; the
            audit hook refuses fork/exec from the job in every case.
        output_bytes: stdout and stderr each kept up to this size, then a truncation line.
    """

    cpu_seconds: float = 60.0
    wall_seconds: float = 300.0
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
    processes: int = 64
    output_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = float if f.name.endswith("seconds") else int
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if kind is int:
                ok = ok and type(value) is int
            if not ok or not math.isfinite(value) or value <= 0:
                raise UsageError(
                    f"JobLimits.{f.name} must be a positive {kind.__name__}, got {value!r}"
                )

    def describe_memory(self) -> str:
        return _size(self.memory_bytes)

    def describe_file(self) -> str:
        return _size(self.file_bytes)


def _size(n: int) -> str:
    if n >= _GIB:
        return f"{n / _GIB:.1f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MiB"
    return f"{n} bytes"


def _seconds(s: float) -> str:
    return f"{s:g} s"


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """One function to run on its inputs.

    Attributes:
        job_id: the caller's name for the job (letters, digits, ``-``, ``_``, ``.``).
        source: module source that defines the function with a top-level ``def``; decorators
            on that function are dropped before it runs.
        function: the function's name.
        inputs: its keyword arguments: values unseen.serde can encode (numpy, pandas, torch,
            scalars, str, lists, dicts, ...).
        allowed_imports: the top-level modules the job's own code may import.
        limits: the job's bounds.
    """

    job_id: str
    source: str
    function: str
    inputs: dict[str, Any] = field(default_factory=dict)
    allowed_imports: tuple[str, ...] = DEFAULT_IMPORTS
    limits: JobLimits = field(default_factory=JobLimits)

    def __post_init__(self) -> None:
        if not isinstance(self.job_id, str) or not _safe_id(self.job_id):
            raise UsageError(
                f"JobSpec.job_id must be 1-64 letters, digits, '-', '_' or '.', got {self.job_id!r}"
            )
        if not isinstance(self.source, str) or not isinstance(self.function, str):
            raise UsageError("JobSpec.source and JobSpec.function must be str")
        if not self.function.isidentifier():
            raise UsageError(f"JobSpec.function must be a Python name, got {self.function!r}")
        if not isinstance(self.inputs, dict) or not all(
            isinstance(k, str) and k.isidentifier() for k in self.inputs
        ):
            raise UsageError("JobSpec.inputs must be a dict of keyword-argument names to values")
        names = self.allowed_imports
        if isinstance(names, str) or not all(
            isinstance(n, str) and n.isidentifier() for n in names
        ):
            raise UsageError(
                "JobSpec.allowed_imports must be a tuple of top-level module names, "
                f"e.g. ('numpy', 'pandas'), got {names!r}"
            )
        object.__setattr__(self, "allowed_imports", tuple(names))
        if not isinstance(self.limits, JobLimits):
            raise UsageError(f"JobSpec.limits must be a JobLimits, got {self.limits!r}")


def _safe_id(text: str) -> bool:
    return 0 < len(text) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in text)


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """How a job ended.

    Attributes:
        status: "done", "failed" or "cancelled".
        result: the function's return value ("done" only).
        stdout, stderr: what the job printed, truncated past ``limits.output_bytes``.
        reason: why it failed or was cancelled, e.g. "memory limit (2.0 GiB) exceeded",
            "wall-clock deadline (300 s) passed", "import of 'socket' is not allowed",
            or the exception's type and message.
        cpu_seconds: CPU time the worker used (user + system).
        wall_seconds: from the worker's start to its end.
        isolation: the layers that applied, e.g. "network namespace, landlock, rlimits,
            audit hook, import allow-list" (docs/code.md, "Isolation").
    """

    status: str
    result: Any = None
    stdout: str = ""
    stderr: str = ""
    reason: str = ""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    isolation: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise UsageError(f"JobOutcome.status must be one of {STATUSES}, got {self.status!r}")


class JobHandle(Protocol):
    """A submitted job."""

    job_id: str

    def poll(self) -> JobOutcome | None:
        """The outcome, or None while the job is queued or running."""
        ...

    def wait(self, timeout: float | None = None) -> JobOutcome | None:
        """Block until the job ends (None if ``timeout`` seconds pass first)."""
        ...

    def cancel(self) -> None:
        """Stop the job (kill its worker); its outcome becomes "cancelled"."""
        ...


class Executor(Protocol):
    """Runs jobs somewhere other than the calling process."""

    def submit(self, spec: JobSpec) -> JobHandle:
        """Start (or queue) a job and return its handle at once."""
        ...

    def close(self) -> None:
        """Cancel every job not yet ended and release the executor's resources."""
        ...
