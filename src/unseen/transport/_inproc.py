"""The in-process transport: a VirtualWorker's client talks to its node in the same process.

Messages are encoded and decoded as on any other transport, so values are copied both
ways (a caller never aliases the node's objects) and everything sent is known to survive
the wire.
"""

from __future__ import annotations

from typing import Any

from unseen.messages import Message, decode_message, decode_reply, encode_message, encode_reply
from unseen.node import Node, Principal


class InProcConnection:
    def __init__(self, node: Node, principal: Principal) -> None:
        self.node = node
        self.principal = principal
        self.node_name = node.name

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        message = decode_message(encode_message(Message(kind, body or {})))
        reply = self.node.handle(message, self.principal)
        return decode_reply(encode_reply(reply)).unwrap()

    def close(self) -> None:
        pass
