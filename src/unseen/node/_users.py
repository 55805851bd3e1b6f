"""Handlers for users: create, list, update, delete, and one's own account."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from unseen.errors import AuthError, PermissionDenied, UsageError
from unseen.node._principal import ADMINS, ANYONE, ROLES, Principal
from unseen.node._routes import field, route
from unseen.store import UserRecord

if TYPE_CHECKING:
    from unseen.node._node import Node


def user_view(user: UserRecord) -> dict[str, Any]:
    view = {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "budget": user.budget,
    }
    view["spent"] = float(getattr(user, "spent", 0.0))
    return view


def _role(body: dict[str, Any], default: str | None) -> str | None:
    role = field(body, "role", str, default=default)
    if role is not None and role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _may_manage(principal: Principal, target_role: str) -> None:
    if target_role in ("owner", "admin") and principal.role != "owner":
        raise PermissionDenied("only the owner may create or change admins and owners")


def _budget(body: dict[str, Any], default: float | None) -> float | None:
    budget = field(body, "budget", (int, float), default=default)
    if budget is not None and not (0 <= float(budget) < float("inf")):
        raise UsageError("budget must be a finite, non-negative epsilon")
    return None if budget is None else float(budget)


@route("user.create", ADMINS)
def create(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    role = _role(body, "data_scientist")
    assert role is not None
    if role == "owner":
        raise UsageError("a node has one owner; create admins instead")
    _may_manage(principal, role)
    email = field(body, "email", str).strip()
    if "@" not in email:
        raise UsageError(f"{email!r} is not an email address")
    user = UserRecord(
        id=uuid.uuid4().hex,
        email=email,
        name=field(body, "name", str, default="") or email.split("@")[0],
        role=role,
        password_hash=node.auth.hash_password(field(body, "password", str)),
        budget=_budget(body, 0.0) or 0.0,
    )
    node.stores.users.add(user)
    node.audit(principal, "user.create", user.id)
    return user_view(user)


@route("user.list", ADMINS)
def list_users(node: Node, principal: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [user_view(u) for u in sorted(node.stores.users.list(), key=lambda u: u.created_at)]


def _target(node: Node, body: dict[str, Any]) -> UserRecord:
    key = field(body, "user", str)
    return node.stores.users.by_email(key) if "@" in key else node.stores.users.get(key)


@route("user.update", ADMINS)
def update(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    user = _target(node, body)
    _may_manage(principal, user.role)
    role = _role(body, None)
    if role is not None and role != user.role:
        if user.role == "owner" or role == "owner":
            raise UsageError("the owner's role cannot change, and there is only one owner")
        _may_manage(principal, role)
        user.role = role
    user.name = field(body, "name", str, default=user.name)
    budget = _budget(body, None)
    if budget is not None:
        user.budget = budget
    if body.get("password") is not None:
        user.password_hash = node.auth.hash_password(field(body, "password", str))
    node.stores.users.update(user)
    node.audit(principal, "user.update", user.id)
    return user_view(user)


@route("user.delete", ADMINS)
def delete(node: Node, principal: Principal, body: dict[str, Any]) -> None:
    user = _target(node, body)
    if user.role == "owner" or user.id == principal.user_id:
        raise UsageError("the owner, and your own account, cannot be deleted")
    _may_manage(principal, user.role)
    node.stores.users.delete(user.id)
    node.audit(principal, "user.delete", user.id)


@route("user.me", ANYONE)
def me(node: Node, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    return user_view(node.stores.users.get(principal.user_id))


@route("user.password", ANYONE)
def change_password(node: Node, principal: Principal, body: dict[str, Any]) -> None:
    user = node.stores.users.get(principal.user_id)
    if not node.auth.verify_password(user, field(body, "old_password", str)):
        raise AuthError("the old password is wrong")
    user.password_hash = node.auth.hash_password(field(body, "new_password", str))
    node.stores.users.update(user)
