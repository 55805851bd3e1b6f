"""The node: authentication-neutral message handling, the release rule, and requests."""

from unseen.node._mpc import close_sessions, serve_mesh_on
from unseen.node._network import (
    CLOCK_SKEW_S,
    DOC_VERSION,
    HEARTBEAT,
    MEMBERSHIP_PREFIX,
    REGISTER,
    TUNNEL,
    catalog_digest,
    check_models,
    curve_public_key,
    curve_secret_key,
    install_agents,
    new_document,
    public_catalog,
    resume_memberships,
    sign_document,
    verify_document,
)
from unseen.node._node import AuditEntry, Node
from unseen.node._objects import StagedUpload, resolve_dataset_uploads
from unseen.node._principal import ADMINS, ANYONE, MEMBERS, ROLES, Principal, Role
from unseen.node._quotas import QuotaSettings, check_stored
from unseen.node._requests import decide
from unseen.node._routes import Route
from unseen.node._table import build_routes

__all__ = [
    "ADMINS",
    "ANYONE",
    "CLOCK_SKEW_S",
    "DOC_VERSION",
    "HEARTBEAT",
    "MEMBERS",
    "MEMBERSHIP_PREFIX",
    "REGISTER",
    "ROLES",
    "TUNNEL",
    "AuditEntry",
    "Node",
    "Principal",
    "QuotaSettings",
    "Role",
    "Route",
    "StagedUpload",
    "build_routes",
    "catalog_digest",
    "check_models",
    "check_stored",
    "close_sessions",
    "curve_public_key",
    "curve_secret_key",
    "decide",
    "install_agents",
    "public_catalog",
    "resolve_dataset_uploads",
    "resume_memberships",
    "serve_mesh_on",
    "new_document",
    "sign_document",
    "verify_document",
]
