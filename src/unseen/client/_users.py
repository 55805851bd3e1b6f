"""The owner's view of users: create, list, update and delete accounts (typed messages of
:mod:`unseen.messages.users`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from unseen.client._views import _frame, _html_table, _text_table
from unseen.messages.users import (
    USER_CREATE,
    USER_DELETE,
    USER_LIST,
    USER_UPDATE,
    UserCreateRequest,
    UserDeleteRequest,
    UserListRequest,
    UserUpdateRequest,
    UserView,
)

if TYPE_CHECKING:
    import pandas

    from unseen.client._client import Client

_COLUMNS = ["Email", "Name", "Role", "Budget", "Spent", "ID"]


class UserList(Sequence[UserView]):
    """Users of a node as a table (owners and admins)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _records(self) -> list[UserView]:
        return self._client.ask(USER_LIST, UserListRequest())

    @overload
    def __getitem__(self, index: int) -> UserView: ...
    @overload
    def __getitem__(self, index: slice) -> list[UserView]: ...
    def __getitem__(self, index: int | slice) -> UserView | list[UserView]:
        return self._records()[index]

    def __len__(self) -> int:
        return len(self._records())

    def create(
        self,
        email: str,
        password: str,
        name: str = "",
        role: str = "data_scientist",
        budget: float = 0.0,
    ) -> UserView:
        """A new account; ``budget`` is the user's privacy budget in epsilon."""
        request = UserCreateRequest(
            email=email, password=password, name=name, role=role, budget=budget
        )
        return self._client.ask(USER_CREATE, request)

    def update(
        self,
        user: str,
        *,
        name: str | None = None,
        role: str | None = None,
        budget: float | None = None,
        password: str | None = None,
    ) -> UserView:
        """Change ``name``, ``role``, ``budget`` or ``password`` of a user (by email or id);
        what is left ``None`` stays as it is."""
        request = UserUpdateRequest(
            user=user, name=name, role=role, budget=budget, password=password
        )
        return self._client.ask(USER_UPDATE, request)

    def delete(self, user: str) -> None:
        self._client.ask(USER_DELETE, UserDeleteRequest(user=user))

    def _rows(self) -> list[list[Any]]:
        return [[u.email, u.name, u.role, u.budget, u.spent, u.id] for u in self._records()]

    @property
    def pandas(self) -> pandas.DataFrame:
        return _frame(_COLUMNS, self._rows())

    def __repr__(self) -> str:
        return _text_table(_COLUMNS, [[str(v) for v in r] for r in self._rows()])

    def _repr_html_(self) -> str:
        return _html_table(_COLUMNS, self._rows())
