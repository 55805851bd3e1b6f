"""Shared data of the code-request tests: the private asset and its mock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import unseen

X = np.random.default_rng(7).normal(size=(40, 3))
X_MOCK = np.random.default_rng(8).normal(size=(40, 3))
ANA = ("ana@uni.edu", "ana-pw-123")


@dataclass
class Clinic:
    owner: unseen.Client  # the node's owner
    ana: unseen.Client  # a data scientist
    data: unseen.Pointer  # Ana's pointer to the private asset


def upload(owner: unseen.Client) -> None:
    ds = unseen.Dataset(name="Diabetes", description="patients", tags=["#diabetes"])
    ds.add_asset(name="data", data=X, mock=X_MOCK)
    owner.upload_dataset(ds)
