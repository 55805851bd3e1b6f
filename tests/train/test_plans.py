"""Plans (``@unseen.plan``) on a VirtualWorker: API.md's block, weights equal to the eager loop
and to torch, one message for 100 calls, a stable hash, refusals at trace and call time, the
node's checks of plan calls, and the release rule on a plan's outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from train_support import assert_same_weights, mlp, train_locally

import unseen
from unseen import ops

F = torch.nn.functional
SRC = str(Path(unseen.__file__).resolve().parents[1])


class Calls:
    """Counts the messages a session sends (and keeps graph.run bodies): instrumentation of
    the real connection, which still carries every message."""

    def __init__(self, client: unseen.Client) -> None:
        self.kinds: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        conn = client._conn
        original = conn.call

        def call(kind: str, body: Any = None) -> Any:
            self.kinds.append(kind)
            if kind == "graph.run":
                self.bodies.append(body)
            return original(kind, body)

        conn.call = call  # type: ignore[method-assign]


def test_api_md_plan_block(hook: Any) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data / 16, dtype=torch.float32)
    y = torch.tensor(digits.target)
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    x_ptr, y_ptr = X.send(hospital), y.send(hospital)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    model_ptr = model.send(hospital)

    @unseen.plan  # traced once on mocks, shipped once, re-run by id
    def train_step(model, x, y):  # type: ignore[no-untyped-def]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    assert "not traced yet" in str(train_step.graph)  # as written: before any call
    with pytest.raises(unseen.UsageError, match="not traced yet"):
        train_step.hash  # noqa: B018
    loss = train_step(model_ptr, x_ptr, y_ptr)
    graph = str(train_step.graph)
    assert graph.splitlines()[0] == f"plan train_step sha256:{train_step.hash}"
    for line in ("input x: tensor float32 (N, 64)", "input model.0.weight: parameter float32",
                 "torch.nn.functional.cross_entropy(", "torch.autograd.grad(",
                 "model.2.bias.grad = "):  # fmt: skip
        assert line in graph
    local = F.cross_entropy(model(X), y)
    local.backward()
    # one round trip for both (a loss fetched alone first is stored without its autograd
    # history: a gradient of it asked for later fails, in eager loops too)
    got_loss, got_grad = hospital.get_many([loss, model_ptr[0].weight.grad])
    torch.testing.assert_close(got_loss, local.detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(got_grad, model[0].weight.grad, atol=1e-6, rtol=0)


def _plan() -> unseen.Plan:
    @unseen.plan
    def train_step(model: Any, x: Any, y: Any) -> Any:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return train_step


def test_100_plan_calls_equal_the_eager_loop_in_one_message(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    x_ptr, y_ptr = X.send(hospital), y.send(hospital)
    model = mlp(4)
    eager_ptr, plan_ptr = model.send(hospital), model.send(hospital)
    eager_opt = torch.optim.SGD(eager_ptr.parameters(), lr=0.5)
    for _ in range(100):
        eager_opt.zero_grad()
        F.cross_entropy(eager_ptr(x_ptr), y_ptr).backward()
        eager_opt.step()
    eager = eager_ptr.get()

    train_step = _plan()
    calls = Calls(hospital)
    opt = torch.optim.SGD(plan_ptr.parameters(), lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        loss = train_step(plan_ptr, x_ptr, y_ptr)
        opt.step()
    assert calls.kinds == ["object.send"]  # the plan, once; the calls are recorded lazily
    trained = plan_ptr.get()
    assert calls.kinds == ["object.send", "graph.run"]  # 100 calls: one round trip
    shipped = calls.bodies[0]["actions"]
    names = [a.name for a in shipped]
    assert names.count(ops.PLAN_CALL) == 100
    assert "torch.nn.functional.cross_entropy" not in names  # by id, not the whole graph
    assert_same_weights(trained, eager, atol=1e-6)
    assert_same_weights(trained, train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5),
                                               X, y, 100), atol=1e-5)  # fmt: skip
    # the loss of the last call, after the 99 steps before it
    want = F.cross_entropy(train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5), X, y, 99)(X), y)  # fmt: skip
    torch.testing.assert_close(loss.get(), want.detach(), atol=1e-5, rtol=0)


def test_a_plan_with_its_optimizer_inside(hook: Any, digits: tuple[torch.Tensor, torch.Tensor]) -> None:  # fmt: skip
    X, y = digits
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = mlp(5)
    model_ptr = hospital.send(model)

    @unseen.plan
    def step(model: Any, x: Any, y: Any) -> Any:
        opt = torch.optim.SGD(model.parameters(), lr=0.3)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step(model_ptr, x_ptr, y_ptr)
        model_ptr.zero_grad()
    assert any(line.startswith("  model.0.weight = ") for line in step.graph)
    want = train_locally(model, lambda p: torch.optim.SGD(p, lr=0.3), X, y, 20)
    assert_same_weights(model_ptr.get(), want, atol=1e-5)


def test_gradients_accumulate_across_calls_as_eagerly(hook: Any) -> None:
    torch.manual_seed(0)
    X, y = torch.randn(8, 4), torch.randn(8, 1)
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = torch.nn.Linear(4, 1)
    model_ptr = hospital.send(model)

    @unseen.plan
    def backward_only(model: Any, x: Any, y: Any) -> None:
        F.mse_loss(model(x), y).backward()

    backward_only(model_ptr, x_ptr, y_ptr)
    backward_only(model_ptr, x_ptr, y_ptr)
    F.mse_loss(model(X), y).backward()
    F.mse_loss(model(X), y).backward()
    torch.testing.assert_close(model_ptr.weight.grad.get(), model.weight.grad, atol=1e-6, rtol=0)


_HASH_SCRIPT = """
import torch, unseen
F = torch.nn.functional
hook = unseen.TorchHook(torch)
node = unseen.VirtualWorker(name="n")
torch.manual_seed({seed})
model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
x_ptr, y_ptr = torch.rand(7, 64).send(node), torch.randint(0, 10, (7,)).send(node)

