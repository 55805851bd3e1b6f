"""Who is calling: argon2 password checks, slowed-down failures, and short-lived signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from typing import Any

from unseen.errors import AuthError, NotFound, TooManyAttempts, UsageError
from unseen.node._principal import Principal
from unseen.store import UserRecord

MIN_PASSWORD_LENGTH = 8
FREE_FAILURES = 5
MAX_LOCK_SECS = 300.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _password_stamp(user: UserRecord) -> str:
    """A short digest of the stored password hash: a token carries it, so changing the
    password revokes every token issued before."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")


class Authenticator:
    """Logs users in and out and checks tokens. Roles are read from the store on every call,
    so a changed role or a deleted user takes effect at once; a logged-out token is refused
    by its id (``jti``), kept in ``tokens`` (a :class:`unseen.store.TokenStore`)."""

    def __init__(
        self,
        users: Any,
        secret: bytes | None = None,
        token_ttl: float = 3600.0,
        tokens: Any = None,
    ) -> None:
        from argon2 import PasswordHasher

        from unseen.store import MemoryTokenStore

        self._users = users
        self._tokens = tokens if tokens is not None else MemoryTokenStore()
        self._secret = secret or secrets.token_bytes(32)
        self._ttl = token_ttl
        self._hasher = PasswordHasher()
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._decoy: UserRecord | None = None
        self._lock = threading.Lock()

    def hash_password(self, password: str) -> str:
        check_password_strength(password)
        return str(self._hasher.hash(password))

    def verify_password(self, user: UserRecord, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        if not user.password_hash:
            return False
        try:
            return bool(self._hasher.verify(user.password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    # -- throttling ----------------------------------------------------------------------
    def _locked_for(self, key: tuple[str, str]) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < FREE_FAILURES:
            return 0.0
        wait = min(2.0 ** (count - FREE_FAILURES), MAX_LOCK_SECS)
        return max(0.0, last + wait - time.monotonic())

    def _fail(self, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                count, _ = self._failures.get(key, (0, 0.0))
                self._failures[key] = (count + 1, time.monotonic())

    # -- login and tokens ------------------------------------------------------------------
    def login(self, email: str, password: str, address: str = "local") -> dict[str, Any]:
        """A token for a valid email and password; AuthError otherwise, slower after failures."""
        keys = [("account", str(email).lower()), ("address", address)]
        with self._lock:
            wait = max(self._locked_for(k) for k in keys)
        if wait > 0:
            raise TooManyAttempts(
                f"too many failed logins: try again in {math.ceil(wait)} s", retry_after=wait
            )
        try:
            user = self._users.by_email(email)
        except NotFound:
            user = None
        if user is None:
            # As slow as a wrong password, so that timing does not tell which emails exist.
            if self._decoy is None:
                self._decoy = UserRecord(
                    "", "", "", "guest", self._hasher.hash(secrets.token_hex(16))
                )
            self.verify_password(self._decoy, password)
        if user is None or not self.verify_password(user, password):
            self._fail(keys)
            raise AuthError("wrong email or password")
        with self._lock:
            self._failures.pop(keys[0], None)
        return self.issue(user)

    def issue(self, user: UserRecord) -> dict[str, Any]:
        now = time.time()
        payload = {
            "sub": user.id,
            "iat": now,
            "exp": now + self._ttl,
            "jti": secrets.token_hex(8),
            "pw": _password_stamp(user),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
        return {
            "token": f"{body}.{signature}",
            "expires_at": payload["exp"],
            "user_id": user.id,
            "role": user.role,
            "name": user.name,
        }

    def _verified(self, token: str) -> tuple[str, float, dict[str, Any]]:
        """(user id, expiry, payload) of a token signed here; AuthError otherwise."""
        try:
            body, signature = str(token).split(".")
            expected = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                raise ValueError("bad signature")
            payload = json.loads(_unb64(body))
            user_id, expires = str(payload["sub"]), float(payload["exp"])
        except Exception:
            raise AuthError("invalid token: log in again") from None
        if expires < time.time():
            raise AuthError("the session expired: log in again")
        if self._tokens.is_revoked(str(payload.get("jti", ""))):
            raise AuthError("this session was logged out: log in again")
        return user_id, expires, payload

    def logout(self, token: str) -> Principal:
        """Revoke a valid token (refused from now on, also after a restart); its caller.
        AuthError for a token that is not valid (forged, expired, logged out already)."""
        principal = self.authenticate(token)
        user_id, expires, payload = self._verified(token)
        self._tokens.revoke(str(payload.get("jti", "")), user_id, expires)
        self._tokens.prune(time.time())  # revocations of expired tokens are not needed
        return principal

    def authenticate(self, token: str) -> Principal:
        """The caller a token names; AuthError for a forged, malformed, expired or
        logged-out token."""
        user_id, _, payload = self._verified(token)
        try:
            user = self._users.get(user_id)
        except NotFound:
            raise AuthError("this account no longer exists") from None
        if not hmac.compare_digest(str(payload.get("pw", "")), _password_stamp(user)):
            raise AuthError("the password changed since this session began: log in again")
        return Principal(user.id, user.role, user.name)
