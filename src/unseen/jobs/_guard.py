"""The worker's Python-level fences: the import allow-list and the audit hook.

Both run inside the job's interpreter and guard against the job's own code only. They are a
second layer: a determined job can reach modules it did not import through attributes of the
ones it did (``torch.os``), and no Python-level check is a sandbox. What they add is a clear
reason for the honest mistake (``import socket`` -> "import of 'socket' is not allowed") and a
refusal of the dangerous calls (processes, sockets, files outside the job directory, ctypes
outside an import) however the job reached them. The walls are the network namespace, landlock,
the rlimits and the clean environment (see _sandbox.py and docs/code.md, "Isolation").
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Iterable
from types import FrameType
from typing import Any

__all__ = ["JOB_MODULE", "ImportRefused", "IsolationRefused", "job_builtins", "Guard"]

JOB_MODULE = "__job__"  # the __name__ of the namespace the job's source runs in

_IMPORT_MACHINERY = ("importlib", "_frozen_importlib", "_frozen_importlib_external")


class ImportRefused(ImportError):
    """The job imported a module outside its allow-list."""


class IsolationRefused(PermissionError):
    """The job tried something the worker refuses (a process, a socket, a file outside)."""


def _from_job(frame: FrameType | None) -> bool:
    """True when the nearest frame outside the import machinery is the job's own code."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (isinstance(name, str) and name.startswith(_IMPORT_MACHINERY)):
            return name == JOB_MODULE
        frame = frame.f_back
    return False


