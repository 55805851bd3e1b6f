# ruff: noqa: E501, S102 (the blocks keep API.md's layout, and run by exec: API.md's own code)
"""API.md section 8 as written: both blocks, verbatim, run by ``exec`` over a VirtualWorker
and over a real domain server (SQLite and PostgreSQL), with oracles after each block: the
weights of the loop equal torch's own loop from the same initial weights, the weights of a
fit on private data leave only through the owner's approval, and the DP-SGD fit is released
without it and charged to the one ledger of queries and training."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from server_support import ServerProcess
from train_support import assert_same_weights

import unseen

LOOP_BLOCK = """
import torch, unseen
from sklearn.datasets import load_digits

hook = unseen.TorchHook(torch)
digits = load_digits()
X = torch.tensor(digits.data / 16, dtype=torch.float32)
y = torch.tensor(digits.target)
hospital = unseen.VirtualWorker(hook, id="May Clinic")
x_ptr, y_ptr = X.send(hospital), y.send(hospital)     # on a domain: pointers from ana.search(...)

model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
model_ptr = model.send(hospital)                      # also hospital.send(model); -> unseen.ModulePointer
opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
for step in range(100):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model_ptr(x_ptr), y_ptr)
    loss.backward()
    opt.step()
trained = model_ptr.get()             # owner of all inputs: released; a nn.Module with the new weights

