"""Fixtures for networks: one network node and three domains, all on loopback in this process.

The domains are real servers (``unseen.launch_domain``) with SQLite stores in temporary
directories; the network runs with owner approval and marks a domain offline after 1.5 s
without a heartbeat; domains beat every 0.2 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import unseen

NET_OWNER = ("net@research.org", "net-owner-pw")
ANA = ("ana@uni.edu", "ana-pw-123")
BEAT = 0.2

DOMAINS = [
    ("May Clinic", "#diabetes", "442 diabetes patients, 10 features", ["#diabetes", "#clinical"]),
    ("Oak Hospital", "#diabetes", "Type 2 diabetes cohort with blood glucose", ["#diabetes"]),
    ("Pine Lab", "#genomics", "Exome sequences of a rare disease study", ["#genomics"]),
]


def _domain(tmp: Any, name: str, description: str, tags: list[str]) -> dict[str, Any]:
    email, password = f"owner@{name.split()[0].lower()}.org", "owner-pw-123"
    running = unseen.launch_domain(
        name=name, data_dir=tmp / name.replace(" ", "-"), owner_email=email, owner_password=password
    )
    owner = unseen.login(url=running.url, email=email, password=password, verbose=False)
    ds = unseen.Dataset(name=f"{name} data", description=description, tags=tags)
    ds.add_asset(name="features", data=np.ones((8, 3)), mock=np.zeros((8, 3)))
    ds.add_asset(name="target", data=np.arange(8.0), mock=np.zeros(8))
    owner.upload_dataset(ds)
    owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist")
    return {"running": running, "owner": owner, "name": name}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    net = unseen.launch_network(
        name="Research Net",
        data_dir=tmp_path_factory.mktemp("network"),
        owner_email=NET_OWNER[0],
        owner_password=NET_OWNER[1],
        offline_after=1.5,
    )
    yield net
    net.stop()


@pytest.fixture(scope="module")
def domains(
    network: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("domains")
    made = [_domain(tmp, name, text, tags) for name, _, text, tags in DOMAINS]
    yield made
    for domain in made:
        domain["owner"].close()
        domain["running"].stop()


@pytest.fixture(scope="module")
def netowner(network: Any) -> Iterator[unseen.Client]:
    client = unseen.login(url=network.url, email=NET_OWNER[0], password=NET_OWNER[1], verbose=False)
    yield client
    client.close()


@pytest.fixture(scope="module")
def joined(
    network: Any, domains: list[dict[str, Any]], netowner: unseen.Client
) -> list[dict[str, Any]]:
    """The three domains registered and approved."""
    for domain in domains:
        result = domain["owner"].join_network(network.url, heartbeat_s=BEAT, description="test")
        assert result["status"] == "pending"
    for registration in netowner.registrations:
        registration.approve()
    return domains
