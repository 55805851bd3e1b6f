"""The seed walkthrough on the diabetes data, as a data owner and a data scientist."""

from __future__ import annotations

import threading

import numpy as np

import unseen


def load_diabetes() -> tuple[np.ndarray, np.ndarray, str]:
    """scikit-learn's diabetes data (it ships with the package: no download)."""
    from sklearn.datasets import load_diabetes as sk_load

    bunch = sk_load()
    return bunch.data, bunch.target, bunch.DESCR


def mock_like(data: np.ndarray, seed: int = 0) -> np.ndarray:
    """A public twin: each column drawn independently from a normal of declared scale."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.05, size=(100, *data.shape[1:])).clip(-0.2, 0.2)


def run_demo() -> None:
    X, y, description = load_diabetes()
    print("== The data owner starts a node and uploads the diabetes data")
    owner = unseen.VirtualWorker(name="May Clinic")
    ds = unseen.Dataset(name="Diabetes", description=description, tags=["#diabetes", "#data"])
    ds.add_asset(name="data", data=X, mock=mock_like(X), bounds=(-0.2, 0.2))
    ds.add_asset(name="target", data=y, mock=np.linspace(25.0, 346.0, 100), bounds=(25.0, 346.0))
    owner.upload_dataset(ds)

    print("\n== The data scientist searches, samples the mock and computes remotely")
    ana = owner.new_client("Ana")
    found = ana.search("#diabetes")
    data = found[0]
    print(repr(data))
    print("shape:", data.shape)
    print("sample of the mock:\n", np.round(data.sample(3), 4))
    try:
        data.get()
    except unseen.CannotRequestPrivateData as exc:
        print("\ndata.get() ->", type(exc).__name__ + ":", exc)
    m = data.mean(axis=0)
    print("\nm = data.mean(axis=0) ->", repr(m))

    print("\n== The scientist asks; the owner reviews and accepts")
    threading.Timer(0.5, _owner_accepts, args=(owner,)).start()
    value = m.get(request_block=True, name="mean", reason="To see the result", timeout_secs=30)
    print("released mean:", np.round(value, 5))
    assert np.allclose(value, X.mean(axis=0))
    print("\nDone. Next: unseen.VirtualWorker for experiments; see README for more.")


def _owner_accepts(owner: unseen.VirtualWorker) -> None:
    requests = owner.requests
    print(requests)
    for line in requests[0].graph:
        print("   ", line)
    requests[0].accept()
