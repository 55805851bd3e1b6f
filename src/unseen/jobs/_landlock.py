"""Landlock for the worker: the kernel closes the filesystem, TCP and signals to the job.

Linux 5.13+ lets an unprivileged process restrict itself, for good, to a set of paths
(landlock). The worker calls :func:`restrict_filesystem` before the job's code runs: it may
read the interpreter and its packages, read and write its job directory, and nothing else; on
kernels with landlock ABI 4+ it may not bind or connect TCP sockets, with ABI 6+ it may not
signal processes outside itself. Where the kernel lacks landlock the function says so and the
worker goes on with the other layers (the outcome's ``isolation`` names what applied).
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterable

__all__ = ["restrict_filesystem", "landlock_abi", "describe"]

# syscall numbers: landlock arrived after the tables were unified, the same on x86_64/aarch64
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_VERSION_FLAG = 1
_RULE_PATH_BENEATH = 1

_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute .. make_sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's landlock ABI version, 0 where it has none (or not on Linux x86_64/arm64)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION_FLAG))
    return max(0, int(version))


def restrict_filesystem(
    read: Iterable[str], write: Iterable[str], *, restrict_network: bool = True
) -> str:
    """Confine this process (and its future children) to ``read`` and ``write``; irreversible.

    Returns the layer's name for the outcome ("landlock (files, TCP, signals)"), or a phrase
    saying why it did not apply ("no landlock: kernel without it").
    """
    abi = landlock_abi()
    if abi < 1:
        return "no landlock (kernel without it)"
    handled = _FS_ABI1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    handled |= _IOCTL_DEV if abi >= 5 else 0
    net = (_NET_BIND_TCP | _NET_CONNECT_TCP) if restrict_network and abi >= 4 else 0
    scoped = (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0
    attr = _RulesetAttr(handled, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    ruleset = libc.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"no landlock (create_ruleset failed: {os.strerror(ctypes.get_errno())})"
    try:
        reading = _READ_FILE | _READ_DIR | _EXECUTE
        for path in sorted(set(read)):
            _add(libc, ruleset, path, reading & handled)
        for path in sorted(set(write)):
            _add(libc, ruleset, path, handled)
        _add(libc, ruleset, "/dev/null", (_READ_FILE | _WRITE_FILE) & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"no landlock (no_new_privs refused: {os.strerror(ctypes.get_errno())})"
        if libc.syscall(_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"no landlock (restrict_self failed: {os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return describe(abi, restrict_network)


def describe(abi: int, restrict_network: bool = True) -> str:
    """The layer's name for a kernel with landlock ``abi`` (what :func:`restrict_filesystem`
    returns when it applies)."""
    if abi < 1:
        return "no landlock (kernel without it)"
    parts = ["files"] + (["TCP"] if restrict_network and abi >= 4 else [])
    parts += ["signals"] if abi >= 6 else []
    return f"landlock ABI {abi} ({', '.join(parts)})"


def _add(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this system lacks: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        rule = _PathBeneath(access, fd)
        libc.syscall(
            _ADD_RULE,
            ctypes.c_int(ruleset),
            ctypes.c_int(_RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
    finally:
        os.close(fd)
