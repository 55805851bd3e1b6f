"""A fit's progress comes from the node while it runs: the bar and the listeners of
``unseen.train.on_fit_progress`` see the epochs before the reply, over a VirtualWorker and a
domain server's WebSocket; the loss only where the caller may read it, and only the caller
who started a fit sees its progress."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import torch
from server_support import ServerProcess
from train_support import mlp

import unseen
from unseen.messages.training import (
    TRAIN_FIT,
    TRAIN_PROGRESS,
    FitEpoch,
    FitProgressRequest,
    FitRequest,
)

EPOCHS = 8


def watched_fit(model_ptr: unseen.ModulePointer, data: Any, target: Any,
                **options: Any) -> tuple[list[tuple[bool, FitEpoch, int]], Any]:  # fmt: skip
    """The events (told by a poll of the node while the fit ran?, epoch, of how many), and
    the fit's history."""
    events: list[tuple[bool, FitEpoch, int]] = []

    def listen(epoch: FitEpoch, epochs: int) -> None:
        polled = threading.current_thread() is not threading.main_thread()
        events.append((polled, epoch, epochs))

    with unseen.train.on_fit_progress(listen):
        history = model_ptr.fit(data, target, lr=0.1, epochs=EPOCHS, batch_size=8, **options)
    return events, history


def check_live(events: list[tuple[bool, FitEpoch, int]]) -> None:
    assert [e.epoch for _, e, _ in events] == list(range(1, EPOCHS + 1))  # each once, in order
    assert {n for _, _, n in events} == {EPOCHS}
    # the polls told epochs while the fit ran (the reply tells only those they missed)
    live = [e.epoch for polled, e, _ in events if polled]
    assert live and live[0] < EPOCHS


def test_the_epochs_come_while_the_fit_runs(hook: Any, digits: Any, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    X, y = digits
    monkeypatch.setenv("UNSEEN_PROGRESS", "1")
    worker = unseen.VirtualWorker(hook, id="progress")
    model_ptr = mlp().send(worker)
    events, history = watched_fit(model_ptr, X.send(worker), y.send(worker), seed=0)
    check_live(events)
    # your own data: each epoch's loss, the history's, and on the bar
    assert [e.loss for _, e, _ in events] == history.losses
    err = capsys.readouterr().err
    assert f"{EPOCHS}/{EPOCHS}" in err and "loss=" in err


def private_digits(owner: unseen.Client, X: torch.Tensor, y: torch.Tensor) -> None:
    ds = unseen.Dataset(name="Digits", description="8x8 digits", tags=["#digits"])
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)))
    owner.upload_dataset(ds)


def test_on_private_data_the_progress_shows_no_loss(hook: Any, digits: Any) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="progress-private")
    private_digits(worker, X, y)
    ana = worker.new_client("Ana")
    data, target = ana.search("#digits", verbose=False)
    events, history = watched_fit(mlp().send(ana), data, target)
    check_live(events)
    assert history.losses is None
    assert all(e.loss is None and e.steps is None for _, e, _ in events)  # steps tell the rows


def test_only_the_caller_sees_a_fits_progress(hook: Any, digits: Any) -> None:
    X, y = digits
    worker = unseen.VirtualWorker(hook, id="progress-others")
    ana, bob = worker.new_client("Ana"), worker.new_client("Bob")
    model_ptr = mlp().send(ana)
    x_ptr, y_ptr = X.send(ana), y.send(ana)
    entries = model_ptr._entries()
    request = FitRequest(architecture=unseen.train.describe(model_ptr._module),
                         names=[n for n, _ in entries], parameters=[p.id for _, p in entries],
                         data=x_ptr.id, target=y_ptr.id, loss="cross_entropy", optimizer="sgd",
                         lr=0.1, epochs=EPOCHS, batch_size=8, seed=0,
                         progress="ana-fit")  # fmt: skip
    thread = threading.Thread(target=lambda: ana.ask(TRAIN_FIT, request))
    thread.start()
    seen_by_ana, seen_by_bob = [], []
    while thread.is_alive():
        seen_by_ana.append(ana.ask(TRAIN_PROGRESS, FitProgressRequest(fit="ana-fit")))
        seen_by_bob.append(bob.ask(TRAIN_PROGRESS, FitProgressRequest(fit="ana-fit")))
        time.sleep(0.02)
    thread.join()
    assert any(p.running and p.epochs == EPOCHS for p in seen_by_ana)
    assert not any(p.running or p.done for p in seen_by_bob)  # Bob's name for it finds nothing
    ended = ana.ask(TRAIN_PROGRESS, FitProgressRequest(fit="ana-fit"))
    assert not ended.running and ended.done == []  # forgotten once the fit answered
    with pytest.raises(unseen.UsageError, match="progress name has 1 to 64 characters"):
        ana.ask(TRAIN_PROGRESS, FitProgressRequest(fit="x" * 65))


def test_the_epochs_come_over_a_domain_server(server: ServerProcess, hook: Any,
                                             digits: Any) -> None:  # fmt: skip
    X, y = digits
    owner = server.login()
    try:
        events, _ = watched_fit(mlp().send(owner), X.send(owner), y.send(owner), seed=0)
        check_live(events)
    finally:
        owner.close()
