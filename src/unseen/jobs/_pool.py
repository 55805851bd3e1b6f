"""Started workers waiting for their job: one spare kept ready so that a job skips the boot.

A worker boots (interpreter, numpy, serde) in its own new job directory, then blocks on its
stdin until the parent has written the job file and sends ``go``. Each worker still runs
exactly one job and ends; the spare only moves the boot before ``submit``. It has read no job
and holds nothing of the server's (same clean command, environment and directory as any).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

from . import _sandbox
from ._worker import STDERR_FILE, STDOUT_FILE

__all__ = ["Worker", "Spares"]

GO = b"go\n"


@dataclass
class Worker:
    """A started worker, its job directory and the files its stdout/stderr go to."""

    proc: subprocess.Popen[bytes]
    path: str
    out: IO[bytes]
    err: IO[bytes]

    def go(self) -> bool:
        """Tell the worker its job is in place; False if it died while waiting."""
        stdin = self.proc.stdin
        try:  # left open: the worker ends when it closes (the server died)
            assert stdin is not None
            stdin.write(GO)
            stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def close_files(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass  # the worker is gone and the pipe broken
        self.out.close()
        self.err.close()

    def discard(self) -> None:
        """Kill a worker that will run no job, reap it and remove its directory."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.close_files()
        _sandbox.remove(self.path)


def start(work_root: str | None) -> Worker:
    path = _sandbox.job_dir(work_root, "w")
    out = open(os.path.join(path, STDOUT_FILE), "wb")
    err = open(os.path.join(path, STDERR_FILE), "wb")
    try:
        proc = subprocess.Popen(
            _sandbox.worker_command(path),
            cwd=path,
            env=_sandbox.worker_env(path),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            close_fds=True,
            start_new_session=True,
        )
    except BaseException:
        out.close()
        err.close()
        _sandbox.remove(path)
        raise
    return Worker(proc, path, out, err)


class Spares:
    """Keeps ``keep`` (0 or 1) started workers ready; :meth:`take` hands one out."""

    def __init__(self, work_root: str | None, keep: int) -> None:
        self._root = work_root
        self._keep = keep
        self._ready: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> Worker:
        """A started worker: the spare if one is alive, else a new one (call :meth:`refill`
        once the job has started, so that the next boot does not slow this one's start)."""
        with self._lock:
            ready, self._ready = self._ready, []
        worker = None
        for candidate in ready:
            if worker is None and candidate.proc.poll() is None:
                worker = candidate
            else:
                candidate.discard()
        if worker is None:
            worker = start(self._root)
        return worker

    def refill(self) -> None:
        with self._lock:
            if self._closed or len(self._ready) >= self._keep:
                return
            self._ready.append(start(self._root))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
        for worker in ready:
            worker.discard()
