"""What each party and channel sees.

* A party's share alone is uniform, whatever the secret (chi-square on the top byte, and a
  homogeneity test between two very different secrets), for inputs, products and ReLU outputs.
* An instrumented Comm records every message: the dealer sends each party one seed and then
  talks to party 0 only; the orchestrator sends commands and public data, and receives shares
  only when it reveals; shares never travel between parties (only masked values do).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from unseen.mpc import LocalCluster
from unseen.mpc.comm import Message

N = 40_000


def _top_byte_counts(share: torch.Tensor, support: int = 64) -> np.ndarray:
    """Histogram of the top byte of shares that are uniform over [-2^(support-1), 2^(support-1))."""
    if support < 64:
        assert bool((share.abs() <= 2 ** (support - 1)).all())
    top = ((share >> (support - 8)) & 255).reshape(-1).numpy()
    return np.bincount(top, minlength=256)


def _shares(cluster: LocalCluster, x: Any) -> list[torch.Tensor]:
    cluster.sync()
    return [p.store[x.sid].clone() for p in cluster.party_runtimes]


@pytest.mark.parametrize("n_parties", [2, 3])
def test_each_share_is_uniform_and_independent_of_the_secret(n_parties: int) -> None:
    with LocalCluster(n_parties, timeout=30) as c:
        zeros = torch.zeros(N)
        big = torch.full((N,), 12345.678)
        views: dict[str, list[torch.Tensor]] = {}
        for name, secret in [("zeros", zeros), ("big", big)]:
            x = c.share(secret)
            views[name] = _shares(c, x)
            views[name + "*"] = _shares(c, x * x)
            views[name + "relu"] = _shares(c, (x - 1).relu())
        for kind in ["", "*", "relu"]:
            # Two-party local truncation floors each share: a function of a uniform ring
            # element, uniform over [-2^47, 2^47) and still independent of the secret.
            support = 48 if (kind == "*" and n_parties == 2) else 64
            for r in range(n_parties):
                a = _top_byte_counts(views["zeros" + kind][r], support)
                b = _top_byte_counts(views["big" + kind][r], support)
                assert stats.chisquare(a).pvalue > 1e-6
                assert stats.chisquare(b).pvalue > 1e-6
                assert stats.chi2_contingency(np.stack([a, b]))[1] > 1e-6
            if n_parties == 3:  # any two shares together are still uniform
                pair = views["big" + kind][0] + views["big" + kind][1]
                assert stats.chisquare(_top_byte_counts(pair, support)).pvalue > 1e-6


def _recording_cluster(n_parties: int) -> tuple[LocalCluster, list[tuple[int, int, Message]]]:
    log: list[tuple[int, int, Message]] = []
    cluster = LocalCluster(
        n_parties, timeout=30, taps=[lambda src, dst, msg: log.append((src, dst, msg))]
    )
    return cluster, log


@pytest.mark.parametrize("n_parties", [2, 3])
def test_channels_carry_only_what_they_should(n_parties: int) -> None:
    c, log = _recording_cluster(n_parties)
    dealer, orch = n_parties, n_parties + 1
    try:
        a = torch.randn(6, 5)
        b = torch.randn(5, 4)
        x, y = c.share(a), c.share(b)
        z = (x @ y).relu() * x[:, :4].sigmoid() + 1.5
        m = (x > 0.1) * x
        c.sync()
        x_shares = [p.store[x.sid].clone() for p in c.party_runtimes]
        y_shares = [p.store[y.sid].clone() for p in c.party_runtimes]
        n_before = len(log)
        z.get()
        m.get()
    finally:
        c.close()

    by_channel: dict[tuple[int, int], list[Message]] = defaultdict(list)
    for src, dst, msg in log:
        by_channel[(src, dst)].append(msg)

    # The dealer: one seed per party; afterwards corrections to party 0 only; no tensors to
    # the orchestrator.
    for r in range(n_parties):
        seeds = [m for m in by_channel[(dealer, r)] if m.tag == "seed"]
        assert len(seeds) == 1 and seeds[0].tensors[0].numel() == 16
        others = [m for m in by_channel[(dealer, r)] if m.tag != "seed"]
        if r == 0:
            assert others and all(m.tag.startswith("corr:") for m in others)
        else:
            assert others == []
    assert all(not m.tensors for m in by_channel[(dealer, orch)])
    assert all(not m.tensors for m in by_channel[(orch, dealer)])
    # Party 0 asks the dealer with public metadata only; the other parties never talk to it.
    assert all(m.tag == "req" and not m.tensors for m in by_channel[(0, dealer)])
    for r in range(1, n_parties):
        assert by_channel[(r, dealer)] == []

    # The orchestrator: commands out (tensors only for its own inputs and public values);
    # shares back only in the acknowledgements of the two reveals.
    for r in range(n_parties):
        for m in by_channel[(orch, r)]:
            assert m.tag == "cmd"
            if m.tensors:
                assert m.meta["op"] in {"input", "public", "add_public", "mul_public"}
        acks_with_tensors = [m for m in by_channel[(r, orch)] if m.tensors]
        assert len(acks_with_tensors) == 2
        assert all(m.tag == "ack" for m in by_channel[(r, orch)])
    assert not any(d == orch and m.tensors for _, d, m in log[:n_before])

    # Seeds appear nowhere but in their own message.
    seeds = {
        bytes(m.tensors[0].numpy().tobytes())
        for (s, _), ms in by_channel.items()
        if s == dealer
        for m in ms
        if m.tag == "seed"
    }
    for ms in by_channel.values():
        for m in ms:
            if m.tag == "seed":
                continue
            for t in m.tensors:
                raw = t.contiguous().numpy().tobytes()
                assert not any(seed in raw for seed in seeds)

    # Shares never travel between parties: only masked values do.
    shares = x_shares + y_shares
    for (s, d), ms in by_channel.items():
        if s < n_parties and d < n_parties:
            for m in ms:
                for t in m.tensors:
                    for sh in shares:
                        assert not (t.shape == sh.shape and torch.equal(t, sh))


def test_corrections_look_uniform() -> None:
    """What party 0 receives from the dealer for a product is masked by party 1's stream."""
    c, log = _recording_cluster(2)
    with c:
        x = c.share(torch.zeros(N))
        (x * x).get()
        corr = [m for s, d, m in log if s == 2 and d == 0 and m.tag.startswith("corr:")]
        assert corr
        assert stats.chisquare(_top_byte_counts(corr[0].tensors[0])).pvalue > 1e-6
