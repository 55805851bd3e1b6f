"""Running a network node: its data directory, store, owner, and uvicorn in a background thread.

A network opens like a domain (``unseen.server.open_domain``: data directory, identity key, SQLite
or PostgreSQL store, an owner without a default password) but answers with a
:class:`~unseen.network._node.NetworkNode` and serves the registry endpoints beside the login and
message endpoints (``unseen.network._app``).
"""

from __future__ import annotations

import dataclasses
import os

from unseen.errors import UsageError
from unseen.network._app import TUNNEL_FRAME_MAX, create_network_app
from unseen.network._node import NetworkNode
from unseen.network._registry import Registry
from unseen.server import (
    BackgroundServer,
    Domain,
    ServerSettings,
    detail_line,
    launch_server,
    open_domain,
    running_lines,
)


def open_network(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    database: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
    auto_approve: bool = False,
    offline_after: float = 30.0,
) -> Domain:
    """Open (or create) a network node's directory, store, identity, owner and registry."""
    if not 0 < offline_after < float("inf"):
        raise UsageError("offline_after must be a positive number of seconds")
    domain = open_domain(
        name,
        data_dir=data_dir,
        database=database,
        owner_email=owner_email,
        owner_password=owner_password,
    )
    try:
        base = domain.node
        node = NetworkNode(
            name,
            node_id=base.id,
            stores=domain.stores,
            secret=domain.identity.token_secret,
            public_key=domain.identity.public_key,
            signing_seed=domain.identity.signing_seed,
        )
        node.registry = Registry(
            domain.stores.settings,
            node.id,
            auto_approve=auto_approve,
            offline_after=offline_after,
        )
    except BaseException:
        domain.close()
        raise
    return dataclasses.replace(domain, node=node)


class RunningNetwork(BackgroundServer):
    """A network node serving in a background thread. ``stop()`` it (or use ``with``)."""

    kind = "network"

    def __init__(
        self, domain: Domain, host: str, port: int, settings: ServerSettings | None = None
    ) -> None:
        self.node: NetworkNode = domain.node  # type: ignore[assignment]
        self.registry = self.node.registry
        app = create_network_app(domain, settings)
        super().__init__(domain, host, port, app, TUNNEL_FRAME_MAX)


def launch_network(
    name: str = "unseen network",
    port: int = 0,
    host: str = "127.0.0.1",
    data_dir: str | os.PathLike[str] | None = None,
    database: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
    *,
    auto_approve: bool = False,
    offline_after: float = 30.0,
    settings: ServerSettings | None = None,
) -> RunningNetwork:
    """Start a network node in a background thread; returns once it answers.

    Like :func:`unseen.launch_domain`: data in ``data_dir`` (default ``~/.unseen/<slug of
    name>``), SQLite unless ``database`` is a PostgreSQL URL, the owner created on the first
    launch (read a generated password from ``.owner_password``). ``auto_approve`` accepts every
    correctly signed registration; ``offline_after`` is the seconds without a heartbeat after
    which a domain shows as offline.
    """
    return launch_server(
        port,
        lambda: open_network(
            name,
            data_dir=data_dir,
            database=database,
            owner_email=owner_email,
            owner_password=owner_password,
            auto_approve=auto_approve,
            offline_after=offline_after,
        ),
        lambda domain: RunningNetwork(domain, host, port, settings),
    )


def describe(running: RunningNetwork) -> list[str]:
    """What ``unseen launch network`` prints."""
    approve = "automatic" if running.registry.auto_approve else "by the owner"
    return running_lines(
        running,
        role=[detail_line("registry", f"{running.url}/  (approval: {approve})")],
        then=detail_line("domains", f"owner.join_network({running.url!r})"),
    )
