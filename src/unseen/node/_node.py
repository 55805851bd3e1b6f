"""The node: one transport-neutral entry point, ``handle(message, principal) -> reply``."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from unseen import ops
from unseen.errors import NotFound, PermissionDenied, RemoteError, UnseenError, UsageError
from unseen.messages import Message, Reply, setup
from unseen.node import _code_settings, _dp, _jobs, _mpc_trust, _objects, _quotas, _requests
from unseen.node._auth import Authenticator
from unseen.node._principal import Principal, Role
from unseen.node._routes import Route
from unseen.node._table import build_routes
from unseen.store import AuditRecord, Stores, UserRecord

if TYPE_CHECKING:
    from unseen.jobs import Executor, JobLimits

log = logging.getLogger("unseen.node")

#: an entry of the audit log (the store's record: id, at, user_id, action, target)
AuditEntry = AuditRecord


class Node:
    """A place that holds data: stores, the release rule, and the request queue.

    Every transport (in-process, HTTP, WebSocket, a Duet peer) authenticates its caller into
    a :class:`Principal` and calls :meth:`handle`; nothing else reaches the stores.
    """

    def __init__(
        self,
        name: str,
        *,
        node_id: str | None = None,
        stores: Stores | None = None,
        limits: ops.Limits | None = None,
        secret: bytes | None = None,
        dp_delta: float | None = None,
        public_key: str = "",
        signing_seed: bytes | None = None,
        quotas: _quotas.QuotaSettings | None = None,
        executor: Executor | None = None,
        job_limits: JobLimits | None = None,
    ) -> None:
        """``dp_delta`` is the node-wide DP delta. It is kept in the node's settings store:
        the value given here is stored on the node's first start (``1e-6`` when None); later
        starts use the stored value (the owner changes it with ``dp.settings``, until the
        first DP release). ``signing_seed`` is the node's ed25519 key (a domain's identity
        file); without it the node keeps one in its settings store, made on its first start.
        ``public_key``, when given, must be that key's public key. ``quotas``: the per-user
        quotas to start with (None: the defaults with the owner's stored changes; see
        :mod:`unseen.node._quotas`). ``executor`` runs approved code as jobs (default: a
        :class:`unseen.jobs.ProcessExecutor`, made on first use and closed by :meth:`close`),
        each under ``job_limits`` (None: the defaults with the owner's stored changes, see
        ``code.settings``; given: they replace the stored limits until the owner changes them)."""
        if not isinstance(name, str) or not name.strip():
            raise UsageError("a node needs a non-empty name")
        if dp_delta is not None:
            dp_delta = _dp.check_delta(dp_delta)
        setup()  # the wire types of the values a node decodes and stores
        #: kind -> route: the handlers this node answers (see :func:`build_routes`)
        self.routes: dict[str, Route] = self.route_table()
        self.name = name
        self.id = node_id or uuid.uuid4().hex
        self.stores = stores or Stores()
        self.limits = limits or ops.Limits()
        self.signing_seed = _mpc_trust.signing_seed(self.stores, signing_seed)
        self.public_key = _mpc_trust.verify_key_hex(self.signing_seed)
        if public_key and public_key != self.public_key:
            raise UsageError("public_key is not the public key of the node's signing seed")
        self.auth = Authenticator(self.stores.users, secret, tokens=self.stores.tokens)
        self._decided = threading.Condition()
        self._decisions = 0
        # audit ids: a random prefix per node object and a counter (cheaper than a uuid4 each)
        self._audit_prefix = uuid.uuid4().hex[:16]
        self._audit_count = itertools.count()
        self.uploads = _objects.Uploads()  # values streamed ahead of their message
        # per-user turns and quotas
        self.scheduler = _quotas.Scheduler(quotas or _quotas.load(self))
        self._executor = executor
        self._executor_lock = threading.Lock()
        #: the allowed imports and limits of every job (``code.settings`` changes them)
        self.job_settings = _code_settings.load(self, job_limits)
        self.job_settings_lock = threading.Lock()
        #: job id -> the executor's handle of a job running now, and the thread that waits
        #: for its end
        self.job_handles: dict[str, Any] = {}
        self.job_watchers: dict[str, threading.Thread] = {}
        self.closing = False
        #: held while a release spends a one-time grant (unseen.node._policy.spend_grant)
        self.release_lock = threading.Lock()
        _requests.repair_grants(self)
        _jobs.fail_interrupted(self)
        _dp.init_delta(self, dp_delta)

    @property
    def executor(self) -> Executor:
        """Where approved code runs: the one given, or a process pool made on first use."""
        with self._executor_lock:
            if self._executor is None:
                from unseen import jobs

                self._executor = jobs.ProcessExecutor()
            return self._executor

    @property
    def job_limits(self) -> JobLimits:
        """The limits of a job started now."""
        return self.job_settings.limits

    def close(self) -> None:
        """Stop the jobs running now and close the executor (idempotent): each job stopped
        is marked failed, "the node stopped while it ran" (one that could not be marked is
        marked on the next start)."""
        self.closing = True
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()
        for watcher in list(self.job_watchers.values()):
            watcher.join(5.0)  # each records its job's end before the stores close

    def route_table(self) -> dict[str, Route]:
        """The route table of this kind of node (a network node answers other kinds)."""
        return build_routes()

    # -- users ------------------------------------------------------------------------
    def add_user(
        self,
        name: str,
        role: Role,
        email: str | None = None,
        password: str | None = None,
        budget: float = 0.0,
    ) -> Principal:
        """Create a user directly (launchers and in-process workers; no caller to check)."""
        user = UserRecord(
            id=uuid.uuid4().hex,
            email=email or f"{uuid.uuid4().hex}@local",
            name=name,
            role=role,
            password_hash=self.auth.hash_password(password) if password else "",
            budget=budget,
        )
        self.stores.users.add(user)
        return Principal(user.id, role, name)

    def principal(self, user_id: str) -> Principal:
        user = self.stores.users.get(user_id)
        return Principal(user.id, user.role, user.name)  # type: ignore[arg-type]

    def begin_upload(self, principal: Principal) -> _objects.StagedUpload:
        """Start receiving a large value ahead of the ``object.send`` or ``dataset.upload``
        that will refer to it as ``{"upload": id}`` (see :class:`unseen.node._objects.StagedUpload`).
        Refused once the caller is over the stored-bytes quota."""
        _quotas.check_stored(self, principal)
        return _objects.begin_upload(self, principal)

    # -- the entry point --------------------------------------------------------------
    def handle(self, message: Message, principal: Principal) -> Reply:
        """Answer one message for an authenticated caller. Never raises."""
        found = self.routes.get(message.kind)
        try:
            if found is None:
                raise UsageError(
                    f"this node does not know the message kind {message.kind!r}; "
                    "the client may be newer than the node: upgrade the node"
                )
            if principal.role not in found.roles:
                raise PermissionDenied(
                    f"{message.kind!r} is not allowed for the role {principal.role!r}"
                )
            if message.kind in _quotas.STORING_KINDS and not principal.is_admin:
                _quotas.check_stored(self, principal, _quotas.sent_bytes(message))
            if message.kind in _quotas.SCHEDULED_KINDS:  # waits for the caller's turn
                with self.scheduler.turn(principal):
                    return Reply.success(found.handler(self, principal, message.body))
            return Reply.success(found.handler(self, principal, message.body))
        except UnseenError as exc:
            return Reply.failure(exc)
        except Exception:
            log.exception("internal error handling %s", message.kind)
            return Reply.failure(
                RemoteError(
                    f"internal error on the node while handling {message.kind!r}; the owner's log has details"
                )
            )

    # -- shared services of handlers ---------------------------------------------------
    def audit(
        self, principal: Principal, action: str, target: str, *, durable: bool = True
    ) -> None:
        self.audit_id(principal.user_id, action, target, durable=durable)

    def audit_id(self, user_id: str, action: str, target: str, *, durable: bool = True) -> None:
        """Add an entry to the audit log (``node.stores.audit``). The action it records has
        happened already: a store that fails is logged, and the caller's reply stands.
        ``durable=False`` for entries that touch no one else's data (a power loss may drop
        them, never a killed process)."""
        entry_id = f"{self._audit_prefix}{next(self._audit_count):012x}"
        entry = AuditRecord(entry_id, time.time(), user_id, action, target)
        try:
            self.stores.audit.add(entry, durable=durable)
        except Exception:
            log.exception("could not write the audit entry %r", entry)

    @property
    def audit_log(self) -> list[AuditEntry]:
        """The audit log, oldest first (the in-memory store keeps the newest 100,000)."""
        return self.stores.audit.list()  # type: ignore[no-any-return]

    @property
    def dp_delta(self) -> float:
        """The node-wide DP delta, as stored in ``node.stores.settings``."""
        return _dp.stored_delta(self)

    @dp_delta.setter
    def dp_delta(self, value: float) -> None:
        """Set and store the delta: ``UsageError`` unless it is in (0, 1), and for any
        change after the first DP release (every balance is converted at it)."""
        _dp.set_delta(self, value)

    def notify_decision(self) -> None:
        with self._decided:
            self._decisions += 1
            self._decided.notify_all()

    @property
    def decisions(self) -> int:
        """How many decisions were made so far; pass it to :meth:`wait_for_decision`."""
        with self._decided:
            return self._decisions

    def wait_for_decision(self, seen: int, timeout: float) -> None:
        """Wait until a decision after the ``seen``-th is made, or the timeout passes."""
        with self._decided:
            self._decided.wait_for(lambda: self._decisions != seen, timeout)

    def drop_objects(self, principal: Principal, ids: list[str]) -> int:
        """Forget objects the caller computed; others' objects and unknown ids are ignored."""
        dropped = 0
        for object_id in ids:
            try:
                record = self.stores.objects.get(object_id)
            except NotFound:
                continue
            if (
                record.creator == principal.user_id
                and record.parents
                and not self.stores.requests.for_object(object_id)
            ):
                try:
                    self.stores.objects.delete(object_id, durable=False)
                except NotFound:  # dropped meanwhile
                    continue
                dropped += 1
        return dropped
