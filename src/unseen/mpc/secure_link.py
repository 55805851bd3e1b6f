"""Authenticated, encrypted point-to-point links for MPC meshes between machines.

Every endpoint of a session knows the session's random token (the orchestrator hands it to
each node over that node's own client link), and every node endpoint has a long-term ed25519
key (its node key) and knows the keys the session names for its peers. The token never
crosses a mesh link:

1. the dialer sends ``{"id", "to", "nonce", "ciphers", "eph"}`` in clear (a short JSON hello;
   ``eph`` a fresh X25519 public key);
2. the listener answers ``{"nonce", "cipher", "eph"}`` with its own nonce and ephemeral key and
   the cipher it picked (AES-256-GCM when both sides have ``cryptography``, else
   ChaCha20-Poly1305);
3. both derive two one-way keys with HKDF-SHA256 from the token, the X25519 shared secret and
   the transcript (both hellos);
4. each side sends an encrypted ``auth`` record; a node endpoint's carries its ed25519
   signature of the transcript (with its role, dialer or listener). A wrong token fails to
   decrypt; a peer whose signature does not verify under the key the session names for it
   (a node that is not the one the owner trusts) is refused. The orchestrator has no node
   key: the nodes accept it by the token alone, and it checks their keys too.

After that every frame (:mod:`unseen.mpc.comm`'s framing: JSON header and raw tensor bytes)
travels as AEAD records of at most 1 MiB, each with a 96-bit counter nonce, so a record that
is altered, replayed, reordered or cut is a :class:`~unseen.errors.ProtocolError`. Fresh
nonces and ephemeral keys on both sides make the keys unique per connection.
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

__all__ = ["SecureLink", "Identity", "session_key", "dial", "accept", "CIPHERS"]

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


# -- node keys and ephemeral key agreement --------------------------------------------------


class Identity:
    """An endpoint's view of node keys: its own ed25519 seed (None for the orchestrator) and
    the public key (hex) it expects of each peer endpoint (None: the token suffices)."""

    def __init__(self, seed: bytes | None, expected: dict[int, str | None]) -> None:
        self.seed = seed
        self.expected = dict(expected)

    def sign(self, data: bytes) -> str | None:
        if self.seed is None:
            return None
        try:
            from nacl.signing import SigningKey

            return bytes(SigningKey(self.seed).sign(data).signature).hex()
        except ImportError:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            return Ed25519PrivateKey.from_private_bytes(self.seed).sign(data).hex()

    def check(self, peer: int, data: bytes, signature: Any) -> None:
        """ProtocolError unless ``signature`` is ``peer``'s expected key's signature of data."""
        key = self.expected.get(peer)
        if key is None:
            return
        if not isinstance(signature, str) or not _verify(key, data, signature):
            raise ProtocolError(
                f"endpoint {peer} did not prove the node key the session names for it "
                f"({key[:12]}...): refused"
            )


def _verify(key_hex: str, data: bytes, signature_hex: str) -> bool:
    try:
        key, sig = bytes.fromhex(key_hex), bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey

        try:
            VerifyKey(key).verify(data, sig)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True
    except ImportError:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(key).verify(sig, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def _x25519_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 (secret, public) pair."""
    secret = secrets.token_bytes(32)
    return secret, _x25519(secret, None)


def _x25519(secret: bytes, public: bytes | None) -> bytes:
    """X25519(secret, public); the base point when ``public`` is None."""
    try:
        from nacl import bindings

        if public is None:
            return bytes(bindings.crypto_scalarmult_base(secret))
        return bytes(bindings.crypto_scalarmult(secret, public))
    except ImportError:
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey,
            X25519PublicKey,
        )
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        private = X25519PrivateKey.from_private_bytes(secret)
        if public is None:
            return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return private.exchange(X25519PublicKey.from_public_bytes(public))


def _shared(secret: bytes, hello: dict[str, Any]) -> bytes:
    raw = hello.get("eph")
    try:
        public = bytes.fromhex(raw) if isinstance(raw, str) else b""
    except ValueError:
        public = b""
    if len(public) != 32:
        raise ProtocolError("malformed MPC mesh hello: no ephemeral key")
    try:
        shared = _x25519(secret, public)
    except Exception:  # the libraries refuse low-order points in their own ways
        raise ProtocolError("malformed MPC mesh hello: bad ephemeral key") from None
    if shared == bytes(32):
        raise ProtocolError("malformed MPC mesh hello: bad ephemeral key")
    return shared


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


