"""The broadcasting attack of issue 12 as an outside scientist runs it: a real domain server
on loopback, a scientist with a budget of 1.0, every variant refused before any charge, and a
row-local query still answered."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import unseen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from server_support import ServerProcess  # noqa: E402


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("dp-domain") / "data", None)
    proc.start()
    yield proc
    proc.kill()


def test_broadcast_attack_over_http_is_refused_and_charges_nothing(domain: ServerProcess) -> None:
    owner = domain.login()
    owner.users.create(email="eve@lab.org", password="eve-pw-123", name="Eve",
                       role="data_scientist", budget=1.0)  # fmt: skip
    rng = np.random.default_rng(12)
    data = rng.uniform(0, 100, size=(1000, 5))
    ds = unseen.Dataset(name="Ward", tags=["#ward"])
    ds.add_asset(name="x", data=data, mock=np.zeros((10, 5)), bounds=(0, 100))
    ds.add_asset(name="p", data=data.copy(), mock=np.zeros((10, 5)), bounds=(0, 100),
                 public_rows=1000)  # fmt: skip
    owner.upload_dataset(ds)
    eve = unseen.login(url=domain.url, email="eve@lab.org", password="eve-pw-123")
    x, p = eve.datasets["Ward"]["x"], eve.datasets["Ward"]["p"]
    npx = unseen.np
    attacks = [
        (x[:, 0:1] * 0 + x[:, 3])[:, 0].mean(),
        npx.histogram((x[:, 0:1] * 0 + x[:, 3])[:, 0], bins=4, range=(0, 100)),
        npx.add(x[:, 0:1] * 0, x[:, 3]).mean(),
        npx.where(x[:, 0:1] > -1, x[:, 3], 0.0).mean(),
        (p[7:, 0:1] * 0 + p[7:, 3])[:, 0].mean(),  # row 7 targeted
    ]
    for pointer in attacks:
        with pytest.raises(unseen.CannotRequestPrivateData, match="Nothing was charged"):
            pointer.get(epsilon=0.1)
    assert eve.budget == pytest.approx(1.0)
    mean = (x[:, 0] + x[:, 3]).mean().get(epsilon=0.5)
    assert abs(mean - (data[:, 0] + data[:, 3]).mean()) < 5.0
    assert eve.budget == pytest.approx(0.5)
    eve.close()
    owner.close()
