"""``torch.autograd.grad`` in the executor: gradients equal torch's, only the listed leaves
require grad, autograd's memory counts against the graph's limit, one tape across runs."""

from __future__ import annotations

import pytest
import torch

from unseen.errors import OperationNotAllowed
from unseen.ops import Action, ExecutionError, GradTape, Limits, Ref, execute

F = "torch.nn.functional."


def _step(prefix: str, w: str) -> list[Action]:
    """One SGD step of a linear classifier: loss, gradient, update."""
    return [
        Action(prefix + "z", "function", F + "linear", (Ref("x"), Ref(w))),
        Action(prefix + "loss", "function", F + "cross_entropy", (Ref(prefix + "z"), Ref("y"))),
        Action(prefix + "g", "function", "torch.autograd.grad", (Ref(prefix + "loss"), [Ref(w)])),
        Action(prefix + "g0", "method", "__getitem__", (Ref(prefix + "g"), 0)),
        Action(
            prefix + "w", "function", "torch.add", (Ref(w), Ref(prefix + "g0")), {"alpha": -0.5}
        ),
    ]


@pytest.fixture
def env() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randn(20, 4, generator=g), "w": torch.randn(3, 4, generator=g),
            "y": torch.randint(0, 3, (20,), generator=g)}  # fmt: skip


def _torch_sgd(env: dict[str, torch.Tensor], steps: int) -> torch.Tensor:
    w = env["w"].clone().requires_grad_()
    opt = torch.optim.SGD([w], lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(
            torch.nn.functional.linear(env["x"], w), env["y"]
        ).backward()
        opt.step()
    return w.detach()


def test_three_steps_equal_torch_and_come_back_detached(env: dict[str, torch.Tensor]) -> None:
    actions = _step("a", "w") + _step("b", "aw") + _step("c", "bw")
    out = execute(actions, env, keep={"cw", "ag0"})
    assert torch.equal(out["cw"], _torch_sgd(env, 3))
    assert not out["cw"].requires_grad and not out["ag0"].requires_grad
    assert not env["w"].requires_grad  # the node's value is never touched


def test_graphs_without_a_gradient_keep_no_history(env: dict[str, torch.Tensor]) -> None:
    tracked = {**env, "w": env["w"].clone().requires_grad_()}
    out = execute([Action("z", "function", F + "linear", (Ref("x"), Ref("w")))], tracked)
    assert not out["z"].requires_grad


def test_a_gradient_of_a_non_scalar_is_refused(env: dict[str, torch.Tensor]) -> None:
    actions = [
        Action("z", "function", F + "linear", (Ref("x"), Ref("w"))),
        Action("g", "function", "torch.autograd.grad", (Ref("z"), [Ref("w")])),
    ]
    with pytest.raises(ExecutionError) as info:
        execute(actions, env)
    assert "scalar" in str(info.value.original)


def test_one_tape_across_two_runs(env: dict[str, torch.Tensor]) -> None:
    """What a node does: the part the caller may read runs first (here w.t()), the rest after;
    the parameter is one leaf in both, so the gradient sees both parts."""
    first = [Action("wt", "method", "t", (Ref("w"),))]
    second = [
        Action("z", "method", "__matmul__", (Ref("x"), Ref("wt"))),
        Action("loss", "function", F + "cross_entropy", (Ref("z"), Ref("y"))),
        Action("g", "function", "torch.autograd.grad", (Ref("loss"), [Ref("w")])),
    ]
    tape = GradTape.of(first + second)
    assert tape is not None
    loaded = tape.load(env)
    part = execute(first, loaded, keep={"wt"}, tape=tape)
    out = execute(second, {**loaded, **part}, keep={"g"}, tape=tape)
    w = env["w"].clone().requires_grad_()
    torch.nn.functional.cross_entropy(env["x"] @ w.t(), env["y"]).backward()
    torch.testing.assert_close(out["g"][0], w.grad)
    # planted: without the shared tape the second run's leaf is another tensor
    with pytest.raises(ExecutionError):
        execute(second, {**env, **execute(first, env, keep={"wt"})}, keep={"g"})


def test_memory_autograd_holds_counts_until_the_gradient(env: dict[str, torch.Tensor]) -> None:
    big = {"x": torch.randn(1000, 256), "w": torch.randn(256, 256), "y": torch.zeros(1000).long()}
    chain = [Action("h0", "method", "__matmul__", (Ref("x"), Ref("w")))]
    for i in range(1, 6):  # each result dies at once, but autograd keeps what it saved
        chain.append(Action(f"h{i}", "function", "torch.tanh", (Ref(f"h{i - 1}"),)))
    chain.append(Action("loss", "method", "sum", (Ref("h5"),)))
    limits = Limits(max_graph_bytes=3 * 1000 * 256 * 4)  # three of the 1 MB activations
    without = execute(chain, big, keep={"loss"}, limits=limits)  # no gradient: freed at once
    assert without["loss"].ndim == 0
    grad = Action("g", "function", "torch.autograd.grad", (Ref("loss"), [Ref("w")]))
    with pytest.raises(OperationNotAllowed, match="MiB per graph"):
        execute([*chain, grad], big, keep={"g"}, limits=limits)
    roomy = Limits(max_graph_bytes=8 * 1000 * 256 * 4)
    assert execute([*chain, grad], big, keep={"g"}, limits=roomy)["g"][0].shape == (256, 256)
