"""``train.progress``: how far a caller's fit is while it runs (epochs done, out of how many).

A fit started with a ``progress`` name records each epoch as it ends, with what its reply
will show (the loss only where the caller may read it); the caller polls for it from the
thread that waits for the reply (unseen.train's progress bar). Only the caller who started
a fit sees it, and it is forgotten when the fit answers.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from unseen.errors import UsageError
from unseen.messages.training import TRAIN_PROGRESS, FitEpoch, FitProgress, FitProgressRequest
from unseen.node._principal import MEMBERS, Principal
from unseen.node._routes import typed_route

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["FitProgressTable", "progress_of", "track"]

#: the longest progress name, and the most fits followed at once on one node
MAX_NAME = 64
MAX_FITS = 1024


class FitProgressTable:
    """The fits in progress on one node: (user id, progress name) -> (epochs, epochs done)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fits: dict[tuple[str, str], tuple[int, list[FitEpoch]]] = {}

    def start(self, user_id: str, name: str, epochs: int) -> None:
        with self._lock:
            if len(self._fits) >= MAX_FITS:  # the oldest is forgotten: its bar waits for the reply
                self._fits.pop(next(iter(self._fits)))
            self._fits[(user_id, name)] = (epochs, [])

    def done(self, user_id: str, name: str, epoch: FitEpoch) -> None:
        with self._lock:
            found = self._fits.get((user_id, name))
            if found is not None:
                found[1].append(epoch)

    def end(self, user_id: str, name: str) -> None:
        with self._lock:
            self._fits.pop((user_id, name), None)

    def read(self, user_id: str, name: str) -> FitProgress:
        with self._lock:
            found = self._fits.get((user_id, name))
            if found is None:
                return FitProgress(epochs=0, done=[], running=False)
            return FitProgress(epochs=found[0], done=list(found[1]), running=True)


_TABLES: weakref.WeakKeyDictionary[Node, FitProgressTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def progress_of(node: Node) -> FitProgressTable:
    """The node's table of fits in progress (made on first use)."""
    with _TABLES_LOCK:
        table = _TABLES.get(node)
        if table is None:
            table = _TABLES[node] = FitProgressTable()
        return table


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise UsageError(f"a fit's progress name has 1 to {MAX_NAME} characters, got {len(name)}")
    return name


class track:  # noqa: N801 (used as a context manager, like contextlib's)
    """Record a fit's epochs under its progress name (nothing when it has none) while the
    ``with`` block runs; ``done(epoch)`` after each epoch."""

    def __init__(self, node: Node, principal: Principal, name: str | None, epochs: int) -> None:
        self._table = progress_of(node) if name is not None else None
        self._key = (principal.user_id, check_name(name) if name is not None else "")
        self._epochs = epochs

    def __enter__(self) -> track:
        if self._table is not None:
            self._table.start(*self._key, self._epochs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._table is not None:
            self._table.end(*self._key)

    def done(self, epoch: FitEpoch) -> None:
        if self._table is not None:
            self._table.done(*self._key, epoch)


@typed_route(TRAIN_PROGRESS, MEMBERS)
def fit_progress(node: Node, principal: Principal, request: FitProgressRequest) -> FitProgress:
    """The epochs done so far of the caller's own fit named ``request.fit``."""
    return progress_of(node).read(principal.user_id, check_name(request.fit))
