"""Training on a node: module pointers, optimizers on parameter pointers, the torch hook.

``model.send(node)`` (with :class:`TorchHook`) or ``node.send(model)`` gives a
:class:`ModulePointer`; ``loss.backward()`` on a pointer records the gradients
(``unseen.ParameterPointer.grad``); :class:`SGD`, :class:`Adam` and :class:`AdamW` (also
reached as ``torch.optim.*`` under the hook) record the updates. All of it is one lazy graph,
shipped at ``.get()`` / ``.compute()``. :func:`plan` traces a function once into a graph
that a node stores and runs by id; ``model_ptr.fit(...)`` trains in one message
(:mod:`unseen.train._fit`), with DP-SGD when given ``dp=DPSGD(...)``. See docs/training.md.
"""

from __future__ import annotations

from unseen.train._fit import DPSGD, FitHistory, describe, on_fit_progress
from unseen.train._hook import TorchHook
from unseen.train._module import ModulePointer, send_module
from unseen.train._optim import SGD, Adam, AdamW, Optimizer
from unseen.train._plan import Plan, PlanView, plan

__all__ = [
    "DPSGD",
    "Adam",
    "AdamW",
    "FitHistory",
    "ModulePointer",
    "Optimizer",
    "Plan",
    "PlanView",
    "SGD",
    "TorchHook",
    "describe",
    "on_fit_progress",
    "plan",
    "send_module",
]
