"""A network node on loopback for the Duet tests (the rendezvous and relay live there)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import unseen


@pytest.fixture(scope="module")
def network(tmp_path_factory: Any) -> Iterator[Any]:
    net = unseen.launch_network(
        "Duet Net",
        port=0,
        data_dir=tmp_path_factory.mktemp("net"),
        owner_email="net@duet.org",
        owner_password="net-owner-pw",
    )
    yield net
    net.stop()
