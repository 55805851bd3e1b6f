"""Authenticated, encrypted point-to-point links for MPC meshes between machines.

Every endpoint of a session knows the session's random token (the orchestrator hands it to
each node over that node's own client link). The token never crosses a mesh link:

1. the dialer sends ``{"id", "to", "nonce", "ciphers"}`` in clear (a short JSON hello);
2. the listener answers ``{"nonce", "cipher"}`` with its own random nonce and the cipher it
   picked (AES-256-GCM when both sides have ``cryptography``, else ChaCha20-Poly1305);
3. both derive two one-way keys with HKDF-SHA256 from the token, both nonces and both ids;
4. each side sends an encrypted ``auth`` record; a wrong token fails to decrypt and the
   link is refused (the listener keeps waiting for the right peer).

After that every frame (:mod:`unseen.mpc.comm`'s framing: JSON header and raw tensor bytes)
travels as AEAD records of at most 1 MiB, each with a 96-bit counter nonce, so a record that
is altered, replayed, reordered or cut is a :class:`~unseen.errors.ProtocolError`. Fresh
nonces on both sides make the keys unique per connection: no key and nonce pair repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc.comm import (
    MAGIC,
    MAX_HEADER,
    MAX_TENSOR_BYTES,
    Message,
    decode_header,
    encode_header,
)

__all__ = ["SecureLink", "session_key", "dial", "accept", "CIPHERS"]

HELLO_MAGIC = b"UMPH"
MAX_HELLO = 4096
RECORD = 1 << 20
_TAG = 16
MAX_FRAME = 8 + MAX_HEADER + MAX_TENSOR_BYTES


def session_key(token: str) -> bytes:
    """The 32-byte key of a session, derived from its token (HKDF-extract, SHA-256)."""
    if len(token) < 32:
        raise ProtocolError("an MPC mesh token must have at least 32 characters (128 bits)")
    return hmac.new(b"unseen-mpc-mesh-v1", token.encode("utf-8"), hashlib.sha256).digest()


def _expand(key: bytes, info: bytes, length: int) -> bytes:
    """HKDF-expand (SHA-256)."""
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(key, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


# -- ciphers -------------------------------------------------------------------------------

Seal = Callable[[bytes, Any], bytes]
Open = Callable[[bytes, Any], bytes]


def _cryptography(name: str, key: bytes) -> tuple[Seal, Open]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

    aead = AESGCM(key) if name == "aes256gcm" else ChaCha20Poly1305(key)

    def seal(nonce: bytes, data: Any) -> bytes:
        return aead.encrypt(nonce, data, None)

    def open_(nonce: bytes, data: Any) -> bytes:
        try:
            return aead.decrypt(nonce, bytes(data), None)
        except InvalidTag:
            raise ProtocolError("an MPC link record failed authentication") from None

    return seal, open_


def _nacl(key: bytes) -> tuple[Seal, Open]:
    from nacl import bindings
    from nacl.exceptions import CryptoError

    def seal(nonce: bytes, data: Any) -> bytes:
        return bytes(
            bindings.crypto_aead_chacha20poly1305_ietf_encrypt(bytes(data), None, nonce, key)
        )

    def open_(nonce: bytes, data: Any) -> bytes:
        try:
            return bytes(
                bindings.crypto_aead_chacha20poly1305_ietf_decrypt(bytes(data), None, nonce, key)
            )
        except CryptoError:
            raise ProtocolError("an MPC link record failed authentication") from None

    return seal, open_


def _available() -> list[str]:
    try:
        import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
    except ImportError:
        return ["chacha20poly1305"]
    return ["aes256gcm", "chacha20poly1305"]


CIPHERS = _available()


def _cipher(name: str, key: bytes) -> tuple[Seal, Open]:
    if name not in CIPHERS:
        raise ProtocolError(f"unsupported MPC link cipher {name!r}")
    if "aes256gcm" in CIPHERS:
        return _cryptography(name, key)
    return _nacl(key)


# -- the link ------------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed by the peer")
        got += k
    return buf


class SecureLink:
    """One connected socket with a key for each direction; frames go as AEAD records."""

    def __init__(self, sock: socket.socket, cipher: str, send_key: bytes, recv_key: bytes) -> None:
        self.sock = sock
        self.cipher = cipher
        self._seal = _cipher(cipher, send_key)[0]
        self._open = _cipher(cipher, recv_key)[1]
        self._send_count = 0
        self._recv_count = 0
        self._send_lock = threading.Lock()

    @staticmethod
    def _nonce(count: int) -> bytes:
        return b"\0\0\0\0" + struct.pack("!Q", count)

    def _send_record(self, chunk: Any) -> None:
        sealed = self._seal(self._nonce(self._send_count), chunk)
        self._send_count += 1
        self.sock.sendall(struct.pack("!I", len(sealed)) + sealed)

    def _recv_record(self) -> bytes:
        (length,) = struct.unpack("!I", bytes(_recv_exact(self.sock, 4)))
        if not _TAG <= length <= RECORD + _TAG:
            raise ProtocolError("malformed MPC link record")
        plain = self._open(self._nonce(self._recv_count), _recv_exact(self.sock, length))
        self._recv_count += 1
        return plain

    def send(self, msg: Message) -> None:
        """Encrypt and send one frame (thread-safe)."""
        head, tensors = encode_header(msg)
        parts: list[memoryview] = [memoryview(head)]
        for t in tensors:
            if t.numel():
                arr: Any = t.reshape(-1).numpy()
                parts.append(memoryview(arr).cast("B"))
        total = sum(len(p) for p in parts)
        buf = bytearray(8 + total)
        buf[:8] = struct.pack("!Q", total)
        at = 8
        for p in parts:
            buf[at : at + len(p)] = p
            at += len(p)
        view = memoryview(buf)
        with self._send_lock:
            for start in range(0, len(buf), RECORD):
                self._send_record(view[start : start + RECORD])

    def recv(self) -> Message:
        """Receive and decrypt one frame; ProtocolError if it is forged or malformed."""
        first = self._recv_record()
        if len(first) < 8:
            raise ProtocolError("malformed MPC link frame")
        (total,) = struct.unpack("!Q", first[:8])
        if total > MAX_FRAME:
            raise ProtocolError("MPC link frame too large")
        buf = bytearray(total)
        got = len(first) - 8
        if got > total:
            raise ProtocolError("malformed MPC link frame")
        buf[:got] = first[8:]
        while got < total:
            chunk = self._recv_record()
            if got + len(chunk) > total:
                raise ProtocolError("malformed MPC link frame")
            buf[got : got + len(chunk)] = chunk
            got += len(chunk)
        return _parse(buf)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _parse(buf: bytearray) -> Message:
    view = memoryview(buf)
    if bytes(view[:4]) != MAGIC or len(buf) < 8:
        raise ProtocolError("malformed MPC frame: bad magic")
    (length,) = struct.unpack("!I", bytes(view[4:8]))
    if length > MAX_HEADER or 8 + length > len(buf):
        raise ProtocolError("malformed MPC frame: bad header length")
    tag, meta, specs = decode_header(bytes(view[8 : 8 + length]))
    at = 8 + length
    tensors = []
    for dtype, shape in specs:
        t = torch.empty(shape, dtype=dtype)
        n = t.numel() * t.element_size()
        if at + n > len(buf):
            raise ProtocolError("malformed MPC frame: truncated tensor")
        if n:
            arr: Any = t.reshape(-1).numpy()
            memoryview(arr).cast("B")[:] = view[at : at + n]
        at += n
        tensors.append(t)
    if at != len(buf):
        raise ProtocolError("malformed MPC frame: trailing bytes")
    return Message(tag, meta, tensors)


# -- handshake -----------------------------------------------------------------------------


def _send_hello(sock: socket.socket, obj: dict[str, Any]) -> None:
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    sock.sendall(HELLO_MAGIC + struct.pack("!I", len(raw)) + raw)


def _recv_hello(sock: socket.socket) -> dict[str, Any]:
    prefix = bytes(_recv_exact(sock, 8))
    (length,) = struct.unpack("!I", prefix[4:])
    if prefix[:4] != HELLO_MAGIC or length > MAX_HELLO:
        raise ProtocolError("not an MPC mesh hello")
    try:
        obj = json.loads(bytes(_recv_exact(sock, length)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("malformed MPC mesh hello") from None
    if not isinstance(obj, dict):
        raise ProtocolError("malformed MPC mesh hello")
    return obj


def _keys(key: bytes, dialer: int, listener: int, nd: str, nl: str) -> tuple[bytes, bytes]:
    info = f"unseen-mpc-link|{dialer}>{listener}|{nd}|{nl}".encode()
    both = _expand(key, info, 64)
    return both[:32], both[32:]  # dialer -> listener, listener -> dialer


def _nonce_hex(obj: dict[str, Any]) -> str:
    value = obj.get("nonce")
    if not isinstance(value, str) or len(value) != 32:
        raise ProtocolError("malformed MPC mesh hello")
    return value


def dial(sock: socket.socket, key: bytes, me: int, peer: int) -> SecureLink:
    """Authenticate a socket we connected to endpoint ``peer`` (ProtocolError if not it)."""
    nd = secrets.token_hex(16)
    _send_hello(sock, {"id": me, "to": peer, "nonce": nd, "ciphers": CIPHERS})
    answer = _recv_hello(sock)
    cipher = str(answer.get("cipher"))
    d2l, l2d = _keys(key, me, peer, nd, _nonce_hex(answer))
    link = SecureLink(sock, cipher, d2l, l2d)
    link.send(Message("auth", {"id": me}))
    reply = link.recv()
    if reply.tag != "auth" or reply.meta.get("id") != peer:
        raise ProtocolError(f"endpoint {peer} did not authenticate")
    return link


def accept(sock: socket.socket, key: bytes, me: int, expected: set[int]) -> tuple[int, SecureLink]:
    """Authenticate a socket a peer connected to us; returns the peer's id and the link."""
    hello = _recv_hello(sock)
    peer = hello.get("id")
    if not isinstance(peer, int) or peer not in expected or hello.get("to") != me:
        raise ProtocolError("an unexpected MPC mesh peer")
    offered = hello.get("ciphers")
    if not isinstance(offered, list):
        raise ProtocolError("malformed MPC mesh hello")
    cipher = next((c for c in offered if c in CIPHERS), None)
    if cipher is None:
        raise ProtocolError("no MPC link cipher in common")
    nl = secrets.token_hex(16)
    _send_hello(sock, {"nonce": nl, "cipher": cipher})
    d2l, l2d = _keys(key, peer, me, _nonce_hex(hello), nl)
    link = SecureLink(sock, cipher, l2d, d2l)
    auth = link.recv()
    if auth.tag != "auth" or auth.meta.get("id") != peer:
        raise ProtocolError("the MPC mesh peer did not authenticate")
    link.send(Message("auth", {"id": me}))
    return peer, link