def _importing(frame: FrameType | None) -> bool:
    """True while a module is being imported (an import machinery frame is on the stack)."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(_IMPORT_MACHINERY):
            return True
        frame = frame.f_back
    return False


def _refused_import(name: str, allowed: frozenset[str]) -> ImportRefused:
    shown = ", ".join(sorted(allowed)) or "none"
    return ImportRefused(
        f"import of {name!r} is not allowed in this job (allowed: {shown}); "
        "the data owner sets the allowed imports"
    )


def job_builtins(allowed: Iterable[str]) -> dict[str, Any]:
    """A copy of the builtins whose ``__import__`` refuses modules outside ``allowed``.

    The job's namespace gets this dict as ``__builtins__``: imports written in the job's code
    go through the guard, imports that allowed packages make internally (their own globals hold
    the real builtins) do not, so numpy still loads the stdlib modules it needs.
    """
    names = frozenset(allowed)
    real_import = builtins.__import__

    def guarded_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if level:
            raise ImportRefused("relative imports are not allowed in a job")
        top = name.partition(".")[0]
        if top not in names:
            raise _refused_import(top, names)
        return real_import(name, globals, locals, fromlist, level)

    table = dict(builtins.__dict__)
    table["__import__"] = guarded_import
    for name in ("breakpoint", "help", "copyright", "credits", "license"):
        table.pop(name, None)
    return table


class _Finder:
    """A meta path finder that refuses to load, for the job's code, a module not allowed.

    It sees only modules not yet loaded, and only imports that do not go through the guarded
    ``__import__`` (e.g. ``importlib.import_module`` reached through an attribute).
    """

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        if top not in self.allowed and _from_job(sys._getframe(1)):
            raise _refused_import(top, self.allowed)
        return None


# Events refused whoever asks: new processes, signals, sockets, raw interpreter access.
_REFUSED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "pty.",
    "os.system",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
    "os.setuid",
    "os.setgid",
    "sys.remote_exec",
    "_posixsubprocess.",
    "winreg.",
)
# Events naming a path that must lie in the job directory (second argument position = index).
_WRITE_EVENTS = {
    "os.chmod": 0,
    "os.chown": 0,
    "os.link": 1,
    "os.mkdir": 0,
    "os.remove": 0,
    "os.rename": 1,
    "os.rmdir": 0,
    "os.symlink": 1,
    "os.truncate": 0,
    "os.utime": 0,
    "os.setxattr": 0,
    "os.removexattr": 0,
    "shutil.rmtree": 0,
}
_READ_EVENTS = {"os.listdir": 0, "os.scandir": 0, "os.listxattr": 0, "glob.glob": 0}
_CTYPES_IMPORT_ONLY = ("ctypes.dlopen", "ctypes.dlsym/handle")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    """The audit hook and import finder of one worker; :meth:`arm` before the job's code runs.

    ``read_roots`` are the directories the job may read (the interpreter, its packages);
    ``job_dir`` the one it may read and write. Refusals raise :class:`IsolationRefused` in the
    job and are remembered in :attr:`refusals` (the first names the failure reason).
    """

    def __init__(self, job_dir: str, read_roots: Iterable[str], allowed: Iterable[str]) -> None:
        self.job_dir = os.path.realpath(job_dir)
        self.package_roots = tuple(
            os.path.realpath(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))
        )
        self.read_roots = tuple(sorted({os.path.realpath(r) for r in read_roots if r}))
        self.allowed = frozenset(allowed)
        self.armed = False
        self.refusals: list[str] = []

    def install(self) -> None:
        sys.addaudithook(self._hook)
        sys.meta_path.insert(0, _Finder(self.allowed))  # type: ignore[arg-type]

    def arm(self) -> None:
        self.armed = True

    def _refuse(self, what: str) -> IsolationRefused:
        message = f"job isolation: {what} is not allowed"
        self.refusals.append(message)
        return IsolationRefused(message)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event.startswith(_REFUSED_PREFIXES):
            kind = "network access" if event.startswith("socket.") else "starting a process"
            if event.startswith(("os.kill", "signal.")):
                kind = "sending a signal"
            raise self._refuse(f"{kind} ({event})")
        if event == "open":
            self._check_open(args)
        elif event in _WRITE_EVENTS:
            self._check_path(args[_WRITE_EVENTS[event]], write=True, event=event)
            if event in ("os.rename", "os.link", "os.symlink"):
                self._check_path(args[0], write=event != "os.symlink", event=event)
        elif event in _READ_EVENTS:
            self._check_path(args[_READ_EVENTS[event]], write=False, event=event)
        elif event in _CTYPES_IMPORT_ONLY and not _importing(sys._getframe(1)):
            raise self._refuse(f"loading native code outside an import ({event})")
        elif event == "ctypes.dlsym" and not _importing(sys._getframe(1)):
            self._check_symbol(args[0] if args else None)

    def _check_symbol(self, library: Any) -> None:
        """Outside an import, a symbol may come only from a package's own native library.

        opendp looks up its functions lazily; libc (``CDLL(None)``, ``ctypes.pythonapi``) or a
        library by bare name would give the job ``system`` and friends.
        """
        name = getattr(library, "_name", None)
        if isinstance(name, str) and os.path.isabs(name):
            full = os.path.realpath(name)
            if any(_inside(full, root) for root in self.package_roots):
                return
        raise self._refuse(f"looking up native code in {name!r} outside an import (ctypes.dlsym)")

    def _check_open(self, args: tuple[Any, ...]) -> None:
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if isinstance(path, int):
            return  # an fd already open (0, 1, 2 or one the job opened through this check)
        if isinstance(mode, str):
            write = any(c in mode for c in "wax+")
        else:
            write = bool((flags or 0) & _WRITE_FLAGS)
        self._check_path(path, write=write, event="open")

    def _check_path(self, path: Any, *, write: bool, event: str) -> None:
        if path is None or isinstance(path, int):
            return
        try:
            text = os.fsdecode(path)
        except TypeError:
            return
        full = os.path.realpath(text)
        if _inside(full, self.job_dir):
            return
        if not write and any(_inside(full, root) for root in self.read_roots):
            return
        verb = "writing" if write else "reading"
        raise self._refuse(f"{verb} {text!r} outside the job directory ({event})")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def read_roots_of_interpreter(extra: Iterable[str] = ()) -> list[str]:
    """The directories the interpreter and its packages load from, plus a few system files."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    roots += [p for p in sys.path if p and os.path.isabs(p)]
    roots += list(extra)
    return roots
