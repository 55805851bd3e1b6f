"""Per-user fair scheduling and quotas: one user's flood of heavy work cannot starve another.

Graphs (``graph.run``, ``dp.get``) run in a bounded number of worker slots. Each user has
a queue; when a slot frees, it goes to the waiting user with the fewest graphs running, and
of those to the one served least recently (users take turns, whatever the arrival order),
and no user holds more than ``max_running`` slots, so another user's small op finds a slot
without waiting for a flood to drain. Past the turn, quotas for scientists and guests:

- ``max_waiting`` graphs of one user may wait for a turn; more are refused at once
  (``TooManyRequests`` with ``retry_after``);
- ``cpu_seconds_per_minute``: the seconds a user's graphs held a worker slot in the last
  60 seconds (an upper bound on their CPU time: single-threaded work in one slot uses at
  most one core); a graph that would start past it is refused until enough of that time
  ages out of the window (``retry_after`` says when). A running graph is never stopped;
- ``max_stored_bytes``: the encoded bytes of the objects a user created; sends, uploads
  and graphs that would store more are refused (``QuotaExceeded``) until they drop some.

Owners and admins are scheduled the same way but have no quotas. The owner changes the
settings with ``quota.settings`` (kept in the settings store under ``quotas``); settings not
given keep their embedded defaults.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from unseen.errors import QuotaExceeded, TooManyRequests, UsageError
from unseen.messages import UNSET
from unseen.messages.quotas import (
    QUOTA_SETTINGS,
    QUOTA_USAGE,
    QuotaSettingsRequest,
    QuotaSettingsView,
    QuotaUsage,
    QuotaUsageRequest,
)
from unseen.node._principal import ADMINS, ANYONE, Principal
from unseen.node._routes import typed_route

if TYPE_CHECKING:
    from unseen.node._node import Node

#: message kinds that run graphs: they wait for a turn in the scheduler
SCHEDULED_KINDS = frozenset({"graph.run", "dp.get", "train.fit"})
#: message kinds that store values a user creates: refused once over the stored-bytes quota
STORING_KINDS = frozenset({"graph.run", "object.send", "train.fit"})
SETTINGS_KEY = "quotas"
WINDOW_S = 60.0
GIB = 1 << 30


@functools.cache
def _default_workers() -> int:  # asked on every turn: os.cpu_count() reads /proc each time
    return max(2, os.cpu_count() or 2)


@dataclass(frozen=True)
class QuotaSettings:
    """Per-user limits of a node (see the module docstring). ``workers`` and
    ``max_running`` of 0 mean the defaults: one slot per CPU core (at least 2), and half of
    the slots per user (at least 1), so that one user never holds them all."""

    workers: int = 0
    max_running: int = 0
    max_waiting: int = 32
    cpu_seconds_per_minute: float = 60.0
    max_stored_bytes: int = 10 * GIB

    @classmethod
    def unlimited(cls) -> QuotaSettings:
        """Fair turns without quotas: for a node whose users are its owner's own sessions
        (a ``VirtualWorker``), where a long local run must not be refused."""
        return cls(max_waiting=1 << 30, cpu_seconds_per_minute=math.inf, max_stored_bytes=1 << 62)

    @property
    def slots(self) -> int:
        return self.workers or _default_workers()

    @property
    def per_user(self) -> int:
        return self.max_running or max(1, self.slots // 2)

    def shown(self) -> QuotaSettingsView:
        """The settings in effect (defaults resolved)."""
        return QuotaSettingsView(
            workers=self.slots,
            max_running=self.per_user,
            max_waiting=self.max_waiting,
            cpu_seconds_per_minute=self.cpu_seconds_per_minute,
            max_stored_bytes=self.max_stored_bytes,
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: QuotaSettings | None = None) -> QuotaSettings:
        """``base`` (the defaults if None) with ``values`` changed; a value None resets a
        setting to its default. ``UsageError`` names a setting that is unknown or invalid."""
        defaults = cls()
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise UsageError(
                    f"no quota setting {name!r}: the settings are {', '.join(sorted(known))}"
                )
            changes[name] = getattr(defaults, name) if value is None else _checked(name, value)
        return replace(base or defaults, **changes)


def _checked(name: str, value: Any) -> Any:
    if name == "cpu_seconds_per_minute":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{name} must be a number of seconds, not {type(value).__name__}")
        if not math.isfinite(value) or value <= 0:
            raise UsageError(f"{name} must be a positive number of seconds, not {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, not {type(value).__name__}")
    lowest = 1 if name == "workers" else 0
    if value < lowest:
        raise UsageError(f"{name} must be at least {lowest}, not {value}")
    return value


class Scheduler:
    """Worker slots handed out to users in turn, with the per-user quotas of ``settings``.
    ``with scheduler.turn(principal): ...`` waits for the caller's turn and runs inside it."""

    def __init__(self, settings: QuotaSettings | None = None) -> None:
        self.settings = settings or QuotaSettings()
        self._cond = threading.Condition()
        self._busy = 0
        self._running: dict[str, int] = {}
        self._queues: dict[str, deque[object]] = {}  # users with waiting work
        self._served: dict[str, int] = {}  # when each user was last given a slot
        self._clock = itertools.count()
        self._granted: set[object] = set()
        self._spent: dict[str, deque[tuple[float, float]]] = {}  # (ended at, seconds)
        self._started: dict[str, dict[object, float]] = {}

    def configure(self, settings: QuotaSettings) -> None:
        with self._cond:
            self.settings = settings
            self._dispatch()

    # -- accounting ---------------------------------------------------------------------
    def charge(self, user_id: str, seconds: float, at: float | None = None) -> None:
        """Count ``seconds`` of slot time against the user (graphs do this as they end)."""
        with self._cond:
            self._spent.setdefault(user_id, deque()).append(
                (time.monotonic() if at is None else at, float(seconds))
            )

    def _cpu(self, user_id: str, now: float) -> tuple[float, float]:
        """(seconds used in the window, seconds until the use is under the quota again)."""
        spent = self._spent.get(user_id)
        while spent and spent[0][0] <= now - WINDOW_S:
            spent.popleft()
        running = sum(now - t for t in self._started.get(user_id, {}).values())
        used = running + sum(s for _, s in spent or ())
        limit = self.settings.cpu_seconds_per_minute
        over, wait = used - limit, 1.0
        for ended, seconds in spent or ():
            if over < 0:
                break
            over -= seconds
            wait = ended + WINDOW_S - now
        return used, max(wait, 0.1)

    def usage(self, user_id: str) -> dict[str, Any]:
        """The user's graphs running and waiting, and CPU seconds of the last minute."""
        with self._cond:
            used, _ = self._cpu(user_id, time.monotonic())
            return {
                "running": self._running.get(user_id, 0),
                "waiting": len(self._queues.get(user_id, ())),
                "cpu_seconds": used,
            }

    # -- turns --------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Hand free slots to waiting users in turn (holding the lock)."""
        settings = self.settings
        while self._busy < settings.slots:
            ready = [u for u in self._queues if self._running.get(u, 0) < settings.per_user]
            if not ready:
                break
            user = min(ready, key=lambda u: (self._running.get(u, 0), self._served.get(u, -1)))
            queue = self._queues[user]
            self._granted.add(queue.popleft())
            if not queue:
                del self._queues[user]
            self._busy += 1
            self._running[user] = self._running.get(user, 0) + 1
            self._served[user] = next(self._clock)
        if self._granted:  # someone waits for the ticket just granted
            self._cond.notify_all()

    def _admit(self, principal: Principal, now: float) -> None:
        """Refuse a graph past the user's quotas (holding the lock)."""
        if principal.is_admin:
            return
        user, settings = principal.user_id, self.settings
        used, wait = self._cpu(user, now)
        if used >= settings.cpu_seconds_per_minute:
            raise TooManyRequests(
                f"your graphs used {used:.1f} CPU seconds in the last minute, this node's "
                f"quota per user is {settings.cpu_seconds_per_minute:g}: try again in "
                f"{math.ceil(wait)} s (or ask the owner for a larger quota)",
                retry_after=wait,
            )
        if len(self._queues.get(user, ())) >= settings.max_waiting:
            raise TooManyRequests(
                f"you have {self._running.get(user, 0)} graphs running and "
                f"{settings.max_waiting} waiting at once, this node's limit: wait for some to "
                "finish, then try again",
                retry_after=1.0,
            )

    def _leave(self, user: str, ticket: object) -> None:
        queue = self._queues.get(user)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._queues[user]
        elif ticket in self._granted:
            self._granted.discard(ticket)
            self._busy -= 1
            self._running[user] -= 1
            self._dispatch()

    @contextmanager
    def turn(self, principal: Principal) -> Iterator[None]:
        user = principal.user_id
        ticket = object()
        with self._cond:
            self._admit(principal, time.monotonic())
            settings = self.settings
            if (
                not self._queues
                and self._busy < settings.slots
                and self._running.get(user, 0) < settings.per_user
            ):  # no one waits and a slot is free: what _dispatch would do, without a queue
                self._busy += 1
                self._running[user] = self._running.get(user, 0) + 1
                self._served[user] = next(self._clock)
            else:
                self._queues.setdefault(user, deque()).append(ticket)
                self._dispatch()
                try:
                    while ticket not in self._granted:
                        self._cond.wait()
                except BaseException:  # interrupted while waiting: leave the queue (or slot)
                    self._leave(user, ticket)
                    raise
                self._granted.discard(ticket)
            start = time.monotonic()
            self._started.setdefault(user, {})[ticket] = start
        try:
            yield
        finally:
            with self._cond:
                end = time.monotonic()
                self._started[user].pop(ticket, None)
                self._spent.setdefault(user, deque()).append((end, end - start))
                self._busy -= 1
                self._running[user] -= 1
                self._dispatch()


