"""The one exception tree of unseen.

Every error a user can see derives from :class:`UnseenError`, names what was wrong and says
what to do next::

    UnseenError
    ├── UsageError                 bad arguments or a call in the wrong state (client side)
    ├── DecodeError                bytes that are not a valid, allowed, bounded message
    ├── OperationNotAllowed        an operation or argument outside the closed vocabulary
    ├── AuthError                  unknown user, wrong password, expired or forged token
    │   └── TooManyAttempts        logins refused for a while after repeated failures
    ├── PermissionDenied           the caller's role may not do this
    │   └── CannotRequestPrivateData   the value derives from data the caller may not see
    ├── BudgetExhausted            a DP release would overspend the privacy budget
    ├── QuotaExceeded              over a per-user quota of the node (stored bytes)
    │   └── TooManyRequests        too many graphs at once, or CPU seconds this minute: wait
    ├── NotFound                   no such object, dataset, user or request
    ├── RequestDenied              the owner denied the request
    ├── RequestTimeout             no decision within the time asked for
    ├── RemoteError                an operation failed on the node (no private values inside)
    ├── TransportError             the node could not be reached or the link broke
    └── ProtocolError              an MPC protocol step failed (party, dealer, shapes)

Errors cross the wire as ``(kind, message)`` and are raised again on the client as the same
class: see :func:`error_to_wire` and :func:`error_from_wire`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "UnseenError",
    "UsageError",
    "DecodeError",
    "OperationNotAllowed",
    "AuthError",
    "TooManyAttempts",
    "PermissionDenied",
    "CannotRequestPrivateData",
    "BudgetExhausted",
    "QuotaExceeded",
    "TooManyRequests",
    "NotFound",
    "RequestDenied",
    "RequestTimeout",
    "RemoteError",
    "TransportError",
    "ProtocolError",
    "error_to_wire",
    "error_from_wire",
]


class UnseenError(Exception):
    """Base of every error unseen raises on purpose."""

    default_message = "unseen failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.default_message


class UsageError(UnseenError):
    """An argument or a call that cannot work; the message says which and why."""


class DecodeError(UnseenError):
    """Bytes that are not a valid message: malformed, too large, too deep or of a banned type."""

    default_message = "could not decode the message"


class OperationNotAllowed(UnseenError):
    """An operation or an argument that the closed vocabulary does not allow."""


class AuthError(UnseenError):
    """Authentication failed: unknown user, wrong password, or a bad or expired token."""

    default_message = "authentication failed: check the email and password, then log in again"


class TooManyAttempts(AuthError):
    """Logins for this account or address are refused for a while after repeated failures
    (HTTP 429); ``retry_after`` says for how many seconds."""

    default_message = "too many failed logins: wait, then try again"

    def __init__(self, message: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(UnseenError):
    """The caller is authenticated but may not do this."""

    default_message = "permission denied: your role may not do this"


class CannotRequestPrivateData(PermissionDenied):
    """The value is private, or derives from private data the caller may not see."""

    default_message = (
        "You just requested a value which is private or which depends on data which is "
        "private. Use .get(epsilon=...) for a differentially private answer, or "
        ".request(name=..., reason=...) to ask the data owner."
    )


class BudgetExhausted(UnseenError):
    """A differentially private release would exceed the caller's privacy budget."""

    default_message = "privacy budget exhausted: nothing was charged; ask the owner for more"


class QuotaExceeded(UnseenError):
    """The caller is over one of the node's per-user quotas (such as stored bytes); the
    message says which, how much is used, and what to do (drop objects, ask the owner)."""

    default_message = "over a quota of this node: ask its owner for more"


class TooManyRequests(QuotaExceeded):
    """The caller's graphs are refused for a while: too many at once, or the CPU seconds of
    the last minute are used up. ``retry_after`` says in how many seconds to try again."""

    default_message = "too many requests: wait, then try again"

    def __init__(self, message: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(UnseenError):
    """No such object, dataset, user or request."""

    default_message = "not found"


class RequestDenied(UnseenError):
    """The data owner denied the request."""

    default_message = "the data owner denied this request"


class RequestTimeout(UnseenError):
    """No decision on a request within the time the caller asked to wait."""

    default_message = (
        "no decision yet: the request stays pending; collect it later with client.requests[i].get()"
    )


class RemoteError(UnseenError):
    """An operation failed on the node. The message names the operation, never private values."""

    def __init__(self, message: str | None = None, operation: str | None = None) -> None:
        super().__init__(message or "an operation failed on the node")
        self.operation = operation


class TransportError(UnseenError):
    """The node could not be reached, or the connection broke."""

    default_message = "could not reach the node: check the URL and that the node is running"


class ProtocolError(UnseenError):
    """A multi-party computation step failed: a party, the dealer, or mismatched shapes."""


_BY_NAME: dict[str, type[UnseenError]] = {
    cls.__name__: cls
    for cls in (
        UnseenError,
        UsageError,
        DecodeError,
        OperationNotAllowed,
        AuthError,
        TooManyAttempts,
        PermissionDenied,
        CannotRequestPrivateData,
        BudgetExhausted,
        QuotaExceeded,
        TooManyRequests,
        NotFound,
        RequestDenied,
        RequestTimeout,
        RemoteError,
        TransportError,
        ProtocolError,
    )
}


def error_to_wire(exc: UnseenError) -> dict[str, Any]:
    """The wire form of an error: its class name and message (and operation or
    retry_after, if any)."""
    wire: dict[str, Any] = {"kind": type(exc).__name__, "message": exc.message}
    if isinstance(exc, RemoteError) and exc.operation:
        wire["operation"] = exc.operation
    if isinstance(exc, (TooManyRequests, TooManyAttempts)):
        wire["retry_after"] = float(exc.retry_after)
    return wire


def error_from_wire(wire: dict[str, Any]) -> UnseenError:
    """Rebuild an error from its wire form; an unknown kind becomes a plain ``UnseenError``."""
    kind = str(wire.get("kind", "UnseenError"))
    message = str(wire.get("message", ""))
    cls = _BY_NAME.get(kind, UnseenError)
    if cls is RemoteError:
        op = wire.get("operation")
        return RemoteError(message, operation=str(op) if op is not None else None)
    if cls is TooManyRequests or cls is TooManyAttempts:
        retry = wire.get("retry_after")
        return cls(message, retry_after=float(retry) if isinstance(retry, (int, float)) else 0.0)
    return cls(message)
