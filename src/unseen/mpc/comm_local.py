"""In-process :class:`~unseen.mpc.comm.Comm`: endpoints are threads, links are queues.

Tensors are cloned on send, so that no endpoint can see or change another's memory, just as
if they had crossed a wire. :meth:`LocalHub.cut` breaks every link of one endpoint (for
fault-injection tests); a cut endpoint's messages are dropped silently, like a dead host.

A process-local registry (:func:`open_hub`, :func:`find_hub`, :func:`close_hub`) lets
in-process nodes join the hub of an MPC session by its id: a message between an orchestrator
and a node carries the session id, never the hub object.
"""

from __future__ import annotations

import json
import threading

from unseen.errors import UsageError
from unseen.mpc.comm import Comm, Message

__all__ = ["LocalHub", "LocalComm", "open_hub", "find_hub", "close_hub"]


class LocalHub:
    """The switchboard joining the in-process endpoints of one cluster."""

    def __init__(self, n_parties: int, timeout: float = 60.0) -> None:
        self.n_parties = n_parties
        self.n_endpoints = n_parties + 2
        self._comms = [LocalComm(self, i, n_parties, timeout) for i in range(self.n_endpoints)]
        self._cut: set[int] = set()
        self.identities: dict[int, str] = {}  # endpoint -> node key of the node that joined it
        self._lock = threading.Lock()

    def comm(self, endpoint: int) -> LocalComm:
        return self._comms[endpoint]

    def cut(self, endpoint: int) -> None:
        """Drop every message to or from ``endpoint`` from now on."""
        with self._lock:
            self._cut.add(endpoint)

    def _route(self, src: int, dst: int, msg: Message) -> None:
        if src in self._cut or dst in self._cut:
            return
        self._comms[dst]._deliver(src, msg)


class LocalComm(Comm):
    """One endpoint of a :class:`LocalHub`."""

    def __init__(self, hub: LocalHub, me: int, n_parties: int, timeout: float) -> None:
        super().__init__(me, n_parties, timeout)
        self._hub = hub

    def _post(self, dst: int, msg: Message) -> None:
        # Metadata goes through JSON as on a wire: the same types arrive on every transport.
        meta = json.loads(json.dumps(msg.meta))
        copy = Message(msg.tag, meta, [t.detach().clone() for t in msg.tensors])
        self._hub._route(self.me, dst, copy)


_HUBS: dict[str, LocalHub] = {}
_HUBS_LOCK = threading.Lock()


def open_hub(session: str, n_parties: int, timeout: float = 60.0) -> LocalHub:
    """A new hub registered under ``session`` (an unguessable id) in this process."""
    with _HUBS_LOCK:
        if session in _HUBS:
            raise UsageError(f"an MPC session {session!r} is open already")
        hub = _HUBS[session] = LocalHub(n_parties, timeout)
        return hub


def find_hub(session: str) -> LocalHub:
    """The hub of ``session``; UsageError if no such session is open in this process."""
    with _HUBS_LOCK:
        hub = _HUBS.get(session)
    if hub is None:
        raise UsageError(
            "no in-process MPC session with this id: an in-process hub links only nodes that "
            "live in the orchestrator's process"
        )
    return hub


def close_hub(session: str) -> None:
    """Forget the hub of ``session`` (no error if it is gone already)."""
    with _HUBS_LOCK:
        _HUBS.pop(session, None)
