"""What a client needs of a transport: send a message, get the reply's body or its error."""

from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    #: A short label of the node for reprs, e.g. its name.
    node_name: str

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        """Send one message and return the reply's body; raise the node's error."""
        ...

    def close(self) -> None: ...