@unseen.plan
def train_step(model, x, y):
    loss = F.cross_entropy(model(x), y) * {scale}
    loss.backward()
    return loss

print(train_step.trace(model.send(node), x_ptr, y_ptr).hash)
"""


def _hash_in_a_new_process(seed: int, scale: str) -> str:
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONHASHSEED": str(seed)}
    script = textwrap.dedent(_HASH_SCRIPT.format(seed=seed, scale=scale))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def test_the_hash_is_stable_across_processes_and_changes_with_the_code() -> None:
    first = _hash_in_a_new_process(1, "1.0")
    assert len(first) == 64 and int(first, 16) >= 0
    # another process, other initial weights and data: the same code, the same hash
    assert _hash_in_a_new_process(2, "1.0") == first
    assert _hash_in_a_new_process(1, "2.0") != first  # one constant changed


def test_an_op_outside_the_vocabulary_is_refused_at_the_first_trace(hook: Any) -> None:
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr = hospital.send(torch.rand(4, 8))
    model_ptr = hospital.send(torch.nn.Linear(8, 8))

    @unseen.plan
    def spectral(model: Any, x: Any) -> Any:
        return torch.fft.fft(model(x))

    before = len(hospital._objects)
    with pytest.raises(unseen.OperationNotAllowed, match=r"plan spectral.*torch\.fft\.fft"):
        spectral(model_ptr, x_ptr)
    assert len(hospital._objects) == before  # nothing was sent
    with pytest.raises(unseen.OperationNotAllowed, match=r"torch\.fft\.fft"):
        spectral.trace(model_ptr, x_ptr)


def test_wrong_arity_and_shapes_at_call_time(hook: Any) -> None:
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(torch.rand(16, 64)), hospital.send(torch.randint(0, 10, (16,)))
    model_ptr = hospital.send(mlp())
    train_step = _plan()
    train_step(model_ptr, x_ptr, y_ptr)
    with pytest.raises(unseen.UsageError, match=r"plan train_step\(model, x, y\).*missing"):
        train_step(model_ptr, x_ptr)
    with pytest.raises(unseen.UsageError, match="too many"):
        train_step(model_ptr, x_ptr, y_ptr, y_ptr)
    narrow = hospital.send(torch.rand(16, 32))
    with pytest.raises(unseen.UsageError, match=r"x a tensor float32 \(N, 64\).*\(N, 32\)"):
        train_step(model_ptr, narrow, y_ptr)
    with pytest.raises(unseen.UsageError, match="x must be a pointer"):
        train_step(model_ptr, torch.rand(16, 64), y_ptr)
    with pytest.raises(unseen.UsageError, match="another model"):
        train_step(hospital.send(torch.nn.Linear(64, 10)), x_ptr, y_ptr)
    model_ptr.eval()
    with pytest.raises(unseen.UsageError, match="training mode"):
        train_step(model_ptr, x_ptr, y_ptr)
    model_ptr.train()
    # another batch size is fine: only the first dimension may change
    train_step(model_ptr, hospital.send(torch.rand(5, 64)), hospital.send(torch.zeros(5).long()))


def test_what_a_trace_refuses(hook: Any) -> None:
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(torch.rand(4, 8)), hospital.send(torch.rand(4, 2))
    model_ptr = hospital.send(torch.nn.Linear(8, 2))
    outside = torch.optim.SGD(model_ptr.parameters(), lr=0.1)
    offset = hospital.send(torch.ones(2))

    @unseen.plan
    def steps_outside(model: Any, x: Any, y: Any) -> Any:
        F.mse_loss(model(x), y).backward()
        outside.step()

    with pytest.raises(unseen.UsageError, match="optimizer made outside the plan"):
        steps_outside(model_ptr, x_ptr, y_ptr)

    @unseen.plan
    def captures(model: Any, x: Any) -> Any:
        return model(x) + offset

    with pytest.raises(unseen.UsageError, match="not one of its arguments"):
        captures(model_ptr, x_ptr)

    @unseen.plan
    def nothing(model: Any, x: Any) -> None:
        model(x)

    with pytest.raises(unseen.UsageError, match="returns nothing and changes nothing"):
        nothing(model_ptr, x_ptr)


def test_the_node_checks_what_a_plan_call_runs(hook: Any) -> None:
    """Planted violations: a plan whose stored graph holds an op outside the vocabulary, an
    object that is not a plan, and someone else's private object named as a plan."""
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr = hospital.send(torch.rand(3))

    def call(plan_id: str) -> Any:
        action = ops.Action(unseen.client.new_id(), "function", ops.PLAN_CALL,
                            (plan_id, (ops.Ref(x_ptr.id),)), {})  # fmt: skip
        return hospital.call("graph.run", {"actions": [action], "keep": [], "get": []})

    evil = ops.PlanGraph("evil", (("i0", "x", "tensor"),),
                         (ops.Action("a0", "function", "builtins.eval", ("1",), {}),),
                         (("returns", "a0"),))  # fmt: skip
    with pytest.raises(unseen.OperationNotAllowed, match="builtins.eval"):
        call(hospital.send(ops.encode_plan(evil)).id)
    with pytest.raises(unseen.UsageError, match="not a plan"):
        call(hospital.send(np.arange(5, dtype=np.uint8)).id)
    # a call whose derived id names an object that exists: refused where it would be stored
    double = ops.PlanGraph("double", (("i0", "x", "tensor"),),
                           (ops.Action("a0", "method", "__mul__", (ops.Ref("i0"), 2), {}),),
                           (("returns", "a0"),))  # fmt: skip
    plan_id = hospital.send(ops.encode_plan(double)).id
    call_id = unseen.client.new_id()
    hospital.call("object.send", {"id": f"{call_id}n0", "value": torch.zeros(3)})
    taken = ops.Action(call_id, "function", ops.PLAN_CALL, (plan_id, (ops.Ref(x_ptr.id),)), {})
    with pytest.raises(unseen.UsageError, match="exists already"):
        hospital.call("graph.run", {"actions": [taken], "keep": [f"{call_id}n0"], "get": []})
    fresh = ops.Action(unseen.client.new_id(), "function", ops.PLAN_CALL,
                       (plan_id, (ops.Ref(x_ptr.id),)), {})  # fmt: skip
    reply = hospital.call("graph.run", {"actions": [fresh], "keep": [], "get": [f"{fresh.id}n0"]})
    torch.testing.assert_close(reply["values"][0], x_ptr.get() * 2)
    # the node's action limit holds for what plan calls expand to, as they expand
    chain = tuple(ops.Action(f"a{j}", "method", "__mul__", (ops.Ref(f"a{j - 1}" if j else "i0"), 1), {})
                  for j in range(60))  # fmt: skip
    long_id = hospital.send(
        ops.encode_plan(ops.PlanGraph("long", double.inputs, chain, (("returns", "a59"),)))
    ).id
    hospital.node.limits = ops.Limits(max_actions=100)
    two = [ops.Action(unseen.client.new_id(), "function", ops.PLAN_CALL,
                      (long_id, (ops.Ref(x_ptr.id),)), {}) for _ in range(2)]  # fmt: skip
    with pytest.raises(unseen.OperationNotAllowed, match="limit of 100 actions"):
        hospital.call("graph.run", {"actions": two, "keep": [], "get": []})
    reply = hospital.call("graph.run", {"actions": two[:1], "keep": [], "get": [f"{two[0].id}n59"]})
    torch.testing.assert_close(reply["values"][0], x_ptr.get())


