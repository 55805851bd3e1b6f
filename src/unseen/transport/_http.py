"""The HTTP transport: a logged-in session with a domain server and messages over HTTP.

``Session`` holds a node's URL, the user's credentials (in memory only) and the current
token; it logs in again by itself when the token is about to expire or the node rejects
it. ``HTTPConnection`` posts encoded messages to ``/api/v1/message`` over one keep-alive
``httpx.Client``: bodies above 1 MiB stream from :func:`unseen.serde.encode_parts` without
being joined, and replies stream into one preallocated buffer that is decoded zero-copy.
Transfers above 8 MiB show a progress bar. Values of at least 16 MiB in an ``object.send`` or
``dataset.upload`` are streamed ahead to ``/api/v1/upload`` (the node writes them to disk
while they arrive) and the message refers to them as ``{"upload": id}``.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from unseen import serde
from unseen.errors import AuthError, DecodeError, TooManyAttempts, TransportError, UsageError
from unseen.messages import (
    SPEAKS,
    Message,
    Reply,
    Version,
    decode_reply,
    encode_message_parts,
    negotiate,
)

API = "/api/v1"
STREAM_MIN = 1 << 20  # bodies at least this large stream in chunks
CHUNK = 1 << 20
PROGRESS_MIN = 8 << 20  # transfers at least this large show a progress bar
REFRESH_MARGIN_S = 30.0
UPLOAD_MIN = 16 << 20  # values at least this large are streamed ahead to /api/v1/upload

Parts = list[bytes | memoryview]


def nbytes(parts: Parts) -> int:
    return sum(memoryview(p).nbytes for p in parts)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (building one loads the CA bundle: ~50 ms)."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


def http_client(url: str, **options: Any) -> httpx.Client:
    """An httpx client for ``url``: TLS verified with the shared context for https://, no TLS
    context at all for http://."""
    verify: ssl.SSLContext | bool = _tls_context() if url.lower().startswith("https") else False
    return httpx.Client(base_url=url, verify=verify, **options)


