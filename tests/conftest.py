"""Shared fixtures: an in-process node with an owner, a data scientist and a small dataset."""

from __future__ import annotations

import numpy as np
import pytest

import unseen


@pytest.fixture
def hospital() -> unseen.VirtualWorker:
    return unseen.VirtualWorker(name="May Clinic")


@pytest.fixture
def private_data() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.uniform(-0.2, 0.2, size=(40, 3))


@pytest.fixture
def with_dataset(hospital: unseen.VirtualWorker, private_data: np.ndarray) -> unseen.VirtualWorker:
    ds = unseen.Dataset(
        name="Diabetes", description="40 patients, 3 features", tags=["#diabetes", "#data"]
    )
    ds.add_asset(name="data", data=private_data, mock=np.zeros((10, 3)), bounds=(-0.2, 0.2))
    ds.add_asset(name="target", data=np.arange(40.0), mock=np.ones(10), bounds=(0.0, 40.0))
    hospital.upload_dataset(ds)
    return hospital


@pytest.fixture
def scientist(with_dataset: unseen.VirtualWorker) -> unseen.Client:
    return with_dataset.new_client("Ana")
