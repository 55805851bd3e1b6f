"""Fixtures for the protocol tests: one real domain server on loopback per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import unseen

OWNER_EMAIL = "owner@clinic.org"
OWNER_PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data: Path = tmp_path_factory.mktemp("protocol") / "data"
    with unseen.launch_domain(
        name="May Clinic",
        port=0,
        data_dir=data,
        owner_email=OWNER_EMAIL,
        owner_password=OWNER_PASSWORD,
    ) as running:
        yield running
