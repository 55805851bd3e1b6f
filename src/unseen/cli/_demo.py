"""The seed walkthrough on the diabetes data, over HTTP against a real domain server.

``unseen demo`` launches a domain on embedded defaults (SQLite and blobs in a fresh temporary
directory), uploads scikit-learn's diabetes data as its owner, creates a data scientist, and
runs the walkthrough as that scientist: search, sample, a remote mean, a refused ``.get()``,
a request the owner accepts from another thread, and the released result.
"""

from __future__ import annotations

import tempfile
import threading
from typing import TYPE_CHECKING

import numpy as np

from unseen.client import Client, Dataset, login
from unseen.errors import BudgetExhausted, CannotRequestPrivateData
from unseen.server import launch_domain

if TYPE_CHECKING:
    from unseen.server import RunningDomain

ANA_EMAIL = "ana@uni.edu"
ANA_PASSWORD = "ana-demo-pw"


FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
#: declared public bounds of each feature in its own units (not computed from the data)
BOUNDS: list[tuple[float, float]] = [
    (18, 80), (1, 2), (15, 45), (60, 140), (90, 310), (40, 250), (20, 100), (2, 10), (3, 6.2),
    (55, 125),
]  # fmt: skip


def load_diabetes() -> tuple[np.ndarray, np.ndarray, str]:
    """scikit-learn's diabetes data in its own units (it ships with the package: no
    download): age in years, sex 1 or 2, BMI, blood pressure, six blood serum values."""
    from sklearn.datasets import load_diabetes as sk_load

    bunch = sk_load(scaled=False)
    return bunch.data, bunch.target, bunch.DESCR


def mock_like(data: np.ndarray, seed: int = 0) -> np.ndarray:
    """A public twin: each column drawn independently and uniformly within its declared
    bounds (sex as 1 or 2)."""
    rng = np.random.default_rng(seed)
    low, high = (np.array(b, dtype=float) for b in zip(*BOUNDS))
    mock = rng.uniform(low, high, size=(100, len(BOUNDS)))
    mock[:, 1] = rng.integers(1, 3, size=100)
    return mock.round(2)


def run_demo() -> None:
    X, y, description = load_diabetes()
    with tempfile.TemporaryDirectory(prefix="unseen-demo-") as data_dir:
        print("== The data owner launches a domain node")
        node = launch_domain(name="May Clinic", port=0, data_dir=data_dir)
        try:
            print(f"   running at {node.url} (data in {data_dir})")
            _walkthrough(node, X, y, description)
        finally:
            node.stop()


def _walkthrough(node: RunningDomain, X: np.ndarray, y: np.ndarray, description: str) -> None:
    assert node.owner_password is not None
    owner = login(url=node.url, email=node.owner_email, password=node.owner_password)
    print("\n== The owner uploads the diabetes data and creates an account for Ana")
    ds = Dataset(name="Diabetes", description=description, tags=["#diabetes", "#data"])
    ds.add_asset(name="data", data=X, mock=mock_like(X), bounds=BOUNDS)
    ds.add_asset(
        name="target",
        data=y,
        mock=np.linspace(25.0, 346.0, 100),
        bounds=(25.0, 346.0),
        public_rows=len(y),
    )
    owner.upload_dataset(ds)
    owner.users.create(
        email=ANA_EMAIL, password=ANA_PASSWORD, name="Ana", role="data_scientist", budget=1.0
    )

    print("\n== The data scientist logs in, searches, samples the mock and computes remotely")
    ana = login(url=node.url, email=ANA_EMAIL, password=ANA_PASSWORD)
    found = ana.search("#diabetes")
    data = found[0]
    print(repr(data))
    print("shape:", data.shape)
    print("sample of the mock (columns:", ", ".join(FEATURES) + "):\n", data.sample(3))
    try:
        data.get()
    except CannotRequestPrivateData as exc:
        print("\ndata.get() ->", type(exc).__name__ + ":", exc)
    m = data.mean(axis=0)
    print("\nm = data.mean(axis=0) ->", repr(m))

    print("\n== The scientist asks; the owner reviews and accepts")
    threading.Timer(0.5, _owner_accepts, args=(owner,)).start()
    value = m.get(request_block=True, name="mean", reason="To see the result", timeout_secs=30)
    print("released mean:")
    print("  ".join(f"{n} {v:.1f}" for n, v in zip(FEATURES, value)))
    assert np.allclose(value, X.mean(axis=0))
    print(ana.requests)

    print("\n== A differentially private answer, charged to Ana's privacy budget")
    target = found[1] if found[1].tags[-1] == "#target" else ana.search("#target", verbose=False)[0]
    print("budget before:", round(ana.budget, 3))
    noisy = target.mean().get(epsilon=0.5)
    print(f"target.mean().get(epsilon=0.5) -> {float(noisy):.2f} (true mean {y.mean():.2f})")
    print("budget after:", round(ana.budget, 3))
    try:
        target.mean().get(epsilon=5.0)
    except BudgetExhausted as exc:
        print("target.mean().get(epsilon=5.0) ->", type(exc).__name__ + ":", exc)
    ana.close()
    owner.close()
    print(
        '\nDone. Next: `unseen launch domain --name "May Clinic"` for a node of your own; see README.'
    )


def _owner_accepts(owner: Client) -> None:
    requests = owner.requests
    print(requests)
    for line in requests[0].graph:
        print("   ", line)
    requests[0].accept()
