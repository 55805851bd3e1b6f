"""Shared by the MPC-on-nodes tests: hospitals whose owners trust each other and a dealer."""

from __future__ import annotations

import unseen


def trusted_crypto(hospitals: list[unseen.VirtualWorker]) -> unseen.VirtualWorker:
    """A crypto provider every hospital's owner trusts, as they trust each other (attackers in
    these tests are scientists among trusted nodes; test_mpc_trust.py covers untrusted ones)."""
    crypto = unseen.VirtualWorker(name="crypto")
    for h in hospitals:
        h.mpc.trust(dealer=crypto)
        for other in hospitals:
            if other is not h:
                h.mpc.trust(party=other)
    return crypto
