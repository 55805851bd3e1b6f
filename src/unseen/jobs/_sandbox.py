"""The parent's side of a job's isolation: the worker's command, environment and directory.

The worker is a fresh interpreter (``python -I``: no PYTHON* variables, no user site, no
script directory on sys.path), never a fork of the server: it inherits no state, no open
files (close_fds) and no environment variable but the few set here (the node's secrets stay
in the server's environment). Where the kernel allows it, ``unshare --user --net`` puts it in
a new user and network namespace: no interface but a loopback that is down, so no socket can
reach anything, the node included. Python 3.12's ``os.unshare`` would save the extra exec;
this runs on 3.11, and calling unshare from a ``preexec_fn`` is unsafe in a threaded server.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

__all__ = [
    "SRC_ROOT",
    "BOOT",
    "PYTHON_LAYERS",
    "namespace_prefix",
    "expected_layers",
    "worker_command",
    "worker_env",
    "job_dir",
]

log = logging.getLogger("unseen.jobs")

# The directory holding the unseen package this process runs: the worker imports the same one.
SRC_ROOT = str(pathlib.Path(__file__).resolve().parents[2])

BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from unseen.jobs._worker import main; sys.exit(main(sys.argv[2]))"
)


@functools.cache
def namespace_prefix() -> tuple[tuple[str, ...], str]:
    """The command prefix for a new user + network namespace, and the layer's name.

    Probed once per process: an empty prefix where no ``unshare`` binary exists or the kernel
    refuses unprivileged namespaces; the name then says so and the other layers remain.
    """
    exe = shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if os.path.exists(p)), None
    )
    if exe is None:
        return (), "no network namespace (no unshare binary)"
    probe = [exe, "--user", "--net", sys.executable, "-S", "-c", ""]
    try:
        done = subprocess.run(probe, env={}, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return (), f"no network namespace (unshare failed: {e})"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["refused"]
        return (), f"no network namespace (kernel refused: {why[0]})"
    return (exe, "--user", "--net", "--"), "network namespace"


@functools.cache
def expected_layers() -> str:
    """The layers a worker on this machine applies, as the parent knows them (for an outcome
    whose worker died before reporting its own)."""
    from ._landlock import describe, landlock_abi

    _, namespace = namespace_prefix()
    layers = [namespace, describe(landlock_abi()), *PYTHON_LAYERS]
    return ", ".join(layers)


# The layers every worker applies after the kernel's (the worker reports them in this order).
PYTHON_LAYERS = ("rlimits", "audit hook", "import allow-list", "clean environment")


def worker_command(job_path: str) -> list[str]:
    prefix, _ = namespace_prefix()
    return [*prefix, sys.executable, "-I", "-c", BOOT, SRC_ROOT, job_path]


def worker_env(job_path: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the server's, one thread per library."""
    one = "1"
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": job_path,
        "TMPDIR": job_path,
        "OMP_NUM_THREADS": one,
        "OPENBLAS_NUM_THREADS": one,
        "MKL_NUM_THREADS": one,
        "NUMEXPR_NUM_THREADS": one,
        "PYTHONDONTWRITEBYTECODE": one,
    }


def job_dir(work_root: str | None, job_id: str) -> str:
    """A new private directory (0700) for one job, under ``work_root`` or the system temp."""
    path = tempfile.mkdtemp(prefix=f"unseen-job-{job_id}-", dir=work_root)
    os.chmod(path, 0o700)
    return path


def read_output(path: str, cap: int) -> str:
    """The first ``cap`` bytes of a captured stream (plus the worker's truncation line)."""
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 256)
            more = len(f.read(1)) > 0
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if more and "[output truncated" not in text:
        text += f"\n[output truncated at {cap} bytes]\n"
    return text


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
