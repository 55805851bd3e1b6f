"""Opening a domain: its data directory, persistent stores, identity, node and owner account.

A first launch creates the owner with the email and password given (by argument or by
``UNSEEN_OWNER_EMAIL`` / ``UNSEEN_OWNER_PASSWORD``) or a generated password; there is no
default password. Later launches find the owner in the store and print no password.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unseen.errors import UsageError
from unseen.node import Node
from unseen.server._identity import NodeIdentity, load_or_create

ENV_EMAIL = "UNSEEN_OWNER_EMAIL"
ENV_PASSWORD = "UNSEEN_OWNER_PASSWORD"


def slug(name: str) -> str:
    """``"May Clinic"`` -> ``"may-clinic"``: the directory name of a node."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text or "node"


def default_data_dir(name: str) -> Path:
    """``~/.unseen/<slug of name>``."""
    return Path.home() / ".unseen" / slug(name)


@dataclass
class Domain:
    """A node with persistent stores, and what the launcher tells its operator."""

    node: Node
    stores: Any  # unseen.store.SQLStores
    identity: NodeIdentity
    data_dir: Path
    owner_email: str
    owner_password: str | None  # None when the owner existed and no password was given
    owner_created: bool
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.node.close()  # stops jobs first: their ends are kept in the stores
        self.node.notify_decision()
        self.node.uploads.clear()
        self.stores.close()


def _ensure_owner(
    node: Node, name: str, email: str | None, password: str | None
) -> tuple[str, str | None, bool, list[str]]:
    owners = [u for u in node.stores.users.list() if u.role == "owner"]
    if owners:
        owner = owners[0]
        notes: list[str] = []
        if email and email.strip().lower() != owner.email.lower():
            notes.append(f"ignored the owner email {email!r}: this node's owner is {owner.email}")
            password = None
        elif password and not node.auth.verify_password(owner, password):
            notes.append(
                "the owner password given does not match the stored one: it was not changed"
            )
            password = None
        return owner.email, password, False, notes
    email = (email or f"owner@{slug(name)}.local").strip()
    if "@" not in email:
        raise UsageError(f"the owner email {email!r} is not an email address")
    generated = not password
    password = password or secrets.token_urlsafe(12)
    node.add_user("Owner", "owner", email=email, password=password)
    notes = ["a password was generated: keep it safe"] if generated else []
    return email, password, True, notes


def open_domain(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    database: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
) -> Domain:
    """Open (or create) a domain node's data directory, stores, identity and owner."""
    from unseen.store import open_stores

    if not isinstance(name, str) or not name.strip():
        raise UsageError('a domain needs a name: launch_domain(name="May Clinic")')
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(name)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(root, 0o700)
    except OSError:
        pass
    owner_email = owner_email or os.environ.get(ENV_EMAIL) or None
    owner_password = owner_password or os.environ.get(ENV_PASSWORD) or None
    stores = open_stores(database, root)
    try:
        identity, _ = load_or_create(root)
        node = Node(
            name,
            node_id=identity.node_id,
            stores=stores,
            secret=identity.token_secret,
            public_key=identity.public_key,
            signing_seed=identity.signing_seed,
        )
        email, password, created, notes = _ensure_owner(node, name, owner_email, owner_password)
    except BaseException:
        stores.close()
        raise
    recovery = getattr(stores, "recovery", None)
    if recovery is not None and not getattr(recovery, "clean", True):
        notes.append(f"recovered the store after an unclean stop: {recovery}")
    return Domain(node, stores, identity, root, email, password, created, notes)