@unseen.plan                          # traced once on mocks, shipped once, re-run by id
def train_step(model, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss
train_step.graph                      # the readable op graph an owner reviews; train_step.hash pins it
"""

FIT_BLOCK = """
model_ptr = model.send(ana)           # parameters on the domain, owned by Ana
history = model_ptr.fit(data, target, loss="cross_entropy", optimizer="sgd", lr=0.5,
                        epochs=5, batch_size=64)          # progress bar; returns per-epoch info
model_ptr.get()                                           # raises CannotRequestPrivateData (hint: DP or request)
trained = model_ptr.get(request_block=True, name="mlp", reason="digits classifier", timeout_secs=60)
dp_history = model_ptr.fit(data, target, loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=5,
                           batch_size=64,
                           dp=unseen.DPSGD(epsilon=3.0, delta=1e-5, max_grad_norm=1.0))
trained = model_ptr.get()             # DP-SGD model: released where the owner's policy allows DP
ana.budget                            # 3.0 less than before: one ledger for queries and training
"""

#: the line of the loop block that makes its node: on a domain the owner's session is the node
VIRTUAL_WORKER_LINE = 'hospital = unseen.VirtualWorker(hook, id="May Clinic")\n'
#: the line of the fit block that raises, as its comment says (run apart, under pytest.raises)
REFUSED_LINE = "model_ptr.get()                                           # raises"

API_MD = Path(__file__).resolve().parents[2].parent / "shared" / "API.md"


def test_the_blocks_are_api_md_s() -> None:
    """The copies above are section 8's blocks, where the design notes are at hand."""
    if not API_MD.exists():
        pytest.skip(f"{API_MD} is not here (it sits beside the repository)")
    section = API_MD.read_text().split("## 8.", 1)[1].split("\n## 9.", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```python")[1:]]
    assert blocks == [LOOP_BLOCK, FIT_BLOCK]


def local_loop(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    """The oracle of the loop block: the same 100 steps in torch, from the same weights."""
    local = copy.deepcopy(model)
    opt = torch.optim.SGD(local.parameters(), lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(local(X), y).backward()
        opt.step()
    return local


def check_loop_block(ns: dict[str, Any]) -> None:
    assert isinstance(ns["model_ptr"], unseen.ModulePointer)
    assert_same_weights(ns["trained"], local_loop(ns["model"], ns["X"], ns["y"]))
    graph = str(ns["train_step"].graph)
    assert graph.startswith("plan train_step") and "not traced" in graph  # traced at its first call


def test_loop_block_on_a_virtual_worker() -> None:
    ns: dict[str, Any] = {}
    try:
        exec(LOOP_BLOCK, ns)
        check_loop_block(ns)
        assert isinstance(ns["hospital"], unseen.VirtualWorker)
    finally:
        ns["hook"].unhook()


def test_loop_block_on_a_domain_server(server: ServerProcess) -> None:
    assert VIRTUAL_WORKER_LINE in LOOP_BLOCK
    owner = server.login()
    ns: dict[str, Any] = {"hospital": owner}
    try:
        exec(LOOP_BLOCK.replace(VIRTUAL_WORKER_LINE, ""), ns)
        check_loop_block(ns)
    finally:
        ns["hook"].unhook()
        owner.close()


def accept_when_asked(owner: unseen.Client) -> threading.Thread:
    """The owner's side: accept the first pending request (the weights of the plain fit)."""

    def decide() -> None:
        for _ in range(1200):
            pending = [r for r in owner.requests if r.status == "pending"]
            if pending:
                assert pending[0].name == "mlp" and "train.fit" in str(pending[0].graph)
                pending[0].accept()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=decide, daemon=True)
    thread.start()
    return thread


def upload_digits(owner: unseen.Client, X: torch.Tensor, y: torch.Tensor) -> None:
    owner.dp_settings(delta=1e-5)  # the node's delta: DP-SGD's delta may not exceed it
    ds = unseen.Dataset(name="Digits", description="8x8 handwritten digits", tags=["#digits"])
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64), public_rows=len(X))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)), public_rows=len(X))
    owner.upload_dataset(ds)


def run_fit_block(
    owner: unseen.Client, ana: unseen.Client, X: torch.Tensor, y: torch.Tensor
) -> None:
    """The fit block as Ana, the owner accepting her request, then the oracles."""
    assert REFUSED_LINE in FIT_BLOCK
    before, raising, after = FIT_BLOCK.partition(REFUSED_LINE)
    raising += after.split("\n", 1)[0]
    after = after.split("\n", 1)[1]
    data, target = ana.search("#digits", verbose=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    ns: dict[str, Any] = {"torch": torch, "unseen": unseen, "model": model, "ana": ana,
                          "data": data, "target": target}  # fmt: skip
    budget = ana.budget
    exec(before, ns)
    with pytest.raises(unseen.CannotRequestPrivateData, match="request"):
        exec(raising, ns)
    thread = accept_when_asked(owner)
    exec(after, ns)
    thread.join(timeout=5)

    history, dp_history, trained = ns["history"], ns["dp_history"], ns["trained"]
    assert len(history) == 5 and history.losses is None  # derived from the private digits
    assert dp_history.dp is not None and dp_history.dp.epsilon <= 3.0
    assert dp_history.dp.delta == 1e-5 and dp_history.losses is None
    spent = budget - ana.budget
    assert spent == pytest.approx(dp_history.dp.charged) and 2.9 < spent <= 3.0
    assert (trained(X).argmax(1) == y).float().mean().item() > 0.7
    assert [r.mechanism for r in ana.releases][-1] == "dp-sgd"
    rows = [r for r in owner.dp_spend if r.user_id == ana.user_id]  # the owner's spend view
    assert [r.dataset for r in rows] == ["Digits"]
    assert rows[0].charged == pytest.approx(dp_history.dp.charged)


def test_fit_block_on_a_virtual_worker(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    upload_digits(hospital, X, y)
    ana = hospital.new_client("Ana")
    hospital.users.update(ana.user_id, budget=10.0)
    run_fit_block(hospital, ana, X, y)


def test_fit_block_on_a_domain_server(server: ServerProcess, hook: Any,
                                      digits: tuple[torch.Tensor, torch.Tensor]) -> None:  # fmt: skip
    X, y = digits
    owner = server.login()
    upload_digits(owner, X, y)
    owner.users.create(email="ana@uni.edu", password="ana-pw-1234", name="Ana",
                       role="data_scientist", budget=10.0)  # fmt: skip
    ana = server.login("ana@uni.edu", "ana-pw-1234")
    try:
        run_fit_block(owner, ana, X, y)
    finally:
        ana.close()
        owner.close()
