"""The domain server: a node with persistent stores behind an HTTP and WebSocket API.

``launch_domain(...)`` runs one in a background thread (``unseen launch domain`` in the
foreground); ``create_app(domain)`` is the FastAPI app for other ASGI servers.
"""

from unseen.server._agent import AGENTS, Agents, Membership, post_signed
from unseen.server._app import ACCESS, create_app
from unseen.server._domain import Domain, default_data_dir, open_domain, slug
from unseen.server._identity import NodeIdentity
from unseen.server._launch import (
    BackgroundServer,
    RunningDomain,
    database_label,
    describe,
    detail_line,
    launch_domain,
    launch_server,
    owner_lines,
    running_lines,
)
from unseen.server._listen import bind_socket, check_port, listener_url
from unseen.server._problems import json_body
from unseen.server._service import ServerSettings
from unseen.server._tunnel import Opener

__all__ = [
    "ACCESS",
    "AGENTS",
    "Agents",
    "Domain",
    "Membership",
    "NodeIdentity",
    "RunningDomain",
    "ServerSettings",
    "create_app",
    "default_data_dir",
    "describe",
    "launch_domain",
    "open_domain",
    "slug",
    "BackgroundServer",
    "Opener",
    "check_port",
    "database_label",
    "json_body",
    "owner_lines",
    "bind_socket",
    "detail_line",
    "launch_server",
    "listener_url",
    "running_lines",
    "post_signed",
]
