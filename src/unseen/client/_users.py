"""The owner's view of users: create, list, update and delete accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from unseen.client._views import _frame, _html_table, _text_table

if TYPE_CHECKING:
    import pandas

    from unseen.client._client import Client

_COLUMNS = ["Email", "Name", "Role", "Budget", "Spent", "ID"]


class UserList(Sequence[dict[str, Any]]):
    """Users of a node as a table (owners and admins)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _records(self) -> list[dict[str, Any]]:
        return list(self._client.call("user.list"))

    def __getitem__(self, index: Any) -> Any:
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
    ) -> dict[str, Any]:
        """A new account; ``budget`` is the user's privacy budget in epsilon."""
        body = {"email": email, "password": password, "name": name, "role": role, "budget": budget}
        return dict(self._client.call("user.create", body))

    def update(self, user: str, **fields: Any) -> dict[str, Any]:
        """Change ``name``, ``role``, ``budget`` or ``password`` of a user (by email or id)."""
        return dict(self._client.call("user.update", {"user": user, **fields}))

    def delete(self, user: str) -> None:
        self._client.call("user.delete", {"user": user})

    def _rows(self) -> list[list[Any]]:
        return [
            [u["email"], u["name"], u["role"], u["budget"], u["spent"], u["id"]]
            for u in self._records()
        ]

    @property
    def pandas(self) -> pandas.DataFrame:
        return _frame(_COLUMNS, self._rows())

    def __repr__(self) -> str:
        return _text_table(_COLUMNS, [[str(v) for v in r] for r in self._rows()])

    def _repr_html_(self) -> str:
        return _html_table(_COLUMNS, self._rows())