def test_plan_outputs_on_private_data_follow_the_release_rule(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X, y = digits
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    ds = unseen.Dataset(name="Digits", description="8x8 handwritten digits", tags=["#digits"])
    ds.add_asset(name="images", data=X, mock=torch.rand(50, 64))
    ds.add_asset(name="labels", data=y, mock=torch.randint(0, 10, (50,)))
    hospital.upload_dataset(ds)
    ana = hospital.new_client("Ana")
    images, labels = ana.search("#digits", verbose=False)
    model = mlp(6)
    model_ptr = model.send(ana)
    train_step = _plan()
    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.5)
    for _ in range(10):
        opt.zero_grad()
        loss = train_step(model_ptr, images, labels)
        opt.step()
    with pytest.raises(unseen.CannotRequestPrivateData):
        loss.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.get()
    with pytest.raises(unseen.CannotRequestPrivateData):
        model_ptr.parameters()[0].grad.get()
    request = model_ptr.request(name="mlp", reason="digits")
    assert request.plan_hashes == [train_step.hash]
    review = hospital.requests[0]
    assert review.plan_hashes == [train_step.hash]
    assert f"plan train_step sha256:{train_step.hash}" in review.graph
    review.accept()
    want = train_locally(model, lambda p: torch.optim.SGD(p, lr=0.5), X, y, 10)
    assert_same_weights(model_ptr.get(), want, atol=1e-5)


