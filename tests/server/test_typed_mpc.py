"""Typed ``mpc.*`` messages over a real domain server (HTTP/WebSocket, serde on the wire):
the owner's trust policy round trips as an ``MPCPolicy``, and a bad field is a ``UsageError``
naming it that changes nothing. (Sessions over servers: tests/test_mpc_remote.py and
tests/security/test_mpc_trust.py.)"""

from __future__ import annotations

import pytest

import unseen
from unseen.messages import to_wire
from unseen.messages.mpc import (
    MPC_POLICY,
    MPC_TRUST,
    MPC_UNTRUST,
    MPCPolicy,
    MPCPolicyRequest,
    MPCTrustRequest,
    MPCUntrustRequest,
    TrustedNode,
)

PARTNER = "ab" * 32


def test_the_trust_policy_round_trips_over_the_server(owner: unseen.Client) -> None:
    trusted = owner.ask(MPC_TRUST, MPCTrustRequest(role="party", key=PARTNER, label="Partner"))
    try:
        assert isinstance(trusted, MPCPolicy) and trusted.node_key == owner.node_key
        assert TrustedNode(key=PARTNER, label="Partner") in trusted.parties
        shown = owner.ask(MPC_POLICY, MPCPolicyRequest())
        assert shown == trusted == owner.mpc.policy
        assert owner.call("mpc.policy") == to_wire(shown)  # the raw 1.0 body, field for field
    finally:
        left = owner.ask(MPC_UNTRUST, MPCUntrustRequest(role="party", key=PARTNER))
    assert PARTNER not in [t.key for t in left.parties]
    assert owner.mpc.policy == left


def test_a_bad_field_over_the_server_names_it_and_changes_nothing(owner: unseen.Client) -> None:
    before = owner.mpc.policy
    with pytest.raises(unseen.UsageError, match="the field 'key' must be str, not int"):
        owner.call("mpc.trust", {"role": "dealer", "key": 7, "label": "x"})
    with pytest.raises(unseen.UsageError, match="the field 'label' must be str"):
        owner.call("mpc.trust", {"role": "dealer", "key": PARTNER, "label": ["x"]})
    with pytest.raises(unseen.UsageError, match="'dealer' or 'party', not 'boss'"):
        owner.ask(MPC_TRUST, MPCTrustRequest(role="boss", key=PARTNER))
    assert owner.mpc.policy == before
