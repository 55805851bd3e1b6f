"""The typed ``user.*`` kinds: accounts (create, list, update, delete) and one's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "UserView",
    "UserCreateRequest",
    "UserListRequest",
    "UserMeRequest",
    "UserUpdateRequest",
    "UserDeleteRequest",
    "UserPasswordRequest",
    "USER_CREATE",
    "USER_LIST",
    "USER_ME",
    "USER_UPDATE",
    "USER_DELETE",
    "USER_PASSWORD",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class UserView:
    """An account as the node shows it: ``budget`` and ``spent`` are privacy epsilon."""

    id: str
    email: str
    name: str
    role: str
    budget: float
    spent: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UserCreateRequest:
    email: str
    password: str
    name: str = ""
    role: str = "data_scientist"
    budget: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UserListRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class UserMeRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class UserUpdateRequest:
    """``user`` is an email or an id; a field left ``None`` stays as it is."""

    user: str
    name: str | None = None
    role: str | None = None
    budget: float | None = None
    password: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserDeleteRequest:
    user: str  # an email or an id


@dataclass(frozen=True, kw_only=True)
class UserPasswordRequest:
    old_password: str
    new_password: str


USER_CREATE: Kind[UserCreateRequest, UserView] = Kind("user.create", UserCreateRequest, UserView)
USER_LIST: Kind[UserListRequest, list[UserView]] = Kind(
    "user.list", UserListRequest, list[UserView]
)
USER_ME: Kind[UserMeRequest, UserView] = Kind("user.me", UserMeRequest, UserView)
USER_UPDATE: Kind[UserUpdateRequest, UserView] = Kind("user.update", UserUpdateRequest, UserView)
USER_DELETE: Kind[UserDeleteRequest, None] = Kind("user.delete", UserDeleteRequest, None)
USER_PASSWORD: Kind[UserPasswordRequest, None] = Kind("user.password", UserPasswordRequest, None)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (
    USER_CREATE,
    USER_LIST,
    USER_ME,
    USER_UPDATE,
    USER_DELETE,
    USER_PASSWORD,
)