def normalize_url(url: Any) -> str:
    """``"127.0.0.1:8081/"`` -> ``"http://127.0.0.1:8081"``; UsageError if it is no HTTP URL."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError("give the node's URL, such as url='http://127.0.0.1:8081'")
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    if text.split("://", 1)[0].lower() not in ("http", "https"):
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    return text


def unreachable(url: str, exc: BaseException) -> TransportError:
    return TransportError(
        f"could not reach {url}: is the node running? ({type(exc).__name__}: {exc})"
    )


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"])
    except ValueError:
        pass
    return response.text[:300]


def _kind(response: httpx.Response) -> str:
    """The error kind a JSON answer names (``{"detail", "kind"}``), else ""."""
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("kind", "")) if isinstance(data, dict) else ""


def _progress(total: int, desc: str) -> Any:
    if total < PROGRESS_MIN:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)


class Session:
    """One user's login to one node: URL, credentials in memory, and a fresh token.

    Before logging in it reads the node's ``/api/v1/info`` and picks the protocol version
    (``protocol``): the highest that the node and this side (``speaks``) share, or
    ``UsageError`` naming both and what to upgrade (the password is then never sent)."""

    def __init__(
        self,
        url: str,
        email: str,
        password: str,
        *,
        connect_timeout: float = 5.0,
        speaks: tuple[Version, ...] = SPEAKS,
    ) -> None:
        if not isinstance(email, str) or not email or not isinstance(password, str) or not password:
            raise UsageError(
                "log in with an email and a password: login(url, email=..., password=...)"
            )
        self.url = normalize_url(url)
        self.email = email
        self._password = password
        self.http = http_client(
            self.url,
            timeout=httpx.Timeout(connect=connect_timeout, read=None, write=None, pool=None),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0
        self._logged_out = False
        self.account: dict[str, Any] = {}
        try:
            self.info: dict[str, Any] = self._public_info()
            self.protocol: Version = negotiate(speaks, self.info, self.url)
            self._login()
        except BaseException:
            self.http.close()
            raise

    def _public_info(self) -> dict[str, Any]:
        try:
            response = self.http.get(f"{API}/info")
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from None
        if response.status_code != 200:
            raise TransportError(
                f"{self.url} answered {response.status_code} to {API}/info: is it an unseen node?"
            )
        info = response.json()
        if not isinstance(info, dict) or "name" not in info:
            raise TransportError(f"{self.url} does not look like an unseen node")
        return info

    def _login(self) -> None:
        try:
            response = self.http.post(
                f"{API}/login", json={"email": self.email, "password": self._password}
            )
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from None
        if response.status_code == 401:
            raise AuthError(_detail(response))
        if response.status_code == 429:
            retry = response.headers.get("retry-after", "")
            raise TooManyAttempts(
                _detail(response), retry_after=float(retry) if retry.isdigit() else 0.0
            )
        if response.status_code != 200:
            raise TransportError(
                f"login at {self.url} failed ({response.status_code}): {_detail(response)}"
            )
        self.account = response.json()
        self._token = str(self.account["token"])
        self._expires = float(self.account["expires_at"])

    def _check_logged_in(self) -> None:
        if self._logged_out:
            raise UsageError(
                f"this session with {self.url} was logged out: log in again with "
                "unseen.login(url, email=..., password=...)"
            )

    def token(self) -> str:
        """A token valid for at least a little while; logs in again when needed."""
        with self._lock:
            self._check_logged_in()
            if self._expires - REFRESH_MARGIN_S < time.time():
                self._login()
            return self._token

    def refresh(self, stale: str) -> str:
        """A new token after the node rejected ``stale`` (one login for many threads)."""
        with self._lock:
            self._check_logged_in()
            if self._token == stale:
                self._login()
            return self._token

    def logout(self) -> None:
        """Revoke the token on the node and forget the password; later calls raise
        ``UsageError`` (log in again). Idempotent."""
        with self._lock:
            token, self._token, self._password = self._token, "", ""
            self._expires, self._logged_out = 0.0, True
        if not token or self.http.is_closed:
            return
        try:
            response = self.http.post(f"{API}/logout", headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from None
        # 401: the token is not valid any more (expired, or logged out elsewhere): done too
        if response.status_code not in (200, 401):
            raise TransportError(
                f"logout at {self.url} failed ({response.status_code}): {_detail(response)}"
            )

    def close(self) -> None:
        self.http.close()


class HTTPConnection:
    """Messages over HTTP POST, streamed both ways when large."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.node_name = str(session.info["name"])
        self.protocol: Version = session.protocol

    def message(self, kind: str, body: dict[str, Any] | None = None) -> Message:
        """A message in the protocol version negotiated at connect."""
        return Message(kind, body or {}, self.protocol)

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        body = self.stage_uploads(kind, body or {})
        return self.send_parts(kind, encode_message_parts(self.message(kind, body))).unwrap()

    # -- large values streamed ahead ------------------------------------------------------
    _uploads_supported = True

    def stage_uploads(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with its large values (of an ``object.send`` or the assets of a
        ``dataset.upload``) uploaded ahead and replaced by ``{"upload": id}``."""
        if not self._uploads_supported:
            return body
        if kind == "object.send" and "value" in body and "upload" not in body:
            upload_id = self._maybe_upload(body["value"], kind)
            if upload_id is not None:
                body = {k: v for k, v in body.items() if k != "value"}
                body["upload"] = upload_id
        elif kind == "dataset.upload" and isinstance(body.get("assets"), (list, tuple)):
            assets = []
            for asset in body["assets"]:
                if isinstance(asset, dict):
                    asset = dict(asset)
                    for key in ("data", "mock"):
                        upload_id = self._maybe_upload(asset.get(key), kind)
                        if upload_id is not None:
                            asset[key] = {"upload": upload_id}
                assets.append(asset)
            body = {**body, "assets": assets}
        return body

    def _maybe_upload(self, value: Any, kind: str) -> str | None:
        if value is None or not self._uploads_supported:
            return None
        try:
            parts = serde.encode_parts(value)
        except Exception:  # not encodable: the message itself will say why
            return None
        if nbytes(parts) < UPLOAD_MIN:
            return None
        return self.upload_parts(parts, kind)

    def upload_parts(self, parts: Parts, kind: str = "upload") -> str | None:
        """Stream one serde-encoded value to ``/api/v1/upload``; its upload id (None if the
        node has no such endpoint: the value then travels inside the message)."""
        total = nbytes(parts)
        for attempt in range(2):
            token = self.session.token()
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/octet-stream",
                "Content-Length": str(total),
            }
            try:
                content: Any = self._chunks(parts, total, kind)
                response = self.session.http.post(f"{API}/upload", content=content, headers=headers)
            except httpx.TransportError as exc:
                raise unreachable(self.session.url, exc) from None
            if response.status_code == 401 and attempt == 0:
                self.session.refresh(token)
                continue
            if response.status_code in (404, 405):  # an older node: send values inline
                self._uploads_supported = False
                return None
            if response.status_code == 200:
                return str(response.json()["upload"])
            if response.status_code == 401:
                raise AuthError(_detail(response))
            if response.status_code == 403:
                from unseen.errors import PermissionDenied

                raise PermissionDenied(_detail(response))
            if _kind(response) == "QuotaExceeded":
                from unseen.errors import QuotaExceeded

                raise QuotaExceeded(_detail(response))
            if response.status_code in (400, 413):
                raise DecodeError(_detail(response))
            raise TransportError(
                f"{self.session.url} answered {response.status_code} to an upload: "
                f"{_detail(response)}"
            )
        raise AuthError("the node rejected a fresh token: log in again")  # pragma: no cover

    def _chunks(self, parts: Parts, total: int, kind: str) -> Iterator[memoryview]:
        bar = _progress(total, f"upload {kind}")
        try:
            for part in parts:
                view = memoryview(part).cast("B")
                for start in range(0, len(view), CHUNK):
                    chunk = view[start : start + CHUNK]
                    yield chunk
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()

    def send_parts(self, kind: str, parts: Parts) -> Reply:
        """Post an encoded message; the node's reply (errors inside it, not raised)."""
        total = nbytes(parts)
        limit = self.session.info.get("max_message_bytes")
        if isinstance(limit, int) and total > limit:
            raise UsageError(
                f"this message is {total:,} bytes but {self.session.url} accepts at most "
                f"{limit:,}: send the data in smaller pieces"
            )
        for attempt in range(2):
            token = self.session.token()
            content: Any = (
                b"".join(parts) if total < STREAM_MIN else self._chunks(parts, total, kind)
            )
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/octet-stream",
                "Content-Length": str(total),
            }
            try:
                with self.session.http.stream(
                    "POST", f"{API}/message", content=content, headers=headers
                ) as response:
                    if response.status_code == 401 and attempt == 0:
                        response.read()
                        self.session.refresh(token)
                        continue
                    return self._reply(response, kind)
            except httpx.TransportError as exc:
                raise unreachable(self.session.url, exc) from None
        raise AuthError("the node rejected a fresh token: log in again")  # pragma: no cover

    def fetch(self, path: str, kind: str) -> Reply:
        """GET an encoded reply (a large WebSocket reply parked on the node)."""
        headers = {"Authorization": f"Bearer {self.session.token()}"}
        try:
            with self.session.http.stream("GET", f"{API}{path}", headers=headers) as response:
                return self._reply(response, kind)
        except httpx.TransportError as exc:
            raise unreachable(self.session.url, exc) from None

    def _reply(self, response: httpx.Response, kind: str) -> Reply:
        status = response.status_code
        binary = response.headers.get("content-type", "").startswith("application/octet-stream")
        if binary and status in (200, 400, 429):  # 429: a TooManyRequests reply
            return decode_reply(self._download(response, kind))
        response.read()
        if status == 401:
            raise AuthError(_detail(response))
        if status == 413:
            raise DecodeError(_detail(response))
        raise TransportError(
            f"{self.session.url} answered {status} to the message {kind!r}: {_detail(response)}"
        )

    def _download(self, response: httpx.Response, kind: str) -> bytearray:
        declared = response.headers.get("content-length")
        if declared is None:
            return bytearray(response.read())
        size = int(declared)
        buf = bytearray(size)
        pos = 0
        bar = _progress(size, f"download {kind}")
        try:
            for chunk in response.iter_raw(CHUNK):
                end = pos + len(chunk)
                if end > size:
                    raise DecodeError("the node sent more bytes than it announced")
                buf[pos:end] = chunk
                pos = end
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if pos != size:
            raise TransportError(
                f"the reply from {self.session.url} broke off after {pos:,} of {size:,} bytes"
            )
        return buf

    def logout(self) -> None:
        self.session.logout()

    def close(self) -> None:
        self.session.close()
