"""``owner.mpc``: the owner's MPC trust policy, who may deal and who may hold shares.

A node shares its private data only with parties and a crypto provider (dealer) that its
owner trusts, by node key (see :mod:`unseen.node._mpc_trust`)::

    owner.mpc.trust(dealer=crypto, label="Crypto Inc")   # a client of that node, or its key
    owner.mpc.trust(party=general)
    owner.mpc.policy        # an MPCPolicy: .node_key, .dealers and .parties (.key, .label)
    owner.mpc.untrust(dealer=crypto)

Each call returns the policy as it stands after it (:class:`~unseen.messages.mpc.MPCPolicy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unseen.errors import UsageError
from unseen.messages.mpc import (
    MPC_POLICY,
    MPC_TRUST,
    MPC_UNTRUST,
    MPCPolicy,
    MPCPolicyRequest,
    MPCTrustRequest,
    MPCUntrustRequest,
)

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

    def trust(self, dealer: Any = None, party: Any = None, label: str | None = None) -> MPCPolicy:
        """Trust a node as the crypto provider (``dealer=``) and/or as a peer party
        (``party=``) of MPC sessions on this node's private data."""
        view: MPCPolicy | None = None
        for role, who in self._each(dealer, party):
            key, name = _key_and_label(who, label)
            view = self._client.ask(MPC_TRUST, MPCTrustRequest(role=role, key=key, label=name))
        assert view is not None  # _each names at least one
        return view

    def untrust(self, dealer: Any = None, party: Any = None) -> MPCPolicy:
        """Stop trusting a node as dealer and/or party (sessions that start later)."""
        view: MPCPolicy | None = None
        for role, who in self._each(dealer, party):
            key, _ = _key_and_label(who, None)
            view = self._client.ask(MPC_UNTRUST, MPCUntrustRequest(role=role, key=key))
        assert view is not None
        return view

    @property
    def policy(self) -> MPCPolicy:
        """The node's key and whom it trusts: ``.node_key``, ``.dealers`` and ``.parties``
        (each a list of :class:`~unseen.messages.mpc.TrustedNode`: ``.key``, ``.label``)."""
        return self._client.ask(MPC_POLICY, MPCPolicyRequest())

    def __repr__(self) -> str:
        return f"<MPC trust policy of {self._client.node_name!r}>"
