"""The job worker: a fresh interpreter that runs one job's function and writes its outcome.

Started by :class:`~unseen.jobs.ProcessExecutor` as ``python -I -c <boot> SRC JOB_DIR`` in a
clean environment, its cwd the job's private directory; it boots, then waits for ``go`` on its
stdin (the parent keeps one such spare ready, see _pool.py). Order matters: read the job (serde),
set the rlimits, close the filesystem with landlock, install the import guard and the audit
hook, cap stdout/stderr, and only then compile and call the job's code. The outcome goes to
``result.uns`` in the job directory, again through serde; nothing is pickled.
"""

from __future__ import annotations

import ast
import errno
import io
import os
import resource
import shutil
import sys
import threading
import time
import traceback
from typing import Any

from unseen import serde

from ._guard import (
    JOB_MODULE,
    Guard,
    ImportRefused,
    IsolationRefused,
    job_builtins,
    read_roots_of_interpreter,
)
from ._landlock import restrict_filesystem

__all__ = ["main", "apply_limits", "JOB_FILE", "RESULT_FILE", "STDOUT_FILE", "STDERR_FILE"]

JOB_FILE = "job.uns"
RESULT_FILE = "result.uns"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
REASON_CHARS = 2000  # a failure's reason is kept to this; the whole traceback is on stderr

# System paths the loader and numeric libraries read (shared libraries, CPU topology).
SYSTEM_READ = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
    "/sys/devices/system/cpu",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/self",
    "/dev/null",
    "/dev/urandom",
    "/usr/share/zoneinfo",
)


def apply_limits(limits: dict[str, Any]) -> None:
    """Set the rlimits of this process (and of anything it would start); they cannot be raised."""
    cpu = max(1, int(limits["cpu_seconds"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class _CappedOutput(io.RawIOBase):
    """fd 1 or 2, keeping the first ``cap`` bytes and one line saying what was dropped."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap, self.written, self.dropped = fd, cap, 0, 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        room = self.cap - self.written
        if room > 0:
            os.write(self.fd, view[:room])
            self.written += min(room, len(view))
        if len(view) > room:
            if not self.dropped:
                os.write(self.fd, f"\n[output truncated at {self.cap} bytes]\n".encode())
            self.dropped += len(view) - max(room, 0)
        return len(view)


def _capture(cap: int) -> None:
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = io.TextIOWrapper(
            io.BufferedWriter(_CappedOutput(fd, cap)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        setattr(sys, name, stream)


def _load(source: str, function: str, allowed: tuple[str, ...]) -> Any:
    """Compile the job's source (decorators of the function dropped) and return the function."""
    tree = ast.parse(source, filename=f"<job {function}>")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            node.decorator_list = []
    code = compile(tree, f"<job {function}>", "exec")
    namespace: dict[str, Any] = {"__name__": JOB_MODULE, "__builtins__": job_builtins(allowed)}
    exec(code, namespace)  # noqa: S102 -- the reviewed job source, inside the worker's fences
    fn = namespace.get(function)
    if not callable(fn):
        raise NameError(f"the source defines no function {function!r}")
    return fn


def _reason(exc: BaseException, limits: dict[str, Any], guard: Guard) -> str:
    if isinstance(exc, MemoryError):
        gib = limits["memory_bytes"] / (1 << 30)
        return f"memory limit ({gib:.1f} GiB) exceeded ({type(exc).__name__}: {exc})"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        mib = limits["file_bytes"] / (1 << 20)
        return f"file size limit ({mib:.0f} MiB) exceeded"
    if isinstance(exc, ImportRefused | IsolationRefused):
        return str(exc)
    if guard.refusals:
        return f"{guard.refusals[0]} (then {type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


def _die_with_parent() -> None:
    """End the worker when its stdin closes: the parent keeps it open until the job ends, so
    EOF means the server died, and a job must not run on with nobody to stop it."""
    while os.read(0, 4096):  # the fd, not sys.stdin: its lock would stop the exit
        pass
    os._exit(1)


def _write(job_dir: str, outcome: dict[str, Any]) -> None:
    with open(os.path.join(job_dir, RESULT_FILE), "wb") as f:
        f.write(serde.encode(outcome))


def main(job_dir: str) -> int:
    if sys.stdin.buffer.readline() != b"go\n":  # a spare whose executor went away
        shutil.rmtree(job_dir, ignore_errors=True)
        return 0
    threading.Thread(target=_die_with_parent, daemon=True).start()
    with open(os.path.join(job_dir, JOB_FILE), "rb") as f:
        job = serde.decode(bytearray(f.read()))
    limits = job["limits"]
    allowed = tuple(job["allowed_imports"])
    layers = [job["namespace"]]
    roots = read_roots_of_interpreter(job["read_roots"])
    landlock = restrict_filesystem(
        read=[*roots, *SYSTEM_READ], write=[job_dir], restrict_network=True
    )
    layers.append(landlock)
    apply_limits(limits)
    # the same names as _sandbox.PYTHON_LAYERS (not imported: the worker needs none of it)
    layers += ["rlimits", "audit hook", "import allow-list", "clean environment"]
    guard = Guard(job_dir, [*roots, *SYSTEM_READ], allowed)
    guard.install()
    _capture(limits["output_bytes"])
    isolation = ", ".join(layer for layer in layers if layer)
    started = time.perf_counter()
    guard.arm()
    try:
        fn = _load(job["source"], job["function"], allowed)
        result = fn(**job["inputs"])
    except BaseException as exc:  # the job's failure, whatever it is, is its outcome
        tb = traceback.extract_tb(exc.__traceback__)
        user = [frame for frame in tb if frame.filename.startswith("<job ")]
        sys.stderr.write("".join(traceback.format_list(user)))
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        sys.stderr.flush()
        reason = _reason(exc, limits, guard)
        if len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS] + f"... ({len(reason)} characters)"
        outcome: dict[str, Any] = {"status": "failed", "reason": reason}
    else:
        outcome = {"status": "done", "result": result}
    outcome["isolation"] = isolation
    outcome["user_seconds"] = time.perf_counter() - started
    try:
        _write(job_dir, outcome)
    except Exception as exc:  # serde refused the result, or it passes the file size limit
        reason = f"the result cannot be encoded: {type(exc).__name__}: {exc}"
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            reason = f"the result is larger than the file size limit ({limits['file_bytes']} bytes)"
        _write(job_dir, {"status": "failed", "reason": reason, "isolation": isolation})
    sys.stdout.flush()
    sys.stderr.flush()
    return 0
