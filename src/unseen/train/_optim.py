"""Optimizers on parameter pointers: SGD (momentum, Nesterov, weight decay), Adam and AdamW.

``step()`` records each parameter's update as vocabulary operations on the node (the same
arithmetic as torch's single-tensor implementation, so a remote run matches a local one) and
rebinds the ParameterPointer to the new value; state (momentum buffers, Adam's moments) is
pointers too. Nothing runs until a ``.get()`` / ``.compute()``: 100 steps are one graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from unseen.client import ParameterPointer, Pointer, RemoteFunction
from unseen.errors import UsageError

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "parameter_groups"]

_add = RemoteFunction("torch.add")
_lerp = RemoteFunction("torch.lerp")
_addcmul = RemoteFunction("torch.addcmul")
_addcdiv = RemoteFunction("torch.addcdiv")
_zeros_like = RemoteFunction("torch.zeros_like")


def parameter_groups(params: Any) -> list[dict[str, Any]] | None:
    """``params`` as torch's parameter groups if they are parameter pointers (a list of them,
    or of dicts with ``"params"``), else None (local tensors: torch's own optimizer)."""
    if isinstance(params, ParameterPointer):
        params = [params]
    if not isinstance(params, (list, tuple)) or not params:
        return None
    if all(isinstance(p, dict) for p in params):
        groups = [dict(g) for g in params]
        for group in groups:
            members = group.get("params")
            members = [members] if isinstance(members, ParameterPointer) else list(members or [])
            group["params"] = members
        if not all(isinstance(p, ParameterPointer) for g in groups for p in g["params"]):
            return None
        return groups
    if all(isinstance(p, ParameterPointer) for p in params):
        return [{"params": list(params)}]
    if any(isinstance(p, Pointer) for p in params):
        raise UsageError(
            "an optimizer on a node takes the parameters of a sent model "
            "(model_ptr.parameters()), not other pointers"
        )
    return None


class Optimizer:
    """The optimizers' common part: parameter groups, ``zero_grad`` and per-parameter state."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        groups = parameter_groups(list(params) if not isinstance(params, list) else params)
        if groups is None:
            raise UsageError(
                f"{type(self).__name__} takes the parameters of a sent model: "
                "model_ptr.parameters()"
            )
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            unknown = set(group) - set(defaults) - {"params"}
            if unknown:
                raise UsageError(f"{type(self).__name__} has no option {sorted(unknown)[0]!r}")
            self.param_groups.append({**defaults, **group})
        for group in self.param_groups:
            for param in group["params"]:
                if not param.requires_grad:
                    raise UsageError(f"{param.name} is a buffer: an optimizer takes parameters")
        self.state: dict[ParameterPointer, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``.grad`` becomes None, as with torch's default)."""
        self._check_trace()
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    def step(self, closure: Any = None) -> None:
        """Record one update of every parameter that has a gradient."""
        if closure is not None:
            raise UsageError(
                "step(closure) is not available on a node: call loss.backward() before step()"
            )
        self._check_trace()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    state = self.state.setdefault(param, {})
                    param._rebind(self._update(param, param.grad, state, group))

    def _check_trace(self) -> None:
        from unseen.train._plan import check_optimizer_in_trace

        check_optimizer_in_trace([p for g in self.param_groups for p in g["params"]])

    def _update(
        self, param: Pointer, grad: Pointer, state: dict[str, Any], group: dict[str, Any]
    ) -> Pointer:
        raise NotImplementedError

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        count = sum(len(g["params"]) for g in self.param_groups)
        return f"<unseen {type(self).__name__}({options}) of {count} parameter pointers>"


class SGD(Optimizer):
    """``torch.optim.SGD`` on parameter pointers (``maximize`` is not available)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        **unsupported: Any,
    ) -> None:
        _refuse(unsupported, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise UsageError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}  # fmt: skip
        super().__init__(params, defaults)

    def _update(
        self, param: Pointer, grad: Pointer, state: dict[str, Any], group: dict[str, Any]
    ) -> Pointer:
        if group["weight_decay"]:
            grad = _add(grad, param, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            buf = grad if buf is None else _add(buf * momentum, grad, alpha=1 - group["dampening"])
            state["momentum_buffer"] = buf
            grad = _add(grad, buf, alpha=momentum) if group["nesterov"] else buf
        return _add(param, grad, alpha=-group["lr"])


class Adam(Optimizer):
    """``torch.optim.Adam`` on parameter pointers (``amsgrad`` is not available yet)."""

    decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        **unsupported: Any,
    ) -> None:
        _refuse(unsupported, type(self).__name__)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update(
        self, param: Pointer, grad: Pointer, state: dict[str, Any], group: dict[str, Any]
    ) -> Pointer:
        lr, (beta1, beta2), eps, decay = (group[k] for k in ("lr", "betas", "eps", "weight_decay"))
        if decay:
            if self.decoupled:
                param = param * (1 - lr * decay)
            else:
                grad = _add(grad, param, alpha=decay)
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(param)
            state["exp_avg_sq"] = _zeros_like(param)
        state["step"] += 1
        step = float(state["step"])
        exp_avg = _lerp(state["exp_avg"], grad, 1 - beta1)
        exp_avg_sq = _addcmul(state["exp_avg_sq"] * beta2, grad, grad, value=1 - beta2)
        state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        denom = exp_avg_sq.sqrt() / bias_correction2**0.5 + eps
        return _addcdiv(param, exp_avg, denom, value=-step_size)


class AdamW(Adam):
    """``torch.optim.AdamW`` on parameter pointers: Adam with decoupled weight decay."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        **unsupported: Any,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, **unsupported)


def _refuse(options: dict[str, Any], name: str) -> None:
    """Options torch has that unseen does not run (at a value that changes something)."""
    for key, value in options.items():
        if key in ("foreach", "fused", "capturable", "differentiable") or value in (None, False):
            continue
        raise UsageError(f"{name}({key}={value!r}) is not available on a node")
