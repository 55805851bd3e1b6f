"""Whether a private value could be loaded into an MPC session must not show (issue 12, class 3).

Attack: ``mpc.input`` on a result the scientist may not read answered differently depending on
private facts: a failed private step (RemoteError at once), a private row count other than the
shape she declares (UsageError: a binary search on a filter's count), a value outside the
fixed-point range or not finite (UsageError: a bit on private magnitudes). Stopped in
unseen/node/_mpc.py (``load_input`` loads zeros of the declared shape instead and marks the
input poisoned) and unseen/node/_mpc_party.py (the poison rides the lineage the release rule
uses; a release of anything derived from it fails with the generic error).

VirtualWorker hospitals that trust each other and the crypto provider; Ana is the scientist.
Oracle: numpy on the hospitals' data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch

import unseen
from unseen.client._mpc import close_sessions

#: the same graph is run on both hospitals' data: it fails / changes shape / leaves the
#: fixed-point range on South's and not on North's
NORTH = np.array([1.0, 2.0, 3.0, 4.0])
SOUTH = np.array([-1.0, 5.0, 500.0, 7.0])
SECRETS = ("500", "-1", "5e+14", "5.0e", "5000")

# North's 4e12 is far above what products of shares allow; these tests only add
pytestmark = pytest.mark.filterwarnings("ignore::unseen.mpc.encoding.RangeWarning")


def _fails(col: Any) -> Any:
    """An index out of range on South (a negative value), on North ``col[0]``."""
    idx = (col.min() < 0).astype("int64") * 100  # the mock (zeros): 0
    return col[idx] + col.sum()


def _private_shape(col: Any) -> Any:
    """A filter: 4 rows on North and on the mock, 3 on South."""
    return col[col >= 0] * 2.0


def _out_of_range(col: Any) -> Any:
    """Values of 1e12 scale: 4e12 on North; 5e14 on South, outside |x| < 2^46."""
    return col * 1e12


CONDITIONS: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], Any]]] = {
    "failed": (_fails, lambda a: a[0] + a.sum()),
    "shape": (_private_shape, lambda a: a[a >= 0] * 2.0),
    "range": (_out_of_range, lambda a: a * 1e12),
}


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_sessions()


@pytest.fixture
def world() -> dict[str, Any]:
    hospitals = []
    for name, data in (("North", NORTH), ("South", SOUTH)):
        h = unseen.VirtualWorker(name=name)
        ds = unseen.Dataset(name="stays", description="days")
        ds.add_asset(name="stays", data=data.reshape(-1, 1), mock=np.zeros((4, 1)))
        h.upload_dataset(ds)
        hospitals.append(h)
    crypto = unseen.VirtualWorker(name="crypto")
    for h in hospitals:
        h.mpc.trust(dealer=crypto)
        h.mpc.trust(party=hospitals[1] if h is hospitals[0] else hospitals[0])
    ana = [h.new_client("Ana") for h in hospitals]
    cols = [c.search("stays", verbose=False)[0][:, 0] for c in ana]
    return {"hospitals": hospitals, "crypto": crypto, "ana": ana, "cols": cols}


def _accept_all(hospitals: list[unseen.VirtualWorker]) -> None:
    for h in hospitals:
        for r in h.requests:
            if r.status == "pending":
                r.accept()


def _clean(exc: BaseException) -> None:
    text = str(exc)
    assert "details withheld" in text, text
    for secret in SECRETS:
        assert secret not in text, text


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_a_private_input_that_cannot_load_answers_like_one_that_can(
    world: dict[str, Any], condition: str, caplog: pytest.LogCaptureFixture
) -> None:
    step, oracle = CONDITIONS[condition]
    ana, crypto, hospitals = world["ana"], world["crypto"], world["hospitals"]
    good, bad = step(world["cols"][0]), step(world["cols"][1])
    assert good.shape == bad.shape  # the public (mock) shape: the same for both

    # sharing and computing on both: no exception, the same replies
    shared = [p.share(*ana, crypto_provider=crypto) for p in (good, bad)]
    session = shared[0].cluster.session
    replies = [
        a.call("mpc.input", {"session": session, "object_id": p.id, "name": f"probe{i}",
                             "shape": list(p.shape)})
        for i, (a, p) in enumerate(zip(ana, (good, bad)))
    ]  # fmt: skip
    assert replies[0] == replies[1], replies
    results = [(s + s + 1.0).sum() for s in shared]  # additions: exact even at 1e12
    assert [r.shape for r in results] == [results[0].shape] * 2
    for r in results:  # before any release: the same refusal
        with pytest.raises(unseen.CannotRequestPrivateData):
            r.get()
    requests = [r.request(name=f"total {i}", reason="study") for i, r in enumerate(results)]
    assert [len(q.requests) for q in requests] == [1, 1]
    mine = unseen.share(torch.tensor([1.0, 2.0, 3.0]), *ana, crypto_provider=crypto)
    mine_total = (mine * mine).sum()
    _accept_all(hospitals)

    # the good one opens to the plaintext oracle; the scientist's own values reveal as usual
    expected = float(np.sum(oracle(NORTH) * 2.0 + 1.0))
    assert results[0].get().item() == pytest.approx(expected, rel=1e-6)
    assert mine_total.get().item() == pytest.approx(14.0, abs=1e-3)
    # the poisoned one fails at the release, with the generic error of a failed private step
    with pytest.raises(unseen.RemoteError) as info:
        results[1].get()
    _clean(info.value)
    # the owner's log says what happened (twice: the stand-in, and the refused release)
    said = [r.getMessage() for r in caplog.records if r.name == "unseen.node"]
    assert any("loads as zeros" in m for m in said), said
    assert any("was not released" in m for m in said), said


def test_a_stand_in_is_never_revealed(world: dict[str, Any]) -> None:
    """Zeros times anything is the true answer of ``x * 0``: it must fail all the same, as
    must the input itself and anything it is mixed into, once every owner accepted."""
    ana, crypto, hospitals = world["ana"], world["crypto"], world["hospitals"]
    north, south = world["cols"]
    makers: list[Callable[[Any, Any], Any]] = [
        lambda g, b: b,
        lambda g, b: b * 0.0,
        lambda g, b: (g + b * 0.0).sum(),
    ]
    for make in makers:
        good = north.share(*ana, crypto_provider=crypto)
        bad = _fails(south).share(*ana, crypto_provider=crypto)
        c = make(good, bad)
        c.request(name="x", reason="study")
        _accept_all(hospitals)
        with pytest.raises(unseen.RemoteError) as info:
            c.get()
        _clean(info.value)
        close_sessions()  # a failed reveal ends the session


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_values_the_caller_may_read_keep_their_clear_errors(
    world: dict[str, Any], condition: str
) -> None:
    """The hospitals' owners share their own results: the errors say what is wrong."""
    hospitals, crypto = world["hospitals"], world["crypto"]
    south = hospitals[1].search("stays", verbose=False)[0][:, 0]
    bad = CONDITIONS[condition][0](south)
    expect: dict[str, tuple[type[Exception], str]] = {
        "failed": (unseen.RemoteError, "failed on the node"),
        "shape": (unseen.UsageError, "shape"),
        "range": (unseen.UsageError, "fixed-point range"),
    }
    kind, match = expect[condition]
    with pytest.raises(kind, match=match):
        bad.share(*hospitals, crypto_provider=crypto)


def test_a_declared_shape_is_checked_before_zeros_are_made(world: dict[str, Any]) -> None:
    """The stand-in has the declared shape: a huge or negative one is refused up front (it
    depends on the request only), instead of allocating it on the node."""
    ana, crypto = world["ana"], world["crypto"]
    south = world["cols"][1]
    session = south.share(*ana, crypto_provider=crypto).cluster.session
    for shape, match in (([10**6, 10**6], "larger than this node allows"), ([-1], "non-negative")):
        with pytest.raises(unseen.UsageError, match=match):
            ana[1].call(
                "mpc.input",
                {"session": session, "object_id": south.id, "name": "n", "shape": shape},
            )


def test_sharing_a_private_value_warns_nothing_about_its_magnitude(world: dict[str, Any]) -> None:
    # a RangeWarning on a party printed the private maximum ("value 5e+14 exceeds ...")
    import warnings

    ana, crypto = world["ana"], world["crypto"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shared = (world["cols"][0] * 1e7).share(*ana, crypto_provider=crypto)
        shared = shared + shared
        shared.cluster.wait()
    for warning in caught:
        assert "4e+07" not in str(warning.message) and "40000000" not in str(warning.message)
