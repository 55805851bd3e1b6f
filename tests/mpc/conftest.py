"""Fixtures for the MPC engine tests: in-process clusters of 2 and 3 parties (shared per
session: creating one is cheap, but their threads add up), and float64 oracles."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from unseen.mpc import LocalCluster

sys.path.insert(0, str(Path(__file__).parent))  # for mpc_helpers, in any import mode


@pytest.fixture(scope="session")
def cluster2() -> Iterator[LocalCluster]:
    with LocalCluster(2, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def cluster3() -> Iterator[LocalCluster]:
    with LocalCluster(3, timeout=30) as c:
        yield c


@pytest.fixture(params=[2, 3], ids=["2p", "3p"])
def cluster(
    request: pytest.FixtureRequest, cluster2: LocalCluster, cluster3: LocalCluster
) -> LocalCluster:
    return cluster2 if request.param == 2 else cluster3
