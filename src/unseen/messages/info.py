"""The typed ``node.info`` kind: the node's name, id, key, version, kinds and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.messages._typed import Kind

__all__ = ["NodeInfoRequest", "NodeInfo", "NODE_INFO", "TYPED_KINDS"]


@dataclass(frozen=True, kw_only=True)
class NodeInfoRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    name: str
    id: str
    public_key: str = ""  # the node's ed25519 key, hex ("" from nodes older than keys)
    version: str
    kinds: list[str]
    user_id: str
    role: str
    name_of_user: str = ""
    node_type: str | None = None  # "network" on a network node; a domain leaves it off


NODE_INFO: Kind[NodeInfoRequest, NodeInfo] = Kind("node.info", NodeInfoRequest, NodeInfo)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (NODE_INFO,)