# -- stored bytes -------------------------------------------------------------------------------


def check_stored(node: Node, principal: Principal, adding: int = 0) -> None:
    """``QuotaExceeded`` if the caller's objects with ``adding`` more bytes would be over the
    stored-bytes quota (owners and admins have none)."""
    if principal.is_admin:
        return
    limit = node.scheduler.settings.max_stored_bytes
    used = int(node.stores.objects.bytes_of(principal.user_id))
    if used + adding > limit or (used >= limit and adding == 0):
        what = f" and this would add {adding:,}" if adding else ""
        raise QuotaExceeded(
            f"your objects on this node take {used:,} stored bytes{what}; the quota per user "
            f"is {limit:,}: drop objects you no longer need (client.drop or .drop()), or ask "
            "the owner for a larger quota"
        )


def sent_bytes(message: Any) -> int:
    """The encoded bytes of the value an ``object.send`` carries inline (0 otherwise)."""
    if message.kind != "object.send" or "value" not in message.body:
        return 0
    from unseen import serde

    try:
        return sum(memoryview(p).nbytes for p in serde.encode_parts(message.body["value"]))
    except Exception:  # not a value the node keeps: the handler says why
        return 0


def load(node: Node) -> QuotaSettings:
    """The node's settings: the defaults with what the owner stored."""
    stored = node.stores.settings.get(SETTINGS_KEY) or {}
    try:
        return QuotaSettings.from_dict(dict(stored))
    except UsageError:  # written by a newer version: ignore what this one does not know
        known = {f.name for f in fields(QuotaSettings)}
        return QuotaSettings.from_dict({k: v for k, v in dict(stored).items() if k in known})


