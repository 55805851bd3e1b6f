"""Handlers for users: create, list, update, delete, and one's own account.

Typed kinds (:mod:`unseen.messages.users`): each handler takes its request type and returns
its reply type; the route converts from and to the wire.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from unseen.errors import AuthError, PermissionDenied, UsageError
from unseen.messages.users import (
    USER_CREATE,
    USER_DELETE,
    USER_LIST,
    USER_ME,
    USER_PASSWORD,
    USER_UPDATE,
    UserCreateRequest,
    UserDeleteRequest,
    UserListRequest,
    UserMeRequest,
    UserPasswordRequest,
    UserUpdateRequest,
    UserView,
)
from unseen.node._principal import ADMINS, ANYONE, ROLES, Principal
from unseen.node._routes import typed_route
from unseen.store import UserRecord

if TYPE_CHECKING:
    from unseen.node._node import Node


def user_view(user: UserRecord) -> UserView:
    return UserView(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        budget=float(user.budget),
        spent=float(getattr(user, "spent", 0.0)),
    )


def _role(role: str | None) -> str | None:
    if role is not None and role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _may_manage(principal: Principal, target_role: str) -> None:
    if target_role in ("owner", "admin") and principal.role != "owner":
        raise PermissionDenied("only the owner may create or change admins and owners")


def _budget(budget: float | None) -> float | None:
    if budget is not None and not (0 <= float(budget) < float("inf")):
        raise UsageError("budget must be a finite, non-negative epsilon")
    return None if budget is None else float(budget)


@typed_route(USER_CREATE, ADMINS)
def create(node: Node, principal: Principal, request: UserCreateRequest) -> UserView:
    role = _role(request.role)
    assert role is not None
    if role == "owner":
        raise UsageError("a node has one owner; create admins instead")
    _may_manage(principal, role)
    email = request.email.strip()
    if "@" not in email:
        raise UsageError(f"{email!r} is not an email address")
    user = UserRecord(
        id=uuid.uuid4().hex,
        email=email,
        name=request.name or email.split("@")[0],
        role=role,
        password_hash=node.auth.hash_password(request.password),
        budget=_budget(request.budget) or 0.0,
    )
    node.stores.users.add(user)
    node.audit(principal, "user.create", user.id)
    return user_view(user)


@typed_route(USER_LIST, ADMINS)
def list_users(node: Node, principal: Principal, request: UserListRequest) -> list[UserView]:
    return [user_view(u) for u in sorted(node.stores.users.list(), key=lambda u: u.created_at)]


def _target(node: Node, key: str) -> UserRecord:
    return node.stores.users.by_email(key) if "@" in key else node.stores.users.get(key)


@typed_route(USER_UPDATE, ADMINS)
def update(node: Node, principal: Principal, request: UserUpdateRequest) -> UserView:
    user = _target(node, request.user)
    _may_manage(principal, user.role)
    role = _role(request.role)
    if role is not None and role != user.role:
        if user.role == "owner" or role == "owner":
            raise UsageError("the owner's role cannot change, and there is only one owner")
        _may_manage(principal, role)
        user.role = role
    if request.name is not None:
        user.name = request.name
    budget = _budget(request.budget)
    if budget is not None:
        user.budget = budget
    if request.password is not None:
        user.password_hash = node.auth.hash_password(request.password)
    node.stores.users.update(user)
    node.audit(principal, "user.update", user.id)
    return user_view(user)


@typed_route(USER_DELETE, ADMINS)
def delete(node: Node, principal: Principal, request: UserDeleteRequest) -> None:
    user = _target(node, request.user)
    if user.role == "owner" or user.id == principal.user_id:
        raise UsageError("the owner, and your own account, cannot be deleted")
    _may_manage(principal, user.role)
    node.stores.users.delete(user.id)
    node.audit(principal, "user.delete", user.id)


@typed_route(USER_ME, ANYONE)
def me(node: Node, principal: Principal, request: UserMeRequest) -> UserView:
    return user_view(node.stores.users.get(principal.user_id))


@typed_route(USER_PASSWORD, ANYONE)
def change_password(node: Node, principal: Principal, request: UserPasswordRequest) -> None:
    user = node.stores.users.get(principal.user_id)
    if not node.auth.verify_password(user, request.old_password):
        raise AuthError("the old password is wrong")
    user.password_hash = node.auth.hash_password(request.new_password)
    node.stores.users.update(user)
