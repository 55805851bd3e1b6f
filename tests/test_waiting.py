"""Node work that takes more than a second shows a notice with the elapsed time (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

import unseen
from unseen.client import _waiting


def test_a_slow_computation_shows_a_notice(
    hospital: unseen.VirtualWorker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UNSEEN_PROGRESS", "1")
    monkeypatch.setattr(_waiting, "AFTER_S", 0.01)
    x = hospital.send(np.random.default_rng(0).random((400, 400)))
    y = x
    for _ in range(30):
        y = y @ x / 400
    y.get()
    err = capsys.readouterr().err
    assert "May Clinic is computing" in err and "done in" in err


def test_quick_calls_and_no_watcher_show_nothing(
    hospital: unseen.VirtualWorker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UNSEEN_PROGRESS", "1")
    (hospital.send(np.arange(3)) + 1).get()  # well under a second
    monkeypatch.setenv("UNSEEN_PROGRESS", "0")
    monkeypatch.setattr(_waiting, "AFTER_S", 0.0)
    (hospital.send(np.arange(3)) + 1).get()
    assert "computing" not in capsys.readouterr().err
