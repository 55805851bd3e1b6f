"""A node's persistent identity: its id, the secret that signs its tokens, and its ed25519 key.

The three live in ``<data_dir>/identity.json``, created on first launch with 0600 permissions
(only the node's own user may read them) and kept across restarts, so that tokens issued
before a restart stay valid and the node keeps its public key (by which networks, MPC parties
and Duet peers recognise it).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from unseen.errors import UsageError

FILE_NAME = "identity.json"


@dataclass(frozen=True)
class NodeIdentity:
    node_id: str
    token_secret: bytes
    signing_seed: bytes  # the 32-byte ed25519 seed

    @property
    def public_key(self) -> str:
        """The node's ed25519 verify key, hex-encoded."""
        from nacl.signing import SigningKey

        return bytes(SigningKey(self.signing_seed).verify_key).hex()

    def sign(self, data: bytes) -> bytes:
        """An ed25519 signature of ``data`` by the node's key (64 bytes)."""
        from nacl.signing import SigningKey

        return bytes(SigningKey(self.signing_seed).sign(data).signature)


def _new() -> NodeIdentity:
    from nacl.signing import SigningKey

    return NodeIdentity(
        node_id=uuid.uuid4().hex,
        token_secret=secrets.token_bytes(32),
        signing_seed=bytes(SigningKey.generate()),
    )


def _write_private(path: Path, identity: NodeIdentity) -> None:
    data = {
        "node_id": identity.node_id,
        "token_secret": identity.token_secret.hex(),
        "signing_key": identity.signing_seed.hex(),
    }
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_or_create(data_dir: Path) -> tuple[NodeIdentity, bool]:
    """The identity kept in ``data_dir`` (created if missing) and whether it is new."""
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        identity = _new()
        _write_private(path, identity)
        return identity, True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
    try:
        data = json.loads(path.read_text())
        identity = NodeIdentity(
            node_id=str(data["node_id"]),
            token_secret=bytes.fromhex(data["token_secret"]),
            signing_seed=bytes.fromhex(data["signing_key"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"the node identity {str(path)!r} is damaged ({exc}): restore it from a backup, "
            "or delete it to give the node a new identity (tokens and registrations then lapse)"
        ) from None
    if len(identity.token_secret) < 16 or len(identity.signing_seed) != 32:
        raise UsageError(f"the node identity {str(path)!r} holds keys of the wrong size")
    return identity, False
