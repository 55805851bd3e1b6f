"""Listening sockets for every server a launch starts: the port check, the bind, the URL shown.

A domain or network node (uvicorn) and a Duet owner's direct link (``unseen.duet``) all bind
their socket here, so ``port=0`` works alike (the OS picks a free port and the URL is known
before serving), a port in use is one clear error, and IPv6 hosts are shown as URLs can hold
them.
"""

from __future__ import annotations

import errno
import socket

from unseen.errors import UsageError

# What a client on this machine dials for a listener on "every address".
_WILDCARD_SHOWN_AS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def check_port(port: object) -> None:
    """UsageError unless ``port`` is a TCP port number (0: any free port)."""
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"port must be 0 (any free port) to 65535, not {port!r}")


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; UsageError when that is not possible."""
    check_port(port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle adds 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is in use: pick another with --port (0 picks a free one)"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def listener_url(host: str, port: int, path: str = "") -> str:
    """The ``http://`` URL a client on this machine uses for a listener on ``host:port``."""
    shown = _WILDCARD_SHOWN_AS.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}{path}"
