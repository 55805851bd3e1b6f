"""Orchestration: inputs owned by a party, reveals to one party, public values, pipelining."""

from __future__ import annotations

import torch

from unseen.mpc import LocalCluster


def test_a_data_owner_shares_its_own_input(cluster3: LocalCluster) -> None:
    secret = torch.tensor([[1.5, -2.0], [0.25, 8.0]])
    cluster3.party_runtimes[1].plain["hospital-data"] = secret  # what a node holds privately
    x = cluster3.share_from(1, "hospital-data", secret.shape)
    assert torch.equal((x * 2).get(), secret * 2)


def test_reveal_to_one_party_only(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.tensor([3.0, -4.0]))
    cluster2.reveal_to(x * x, 1, "result")
    cluster2.sync()
    assert torch.equal(
        cluster2.party_runtimes[1].plain["result"], torch.tensor([9.0, 16.0], dtype=torch.float64)
    )
    assert "result" not in cluster2.party_runtimes[0].plain


def test_public_values_and_freeing(cluster2: LocalCluster) -> None:
    p = cluster2.public(torch.tensor([1.0, 2.0]))
    x = cluster2.share(torch.tensor([10.0, 20.0]))
    assert torch.equal((p * x).get(), torch.tensor([10.0, 40.0]))
    stored = len(cluster2.party_runtimes[0].store)
    for _ in range(50):
        x + 1  # results dropped at once: the parties free them with the next command
    cluster2.sync()
    cluster2.sync()
    assert len(cluster2.party_runtimes[0].store) <= stored + 2


def test_long_pipelines_need_no_round_trips(cluster2: LocalCluster) -> None:
    x = cluster2.share(torch.ones(3))
    y = x
    for _ in range(200):
        y = y + x
    assert torch.equal(y.get(), torch.full((3,), 201.0))
