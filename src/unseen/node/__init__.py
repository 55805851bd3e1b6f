"""The node: authentication-neutral message handling, the release rule, and requests."""

from unseen.node._node import AuditEntry, Node
from unseen.node._principal import ADMINS, ANYONE, MEMBERS, ROLES, Principal, Role
from unseen.node._routes import Route
from unseen.node._table import build_routes

__all__ = [
    "ADMINS",
    "ANYONE",
    "MEMBERS",
    "ROLES",
    "AuditEntry",
    "Node",
    "Principal",
    "Role",
    "Route",
    "build_routes",
]
