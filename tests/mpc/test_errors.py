"""Bad input and failures give clear errors, fast, and never a partial reconstruction."""

from __future__ import annotations

import time

import pytest
import torch

from unseen.errors import ProtocolError, UsageError
from unseen.mpc import LocalCluster, RangeWarning, check_roles
from unseen.mpc.comm import Message, decode_header, encode_header


def test_dealer_must_not_be_a_party() -> None:
    with pytest.raises(UsageError, match="crypto provider"):
        LocalCluster(["bob", "alice", "theo"], dealer="alice")
    bob, crypto = object(), object()
    with pytest.raises(UsageError, match="crypto provider"):
        check_roles([bob, crypto], crypto)
    with pytest.raises(UsageError, match="required"):
        check_roles([bob, crypto], None)


def test_parties_must_be_distinct_and_at_least_two() -> None:
    with pytest.raises(UsageError, match="distinct"):
        LocalCluster(["bob", "alice", "bob"])
    with pytest.raises(UsageError, match="at least 2"):
        LocalCluster(["bob"])
    node = object()
    with pytest.raises(UsageError, match="distinct"):
        check_roles([node, node], object())


def test_mismatched_shapes_are_usage_errors_and_leave_the_cluster_usable(
    cluster2: LocalCluster,
) -> None:
    x = cluster2.share(torch.ones(3, 4))
    y = cluster2.share(torch.ones(5))
    for bad in (
        lambda: x + y,
        lambda: x * y,
        lambda: x @ y,
        lambda: x - torch.ones(2),
        lambda: x.reshape(5, 5),
        lambda: x.sum(3),
    ):
        with pytest.raises(UsageError, match="shape|dimension"):
            bad()
    assert torch.equal((x + x).get(), torch.full((3, 4), 2.0))


def test_tensors_of_different_clusters_do_not_mix(
    cluster2: LocalCluster, cluster3: LocalCluster
) -> None:
    with pytest.raises(UsageError, match="different clusters"):
        cluster2.share(torch.ones(2)) + cluster3.share(torch.ones(2))


def test_values_outside_the_fixed_point_range(cluster2: LocalCluster) -> None:
    with pytest.raises(UsageError, match="fixed-point range"):
        cluster2.share(torch.tensor([1.0, 2.0**50]))
    with pytest.warns(RangeWarning):
        cluster2.share(torch.tensor([1e5]))


def test_dropped_party_raises_within_the_timeout() -> None:
    c = LocalCluster(3, timeout=1.0)
    try:
        x = c.share(torch.arange(10.0))
        assert torch.equal((x + 1).get(), torch.arange(10.0) + 1)
        c.drop_party(2)
        start = time.monotonic()
        with pytest.raises(ProtocolError, match="party 2") as info:
            (x * x).get()
        assert time.monotonic() - start < 6.0
        assert "timed out" in str(info.value) or "did not respond" in str(info.value)
        with pytest.raises(ProtocolError, match="failed earlier"):
            x.get()
    finally:
        c.close()


def test_dropped_dealer_is_named() -> None:
    c = LocalCluster(2, timeout=1.0)
    try:
        x = c.share(torch.arange(4.0))
        c.drop_party(2)  # endpoint 2 of a two-party cluster is the dealer
        start = time.monotonic()
        with pytest.raises(ProtocolError, match="dealer"):
            (x * x).get()
        assert time.monotonic() - start < 6.0
    finally:
        c.close()


def test_a_party_that_refuses_to_release_gets_nothing_revealed() -> None:
    refuse = lambda sid, args: False  # noqa: E731
    c = LocalCluster(2, timeout=5, release_policies=[None, refuse])
    try:
        x = c.share(torch.tensor([1.0, 2.0]))
        with pytest.raises(ProtocolError, match="did not release"):
            x.get()
    finally:
        c.close()


def test_inconsistent_shares_are_detected() -> None:
    c = LocalCluster(2, timeout=5)
    try:
        x = c.share(torch.ones(4))
        c.sync()
        c.party_runtimes[1].store[x.sid] = torch.zeros(5, dtype=torch.int64)  # a corrupted party
        with pytest.raises(ProtocolError, match="mismatched shapes"):
            (x * x).get()
    finally:
        c.close()


def test_closed_cluster() -> None:
    c = LocalCluster(2)
    x = c.share(torch.ones(2))
    c.close()
    with pytest.raises(UsageError, match="closed"):
        x.get()


def test_malformed_frames_are_protocol_errors() -> None:
    head, _ = encode_header(Message("t", {"a": 1}, [torch.zeros(3, dtype=torch.int64)]))
    tag, meta, specs = decode_header(head[8:])
    assert tag == "t" and meta == {"a": 1} and specs == [(torch.int64, [3])]
    for raw in [b"not json", b'{"tag": 1, "meta": {}, "t": []}', b'{"tag": "x", "meta": {}, "t": [["pickle", [1]]]}',
                b'{"tag": "x", "meta": {}, "t": [["int64", [-1]]]}', b'{"tag": "x", "meta": {}, "t": [["int64", [99999999999]]]}']:  # fmt: skip
        with pytest.raises(ProtocolError, match="malformed"):
            decode_header(raw)
    with pytest.raises(ProtocolError, match="dtype"):
        encode_header(Message("t", {}, [torch.zeros(2, dtype=torch.complex64)]))


def test_truth_value_of_a_secret_is_not_available(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.ones(1))
    with pytest.raises(UsageError, match="secret"):
        bool(x > 0)
    assert "MPCTensor(shape=(1,)" in repr(x) and "dealer" in repr(x)


def test_unavailable_devices_are_refused() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA"):
            LocalCluster(2, device="cuda")
    with pytest.raises(UsageError):
        LocalCluster(2, device="meta")


def test_bad_public_operands_fail_early(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.ones(2))
    with pytest.raises(UsageError, match="fixed-point range"):
        x * 1e30
    with pytest.raises(UsageError, match="NaN"):
        x + float("nan")
    assert torch.equal((x + 1).get(), torch.full((2,), 2.0))
