"""``owner.mpc``: the owner's MPC trust policy, who may deal and who may hold shares.

A node shares its private data only with parties and a crypto provider (dealer) that its
owner trusts, by node key (see :mod:`unseen.node._mpc_trust`)::

    owner.mpc.trust(dealer=crypto, label="Crypto Inc")   # a client of that node, or its key
    owner.mpc.trust(party=general)
    owner.mpc.policy        # {"node_key": ..., "dealers": [...], "parties": [...]}
    owner.mpc.untrust(dealer=crypto)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unseen.errors import UsageError

if TYPE_CHECKING:
    from unseen.client._client import Client

__all__ = ["MPCTrust"]


def _key_and_label(who: Any, label: str | None) -> tuple[str, str]:
    from unseen.client._client import Client

    if isinstance(who, Client):
        return who.node_key, label or who.node_name
    if isinstance(who, str):
        return who, label or ""
    raise UsageError(
        f"name a node by a client of it or by its node key (64 hex digits), not {type(who).__name__}"
    )


class MPCTrust:
    """The MPC trust policy of one node (owners and admins)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _each(self, dealer: Any, party: Any) -> list[tuple[str, Any]]:
        chosen = [(role, who) for role, who in (("dealer", dealer), ("party", party)) if who]
        if not chosen:
            raise UsageError("say whom: mpc.trust(dealer=...) and/or mpc.trust(party=...)")
        return chosen

    def trust(self, dealer: Any = None, party: Any = None, label: str | None = None) -> dict:
        """Trust a node as the crypto provider (``dealer=``) and/or as a peer party
        (``party=``) of MPC sessions on this node's private data."""
        view: dict = {}
        for role, who in self._each(dealer, party):
            key, name = _key_and_label(who, label)
            view = self._client.call("mpc.trust", {"role": role, "key": key, "label": name})
        return view

    def untrust(self, dealer: Any = None, party: Any = None) -> dict:
        """Stop trusting a node as dealer and/or party (sessions that start later)."""
        view: dict = {}
        for role, who in self._each(dealer, party):
            key, _ = _key_and_label(who, None)
            view = self._client.call("mpc.untrust", {"role": role, "key": key})
        return view

    @property
    def policy(self) -> dict:
        """``{"node_key": ..., "dealers": [{"key", "label"}], "parties": [...]}``."""
        return dict(self._client.call("mpc.policy"))

    def __repr__(self) -> str:
        return f"<MPC trust policy of {self._client.node_name!r}>"
