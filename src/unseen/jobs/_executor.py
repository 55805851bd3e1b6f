"""The default executor: one fresh, isolated worker process per job, ``max_workers`` at once."""

from __future__ import annotations

import ast
import os
import signal
import threading
import time
from typing import Any

from unseen import serde
from unseen.errors import DecodeError, UsageError

from . import _sandbox
from ._pool import Spares
from ._spec import Executor, JobLimits, JobOutcome, JobSpec
from ._worker import JOB_FILE, RESULT_FILE, STDERR_FILE, STDOUT_FILE

__all__ = ["ProcessExecutor"]


def _check_source(spec: JobSpec) -> None:
    try:
        tree = ast.parse(spec.source)
    except SyntaxError as e:
        raise UsageError(f"job {spec.job_id}: the source does not parse: {e}") from None
    if any(isinstance(n, ast.AsyncFunctionDef) and n.name == spec.function for n in tree.body):
        raise UsageError(
            f"job {spec.job_id}: {spec.function!r} is an async def: a job runs a plain def"
        )
    if not any(isinstance(n, ast.FunctionDef) and n.name == spec.function for n in tree.body):
        raise UsageError(
            f"job {spec.job_id}: the source defines no top-level function {spec.function!r}"
        )


def _payload(spec: JobSpec) -> bytes | bytearray:
    limits = spec.limits
    job = {
        "source": spec.source,
        "function": spec.function,
        "inputs": spec.inputs,
        "allowed_imports": list(spec.allowed_imports),
        "limits": {
            "cpu_seconds": float(limits.cpu_seconds),
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "processes": limits.processes,
            "output_bytes": limits.output_bytes,
        },
        "namespace": _sandbox.namespace_prefix()[1],
        "read_roots": [_sandbox.SRC_ROOT],
    }
    try:
        return serde.encode(job)
    except Exception as e:
        raise UsageError(
            f"job {spec.job_id}: the inputs cannot be sent to the worker ({e}); pass values "
            "unseen.serde encodes: numpy, pandas, torch, scalars, str, lists, dicts"
        ) from None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _ProcessJob:
    """The handle of one job run by a :class:`ProcessExecutor`."""

    def __init__(
        self, spec: JobSpec, payload: bytes | bytearray, slots: threading.Semaphore, spares: Spares
    ):
        self.job_id = spec.job_id
        self._spec = spec
        self._payload = payload
        self._slots = slots
        self._spares = spares
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: JobOutcome | None = None
        self._pid: int | None = None
        self._stopped_for = ""  # "cancel" or "deadline" once the parent killed the worker
        self._thread = threading.Thread(target=self._run, name=f"job-{spec.job_id}", daemon=True)

    def poll(self) -> JobOutcome | None:
        return self._outcome

    def wait(self, timeout: float | None = None) -> JobOutcome | None:
        self._done.wait(timeout)
        return self._outcome

    def cancel(self) -> None:
        self._stop("cancel")

    def _stop(self, why: str) -> None:
        with self._lock:
            if self._stopped_for or self._done.is_set():
                return
            self._stopped_for = why
            if self._pid is not None:
                try:
                    os.killpg(self._pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _finish(self, outcome: JobOutcome) -> None:
        self._outcome = outcome
        self._done.set()

    def _run(self) -> None:
        with self._slots:
            if self._stopped_for == "cancel":
                self._finish(JobOutcome(status="cancelled", reason="cancelled before it started"))
                return
            try:
                self._finish(self._execute())
            except Exception as e:  # the executor's own failure must still end the job
                self._finish(JobOutcome(status="failed", reason=f"the executor failed: {e!r}"))

    def _execute(self) -> JobOutcome:
        limits = self._spec.limits
        worker = self._spares.take()
        path, proc = worker.path, worker.proc
        try:
            with open(os.path.join(path, JOB_FILE), "wb") as f:
                f.write(self._payload)
            self._payload = bytearray()
            with self._lock:
                if self._stopped_for == "cancel":
                    worker.discard()
                    return JobOutcome(status="cancelled", reason="cancelled before it started")
                self._pid = proc.pid
                started = time.monotonic()
                worker.go()  # a worker that died waiting ends below with its exit status
            self._spares.refill()
            timer = threading.Timer(limits.wall_seconds, self._stop, args=("deadline",))
            timer.daemon = True
            timer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            timer.cancel()
            wall = time.monotonic() - started
            with self._lock:
                proc.returncode = os.waitstatus_to_exitcode(status)
                self._pid = None
                try:  # whatever the job left running in its session goes too
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            worker.close_files()
            cpu = usage.ru_utime + usage.ru_stime
            report = _read_result(os.path.join(path, RESULT_FILE))
            return self._outcome_of(proc.returncode, report, cpu, wall, path)
        finally:
            worker.close_files()
            _sandbox.remove(path)

    def _outcome_of(
        self, code: int, report: dict[str, Any] | None, cpu: float, wall: float, path: str
    ) -> JobOutcome:
        limits = self._spec.limits
        cap = limits.output_bytes
        common: dict[str, Any] = {
            "stdout": _sandbox.read_output(os.path.join(path, STDOUT_FILE), cap),
            "stderr": _sandbox.read_output(os.path.join(path, STDERR_FILE), cap),
            "cpu_seconds": cpu,
            "wall_seconds": wall,
        }
        isolation = str(report.get("isolation", "")) if report else ""
        common["isolation"] = isolation or _sandbox.expected_layers()
        if self._stopped_for == "cancel":
            return JobOutcome(status="cancelled", reason="cancelled while running", **common)
        if self._stopped_for == "deadline":
            reason = f"wall-clock deadline ({limits.wall_seconds:g} s) passed"
            return JobOutcome(status="failed", reason=reason, **common)
        if report is not None and code == 0:
            if report.get("status") == "done":
                return JobOutcome(status="done", result=report.get("result"), **common)
            reason = str(report.get("reason") or "the job failed")
            return JobOutcome(status="failed", reason=reason, **common)
        return JobOutcome(
            status="failed", reason=_death_reason(code, cpu, limits, common), **common
        )


def _death_reason(code: int, cpu: float, limits: JobLimits, common: dict[str, Any]) -> str:
    """Why a worker ended without an outcome of its own, from its exit status and usage."""
    if code < 0:
        name = _signal_name(-code)
        if -code == signal.SIGXCPU or (-code == signal.SIGKILL and cpu >= limits.cpu_seconds):
            return f"CPU time limit ({limits.cpu_seconds:g} s) exceeded"
        if -code == signal.SIGXFSZ:
            return f"file size limit ({limits.file_bytes} bytes) exceeded"
        if -code in (signal.SIGSEGV, signal.SIGBUS):
            return (
                f"the worker was killed by {name} (a native library crashed; near the memory "
                f"limit of {limits.describe_memory()}?)"
            )
        return f"the worker was killed by {name}"
    last = [line for line in str(common["stderr"]).splitlines() if line.strip()][-1:]
    detail = f": {last[0]}" if last else ""
    return f"the worker exited with status {code} before reporting an outcome{detail}"


def _read_result(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            value = serde.decode(bytearray(f.read()))
    except (OSError, DecodeError):
        return None
    if not isinstance(value, dict) or value.get("status") not in ("done", "failed"):
        return None
    return value


class ProcessExecutor:
    """Runs each job in a fresh isolated worker process, at most ``max_workers`` at once.

    ``work_root`` is where the jobs' private directories go (the system temp by default); each
    is created 0700 and removed when its job ends. Jobs past ``max_workers`` wait in order.
    ``spare_workers=1`` keeps one worker booted and waiting (it has read no job), so that a job
    starts without the interpreter's and numpy's start-up; 0 starts each worker on demand.
    Use as a context manager, or call :meth:`close`: it cancels the jobs not yet ended.
    """

    def __init__(
        self,
        max_workers: int = 2,
        work_root: str | os.PathLike[str] | None = None,
        *,
        spare_workers: int = 1,
    ):
        if type(max_workers) is not int or max_workers < 1:
            raise UsageError(f"max_workers must be a positive int, got {max_workers!r}")
        if spare_workers not in (0, 1):
            raise UsageError(f"spare_workers must be 0 or 1, got {spare_workers!r}")
        self.max_workers = max_workers
        self._root = None if work_root is None else os.fspath(work_root)
        if self._root is not None and not os.path.isdir(self._root):
            raise UsageError(f"work_root {self._root!r} is not a directory: create it first")
        self._slots = threading.Semaphore(max_workers)
        self._jobs: list[_ProcessJob] = []
        self._jobs_lock = threading.Lock()
        self._closed = False
        _, layer = _sandbox.namespace_prefix()
        _sandbox.log.info("job executor: %s; workers at most %d", layer, max_workers)
        self._spares = Spares(self._root, keep=spare_workers)
        self._spares.refill()

    def submit(self, spec: JobSpec) -> _ProcessJob:
        if self._closed:
            raise UsageError("this executor is closed: create a new ProcessExecutor")
        if not isinstance(spec, JobSpec):
            raise UsageError(f"submit() takes a JobSpec, got {type(spec).__name__}")
        _check_source(spec)
        job = _ProcessJob(spec, _payload(spec), self._slots, self._spares)
        with self._jobs_lock:
            if self._closed:
                raise UsageError("this executor is closed: create a new ProcessExecutor")
            self._jobs = [j for j in self._jobs if not j._done.is_set()] + [job]
            job._thread.start()
        return job

    def close(self) -> None:
        with self._jobs_lock:
            self._closed = True
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.cancel()
        for job in jobs:
            job._thread.join()
        self._spares.close()

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_an_executor(executor: ProcessExecutor) -> Executor:
    return executor  # mypy checks that ProcessExecutor and its handles follow the protocols
