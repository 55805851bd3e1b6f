"""Reconstructing an MPC result without every share-holder's release (VirtualWorkers).

Stopped by unseen/node/_mpc.py (mpc.request: a stand-in object per result and version,
accepted by each source node's owner) and the parties' reveal check (unseen/node/_mpc_party.py):
a reveal needs every source node's acceptance of that exact result.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from security_support import Attacks, assert_clean
from tests.mpc_trust_support import trusted_crypto

import unseen
from unseen.client._mpc import close_sessions

SECRET = 91_234_567.0


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_sessions()


@pytest.fixture
def hospitals() -> list[unseen.VirtualWorker]:
    out = []
    for i, name in enumerate(("North", "South", "East")):
        h = unseen.VirtualWorker(name=name)
        ds = unseen.Dataset(name="stays", description="days")
        ds.add_asset(name="stays", data=np.full((4, 2), SECRET + i), mock=np.zeros((4, 2)))
        h.upload_dataset(ds)
        out.append(h)
    return out


def clean(exc: BaseException) -> None:
    assert_clean(exc)
    assert "91234567" not in str(exc) and "9.1234" not in str(exc)


def test_reconstruction_needs_every_release(
    hospitals: list[unseen.VirtualWorker], attacks: Attacks
) -> None:
    clients = [h.new_client("Eve") for h in hospitals]
    crypto = trusted_crypto(hospitals)
    shared = [c.search("stays", verbose=False)[0][:, 0].share(*clients, crypto_provider=crypto)
              for c in clients]  # fmt: skip
    total = (shared[0] + shared[1] + shared[2]).sum()
    clean(attacks.refuse(total.get, expect=unseen.CannotRequestPrivateData))
    for s in shared:  # each input alone, and simple functions of it
        clean(attacks.refuse(s.get, expect=unseen.CannotRequestPrivateData))
        clean(attacks.refuse((s * 1).get, expect=unseen.CannotRequestPrivateData))
        clean(attacks.refuse((s - s + s).sum().get, expect=unseen.CannotRequestPrivateData))
    request = total.request(name="total", reason="attack")
    hospitals[0].requests[0].accept()
    hospitals[1].requests[0].accept()
    clean(attacks.refuse(total.get, expect=unseen.CannotRequestPrivateData))  # East has not
    # the accepted result does not open a different one, nor its parts
    clean(attacks.refuse((total + 0).get, expect=unseen.CannotRequestPrivateData))
    clean(attacks.refuse(shared[0].get, expect=unseen.CannotRequestPrivateData))
    # raw: the stand-in objects and requests on one node do not hand out values
    for client in clients:
        for r in client.call("request.list"):
            try:
                value = client.call("request.result", {"id": r["id"]})
            except unseen.UnseenError as exc:
                attacks.tried()
                clean(exc)
                continue
            attacks.tried()
            assert_clean(value)
            assert not isinstance(value, (np.ndarray, float)), value
    hospitals[2].requests[0].deny("no")
    assert request.status == "denied"
    clean(attacks.refuse(total.get, expect=unseen.CannotRequestPrivateData))


def test_one_denial_keeps_it_closed(
    hospitals: list[unseen.VirtualWorker], attacks: Attacks
) -> None:
    clients = [h.new_client("Eve") for h in hospitals[:2]]
    crypto = trusted_crypto(hospitals)
    a = clients[0].search("stays", verbose=False)[0].share(*clients, crypto_provider=crypto)
    b = clients[1].search("stays", verbose=False)[0].share(*clients, crypto_provider=crypto)
    mixed = (a * b).sum()
    mixed.request(name="product")
    hospitals[0].requests[0].accept()
    hospitals[1].requests[0].deny("private")
    clean(attacks.refuse(mixed.get, expect=unseen.CannotRequestPrivateData))
    again = mixed.request(name="product again")  # asking again makes a new pending request
    clean(attacks.refuse(mixed.get, expect=unseen.CannotRequestPrivateData))
    assert again.status in ("pending", "denied")
