"""Who is calling: a user id and a role, as established by a transport's authentication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["owner", "admin", "data_scientist", "guest"]
ROLES: tuple[Role, ...] = ("owner", "admin", "data_scientist", "guest")

#: Role sets that routes declare; a route admits only the roles it names.
ANYONE: frozenset[Role] = frozenset(ROLES)
MEMBERS: frozenset[Role] = frozenset({"owner", "admin", "data_scientist"})
ADMINS: frozenset[Role] = frozenset({"owner", "admin"})


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role in ADMINS
