"""Cryptographic pseudo-random generator for shares and correlated randomness.

A stream is keyed by a 16-byte seed and a 64-bit counter: ``stream(seed, counter)`` is the
AES-128 keystream in CTR mode whose 128-bit initial block is ``counter || 0^64`` (big-endian),
so distinct counters give disjoint streams under one key. Backends:

* ``"aes"``: AES-128-CTR from the ``cryptography`` package (AES-NI; about 8 GB/s per core).
* ``"chacha20"``: the ChaCha20 keystream of libsodium through PyNaCl (the ciphertext of zeros
  under ChaCha20-Poly1305-IETF, key SHA-256 of the seed, nonce ``counter || 0^32``, tag dropped), used when
  ``cryptography`` is missing.

Never a statistical generator (mt19937, ``torch.manual_seed``): whoever knows the seed of such
a generator, or a few outputs, can predict the rest.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import torch

from unseen.errors import UsageError

__all__ = ["PRG", "available_backends", "default_backend", "new_seed", "SEED_BYTES"]

SEED_BYTES = 16

try:  # pragma: no cover - import guard
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _HAVE_AES = True
except ImportError:  # pragma: no cover
    _HAVE_AES = False

try:  # pragma: no cover - import guard
    from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt as _chacha_encrypt

    _HAVE_CHACHA = True
except ImportError:  # pragma: no cover
    _HAVE_CHACHA = False

_ZEROS_LOCK = threading.Lock()
_ZEROS = bytes(0)


def available_backends() -> list[str]:
    """The PRG backends importable here, best first."""
    out = []
    if _HAVE_AES:
        out.append("aes")
    if _HAVE_CHACHA:
        out.append("chacha20")
    return out


def default_backend() -> str:
    backends = available_backends()
    if not backends:
        raise UsageError("MPC needs a cryptographic PRG: pip install cryptography (or pynacl)")
    return backends[0]


def new_seed() -> bytes:
    """A fresh seed from the operating system's CSPRNG."""
    return os.urandom(SEED_BYTES)


def _view(t: torch.Tensor) -> memoryview:
    """A writable byte view of a contiguous CPU tensor."""
    arr: Any = t.numpy()
    return memoryview(arr).cast("B")


def _zeros(n: int) -> memoryview:
    global _ZEROS
    if len(_ZEROS) < n:
        with _ZEROS_LOCK:
            if len(_ZEROS) < n:
                _ZEROS = bytes(max(n, 2 * len(_ZEROS)))
    return memoryview(_ZEROS)[:n]


class PRG:
    """Expands ``(seed, counter)`` into uniform int64 words or bits."""

    def __init__(self, seed: bytes, backend: str | None = None) -> None:
        if len(seed) != SEED_BYTES:
            raise UsageError(f"a PRG seed has {SEED_BYTES} bytes, got {len(seed)}")
        self.backend = backend or default_backend()
        if self.backend not in available_backends():
            raise UsageError(f"PRG backend {self.backend!r} is not available here")
        self._seed = bytes(seed)
        self._aes = algorithms.AES(self._seed) if self.backend == "aes" else None

    def bytes_into(self, counter: int, out: torch.Tensor) -> None:
        """Fill the contiguous CPU uint8 tensor ``out`` with stream ``counter``."""
        n = out.numel()
        if n == 0:
            return
        if not 0 <= counter < 2**64:
            raise UsageError("PRG counter out of range")
        if self.backend == "aes":
            iv = counter.to_bytes(8, "big") + bytes(8)
            enc = Cipher(self._aes, modes.CTR(iv)).encryptor()  # type: ignore[arg-type]
            # update_into needs block_size - 1 spare bytes after the output.
            buf = torch.empty(n + 15, dtype=torch.uint8)
            enc.update_into(_zeros(n), _view(buf))
            out.copy_(buf[:n])
        else:
            nonce = counter.to_bytes(8, "little") + bytes(4)
            key = hashlib.sha256(b"unseen-mpc-chacha20" + self._seed).digest()
            data = _chacha_encrypt(bytes(_zeros(n)), None, nonce, key)
            out.copy_(torch.frombuffer(bytearray(data[:n]), dtype=torch.uint8))

    def words(self, counter: int, sizes: Sequence[int]) -> list[torch.Tensor]:
        """Uniform int64 tensors (flat) of the given sizes, from stream ``counter``."""
        total = int(sum(sizes))
        raw = torch.empty(total * 8 + 15, dtype=torch.uint8)
        if total:
            self._fill_words(counter, raw, total * 8)
        flat = raw[: total * 8].view(torch.int64)
        out, pos = [], 0
        for s in sizes:
            out.append(flat[pos : pos + s])
            pos += s
        return out

    def _fill_words(self, counter: int, raw: torch.Tensor, n: int) -> None:
        if self.backend == "aes":
            iv = counter.to_bytes(8, "big") + bytes(8)
            enc = Cipher(self._aes, modes.CTR(iv)).encryptor()  # type: ignore[arg-type]
            enc.update_into(_zeros(n), _view(raw))
        else:
            self.bytes_into(counter, raw[:n])
