"""The ``node.info`` handler: name, id, version, the kinds understood and the caller's role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from unseen._version import __version__
from unseen.messages import KINDS
from unseen.messages.info import NODE_INFO, NodeInfo, NodeInfoRequest
from unseen.node._principal import ANYONE, Principal
from unseen.node._routes import typed_route

if TYPE_CHECKING:
    from unseen.node._node import Node

_SORTED_KINDS = sorted(KINDS)  # static; node.info is the most frequent small message


@typed_route(NODE_INFO, ANYONE)
def info(node: Node, principal: Principal, request: NodeInfoRequest) -> NodeInfo:
    return NodeInfo(
        name=node.name,
        id=node.id,
        public_key=node.public_key,
        version=__version__,
        kinds=_SORTED_KINDS,
        user_id=principal.user_id,
        role=principal.role,
        name_of_user=principal.name,
    )