def test_batchnorm_running_statistics_and_tuple_results(hook: Any) -> None:
    torch.manual_seed(5)
    X, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 3),
    )  # fmt: skip
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model_ptr = hospital.send(model)

    @unseen.plan
    def step(model: Any, x: Any, y: Any) -> Any:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return loss, logits

    opt = torch.optim.SGD(model_ptr.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        loss, logits = step(model_ptr, x_ptr, y_ptr)
        opt.step()
    assert "  model.1.running_mean = " in str(step.graph)  # a buffer the plan changes
    make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731
    want = train_locally(model, make, X, y, 5)
    assert_same_weights(model_ptr.get(), want, atol=1e-5)  # running statistics included
    before = train_locally(model, make, X, y, 4)
    torch.testing.assert_close(logits.get(), before(X).detach(), atol=1e-5, rtol=0)


def test_a_sub_module_as_the_model(hook: Any) -> None:
    torch.manual_seed(1)
    X, y = torch.randn(8, 32), torch.randn(8, 10)
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = mlp(7)
    model_ptr = hospital.send(model)

    @unseen.plan
    def head(layer: Any, x: Any, y: Any) -> None:
        F.mse_loss(layer(x), y).backward()

    head(model_ptr[2], x_ptr, y_ptr)
    assert "  layer.weight.grad = a" in str(head.graph)  # names within the argument
    F.mse_loss(model[2](X), y).backward()
    got = hospital.get_many([model_ptr[2].weight.grad, model_ptr[2].bias.grad])
    torch.testing.assert_close(got[0], model[2].weight.grad, atol=1e-6, rtol=0)
    torch.testing.assert_close(got[1], model[2].bias.grad, atol=1e-6, rtol=0)
    assert model_ptr[0].weight.grad is None


def test_part_of_a_call_first_then_the_rest(hook: Any) -> None:
    """A result of a call fetched alone ships only the actions it needs (the call names
    their positions); the rest ships later."""
    torch.manual_seed(2)
    X, y = torch.randn(8, 64), torch.randint(0, 10, (8,))
    hospital = unseen.VirtualWorker(name="May Clinic")
    x_ptr, y_ptr = hospital.send(X), hospital.send(y)
    model = mlp(8)
    model_ptr = hospital.send(model)

    @unseen.plan
    def step(model: Any, x: Any, y: Any) -> Any:
        F.cross_entropy(model(x), y).backward()
        return x.mean(0)

    calls = Calls(hospital)
    means = step(model_ptr, x_ptr, y_ptr)
    torch.testing.assert_close(means.get(), X.mean(0), atol=1e-6, rtol=0)
    line = next(line for line in step.graph if ".mean(" in line)  # "  a0 = x.mean(0)"
    position = int(line.split("=")[0].strip()[1:])
    assert [a.kwargs for a in calls.bodies[-1]["actions"]] == [{"only": [position]}]
    F.cross_entropy(model(X), y).backward()
    got = model_ptr[0].weight.grad.get()
    torch.testing.assert_close(got, model[0].weight.grad, atol=1e-6, rtol=0)
    rest = calls.bodies[-1]["actions"][0].kwargs["only"]
    assert position not in rest and rest == sorted(rest)


def test_fetching_the_loss_each_step_keeps_the_gradients_right(
    hook: Any, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    """PySyft's habit, print(loss.get()) in the loop, eagerly and with a plan: the loss is
    computed (and kept) before its gradient ships, so the node computes it again with the
    gradient rather than differentiate a stored value (which gave zeros, or an error)."""
    X, y = digits
    X, y = X[:200], y[:200]
    hospital = unseen.VirtualWorker(hook, id="May Clinic")
    x_ptr, y_ptr = X.send(hospital), y.send(hospital)
    model = mlp(9)
    make = lambda p: torch.optim.SGD(p, lr=0.5)  # noqa: E731
    train_step = _plan()
    for use_plan in (False, True):
        model_ptr = model.send(hospital)
        opt = make(model_ptr.parameters())
        losses = []
        for _ in range(5):
            opt.zero_grad()
            if use_plan:
                loss = train_step(model_ptr, x_ptr, y_ptr)
            else:
                loss = F.cross_entropy(model_ptr(x_ptr), y_ptr)
                loss.backward()
            losses.append(float(loss.get()))
            opt.step()
        assert_same_weights(model_ptr.get(), train_locally(model, make, X, y, 5), atol=1e-5)
        assert losses[-1] < losses[0]
    # an intermediate on the gradient's path, fetched first
    model_ptr = model.send(hospital)
    hidden = model_ptr[0](x_ptr)
    F.cross_entropy(model_ptr[2](F.relu(hidden)), y_ptr).backward()
    torch.testing.assert_close(hidden.get(), model[0](X).detach(), atol=1e-6, rtol=0)
    F.cross_entropy(model(X), y).backward()
    got = model_ptr[0].weight.grad.get()
    torch.testing.assert_close(got, model[0].weight.grad, atol=1e-6, rtol=0)