@typed_route(QUOTA_SETTINGS, ADMINS)
def quota_settings(
    node: Node, principal: Principal, request: QuotaSettingsRequest
) -> QuotaSettingsView:
    """The per-user quotas; owners and admins change them (a value None: the default)."""
    changes = {
        f.name: getattr(request, f.name)
        for f in fields(request)
        if getattr(request, f.name) is not UNSET
    }
    if changes:
        settings = QuotaSettings.from_dict(changes, node.scheduler.settings)
        stored = {k: v for k, v in asdict(settings).items() if v != getattr(QuotaSettings(), k)}
        node.stores.settings.set(SETTINGS_KEY, stored)
        node.scheduler.configure(settings)
        node.audit(principal, "quota.settings", ",".join(f"{k}={v}" for k, v in changes.items()))
    return node.scheduler.settings.shown()


@typed_route(QUOTA_USAGE, ANYONE)
def quota_usage(node: Node, principal: Principal, request: QuotaUsageRequest) -> QuotaUsage:
    """The caller's own use: graphs running and waiting, CPU seconds of the last minute,
    stored bytes; and the quotas that apply to them."""
    settings = node.scheduler.settings
    use = node.scheduler.usage(principal.user_id)
    return QuotaUsage(
        running=use["running"],
        waiting=use["waiting"],
        cpu_seconds=use["cpu_seconds"],
        stored_bytes=int(node.stores.objects.bytes_of(principal.user_id)),
        quotas=None if principal.is_admin else settings.shown(),
    )