def _send_hello(sock: socket.socket, obj: dict[str, Any]) -> bytes:
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    sock.sendall(HELLO_MAGIC + struct.pack("!I", len(raw)) + raw)
    return raw


def _recv_hello(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    prefix = bytes(_recv_exact(sock, 8))
    (length,) = struct.unpack("!I", prefix[4:])
    if prefix[:4] != HELLO_MAGIC or length > MAX_HELLO:
        raise ProtocolError("not an MPC mesh hello")
    raw = bytes(_recv_exact(sock, length))
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("malformed MPC mesh hello") from None
    if not isinstance(obj, dict):
        raise ProtocolError("malformed MPC mesh hello")
    return obj, raw


def _keys(
    key: bytes, shared: bytes, transcript: bytes, dialer: int, listener: int
) -> tuple[bytes, bytes]:
    prk = hmac.new(key, shared + transcript, hashlib.sha256).digest()
    both = _expand(prk, f"unseen-mpc-link-v2|{dialer}>{listener}".encode(), 64)
    return both[:32], both[32:]  # dialer -> listener, listener -> dialer


def _transcript(hello_d: bytes, hello_l: bytes) -> bytes:
    h = hashlib.sha256(b"unseen-mpc-link-transcript-v2")
    for part in (hello_d, hello_l):
        h.update(struct.pack("!I", len(part)) + part)
    return h.digest()


def _signed(role: str, transcript: bytes) -> bytes:
    return b"unseen-mpc-link-auth|" + role.encode() + b"|" + transcript


def _nonce_hex(obj: dict[str, Any]) -> str:
    value = obj.get("nonce")
    if not isinstance(value, str) or len(value) != 32:
        raise ProtocolError("malformed MPC mesh hello")
    return value


def dial(
    sock: socket.socket, key: bytes, me: int, peer: int, identity: Identity | None = None
) -> SecureLink:
    """Authenticate a socket we connected to endpoint ``peer`` (ProtocolError if not it, or
    if it cannot prove the node key ``identity`` expects of it)."""
    ident = identity or Identity(None, {})
    nd = secrets.token_hex(16)
    eph_secret, eph_public = _x25519_pair()
    hello = {"id": me, "to": peer, "nonce": nd, "ciphers": CIPHERS, "eph": eph_public.hex()}
    hello_d = _send_hello(sock, hello)
    answer, hello_l = _recv_hello(sock)
    _nonce_hex(answer)
    cipher = str(answer.get("cipher"))
    transcript = _transcript(hello_d, hello_l)
    d2l, l2d = _keys(key, _shared(eph_secret, answer), transcript, me, peer)
    link = SecureLink(sock, cipher, d2l, l2d)
    link.send(Message("auth", {"id": me, "sig": ident.sign(_signed("dialer", transcript))}))
    reply = link.recv()
    if reply.tag != "auth" or reply.meta.get("id") != peer:
        raise ProtocolError(f"endpoint {peer} did not authenticate")
    ident.check(peer, _signed("listener", transcript), reply.meta.get("sig"))
    return link


def accept(
    sock: socket.socket, key: bytes, me: int, expected: set[int], identity: Identity | None = None
) -> tuple[int, SecureLink]:
    """Authenticate a socket a peer connected to us; returns the peer's id and the link."""
    ident = identity or Identity(None, {})
    hello, hello_d = _recv_hello(sock)
    peer = hello.get("id")
    if not isinstance(peer, int) or peer not in expected or hello.get("to") != me:
        raise ProtocolError("an unexpected MPC mesh peer")
    offered = hello.get("ciphers")
    if not isinstance(offered, list):
        raise ProtocolError("malformed MPC mesh hello")
    cipher = next((c for c in offered if c in CIPHERS), None)
    if cipher is None:
        raise ProtocolError("no MPC link cipher in common")
    _nonce_hex(hello)
    eph_secret, eph_public = _x25519_pair()
    shared = _shared(eph_secret, hello)
    nl = secrets.token_hex(16)
    hello_l = _send_hello(sock, {"nonce": nl, "cipher": cipher, "eph": eph_public.hex()})
    transcript = _transcript(hello_d, hello_l)
    d2l, l2d = _keys(key, shared, transcript, peer, me)
    link = SecureLink(sock, cipher, l2d, d2l)
    auth = link.recv()
    if auth.tag != "auth" or auth.meta.get("id") != peer:
        raise ProtocolError("the MPC mesh peer did not authenticate")
    ident.check(peer, _signed("dialer", transcript), auth.meta.get("sig"))
    link.send(Message("auth", {"id": me, "sig": ident.sign(_signed("listener", transcript))}))
    return peer, link
