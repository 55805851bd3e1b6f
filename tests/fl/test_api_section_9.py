# ruff: noqa: E501, B018 (the block keeps API.md's layout and its bare expressions)
"""API.md section 9's cross-silo block, as written, over three real domain servers on SQLite
and on PostgreSQL: the only change is ``secure_aggregation=False`` (secure aggregation is
not available yet: ``True`` raises a UsageError naming standing approval and DP-SGD)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import unseen

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from silo_support import (  # noqa: E402
    accuracy,
    digits,
    fresh_pg_database,
    mlp,
    owners_accept,
    populate,
    start_domain,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[str], list[Any], Any]]:
    split = digits(3)
    with contextlib.ExitStack() as stack:
        databases = [
            None if request.param == "sqlite" else stack.enter_context(fresh_pg_database())
            for _ in range(3)
        ]
        servers = [
            start_domain(tmp_path / f"domain-{i}", name, db)
            for i, (name, db) in enumerate(
                zip(("May Clinic", "Mercy", "General"), databases, strict=True)
            )
        ]
        stack.callback(lambda: [s.kill() for s in servers])
        for server, part in zip(servers, split.parts, strict=True):
            populate(server, split.X[part], split.y[part])
        yield [s.url for s in servers], servers, split


def test_api_section_9_cross_silo_block(
    urls: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls, servers, split = urls
    monkeypatch.chdir(tmp_path)
    model = mlp()
    with owners_accept(servers):  # each owner accepts the one standing approval filed
        # -- API.md section 9, as written (secure_aggregation=False) --
        domains = [unseen.login(url=u, email="ana@uni.edu", password="ana-pw-123") for u in urls]
        data = [d.search("#digits")[0] for d in domains]
        target = [d.search("#digits-target")[0] for d in domains]

        result = unseen.fl.fit(
            model,
            data=data,
            target=target,
            loss="cross_entropy",
            optimizer="sgd",
            lr=0.5,
            local_epochs=1,
            batch_size=32,
            rounds=10,
            strategy=unseen.fl.FedAvg(fraction=1.0, min_clients=2),
            secure_aggregation=False,  # only the sum of updates is opened
            checkpoint="digits-fl.ckpt",
        )  # resumes from here if interrupted
        result.model  # the trained torch.nn.Module
        result.history.pandas  # per round: loss, accuracy, clients, bytes, seconds
        try:
            result.history.plot()  # loss and accuracy curves
        except unseen.UsageError as exc:  # matplotlib is an optional extra
            assert "matplotlib" in str(exc)
    assert isinstance(result.model, type(model))
    assert accuracy(result.model, split.X_test, split.y_test) > 0.85
    frame = result.history.pandas
    assert list(frame.index) == list(range(1, 11)) and (frame["clients"] == 3).all()
    assert (tmp_path / "digits-fl.ckpt.safetensors").exists() and (
        tmp_path / "digits-fl.ckpt.json"
    ).exists()
    # resumes from the checkpoint: all 10 rounds are done, nothing trains again
    again = unseen.fl.fit(
        model,
        data=data,
        target=target,
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.5,
        local_epochs=1,
        batch_size=32,
        rounds=10,
        checkpoint="digits-fl.ckpt",
    )
    for a, b in zip(again.model.parameters(), result.model.parameters(), strict=True):
        assert (a == b).all()
    with pytest.raises(unseen.UsageError, match="standing approval"):
        unseen.fl.fit(model, data=data, target=target, secure_aggregation=True)
    for d in domains:
        d.close()
