"""History: rounds in order, the DataFrame, the JSON round trip, the rich table and the plot."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from unseen.errors import UsageError
from unseen.fl import History


def sample() -> History:
    h = History()
    h.add(round=1, clients=3, failed=1, loss=2.0, accuracy=0.5, bytes=100, seconds=0.5, train_loss=2.2)  # fmt: skip
    h.add(round=2, clients=4, loss=1.0, bytes=120, seconds=0.4)
    return h


def test_rounds_grow_and_the_frame_has_one_row_each() -> None:
    h = sample()
    with pytest.raises(UsageError, match="rounds only grow"):
        h.add(round=2, clients=1)
    frame = h.pandas
    assert frame.index.tolist() == [1, 2]
    assert frame.loc[1, "failed"] == 1 and frame.loc[2, "clients"] == 4
    assert frame.loc[1, "train_loss"] == 2.2 and math.isnan(frame.loc[2, "train_loss"])
    assert math.isnan(frame.loc[2, "accuracy"]) and h.loss == [2.0, 1.0]
    assert "round 2" in repr(h) and "loss 1" in repr(h)


def test_json_round_trip() -> None:
    h = sample()
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back.to_dict() == h.to_dict() and back[0].metrics == {"train_loss": 2.2}


def test_rich_table_lists_every_round() -> None:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(sample())
    text = console.export_text()
    assert "History (2 rounds)" in text and "train_loss" in text and "120" in text


def test_plot_draws_or_says_what_is_missing() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(UsageError, match="needs matplotlib"):
            sample().plot()
    else:
        import matplotlib

        matplotlib.use("Agg")
        axes = sample().plot()
        assert [a.get_ylabel() for a in axes] == ["loss", "accuracy"]
        assert list(axes[0].lines[0].get_ydata()) == [2.0, 1.0]
