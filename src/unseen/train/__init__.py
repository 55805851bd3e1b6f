"""Training on a node: module pointers, optimizers on parameter pointers, the torch hook.

``model.send(node)`` (with :class:`TorchHook`) or ``node.send(model)`` gives a
:class:`ModulePointer`; ``loss.backward()`` on a pointer records the gradients
(``unseen.ParameterPointer.grad``); :class:`SGD`, :class:`Adam` and :class:`AdamW` (also
reached as ``torch.optim.*`` under the hook) record the updates. All of it is one lazy graph,
shipped at ``.get()`` / ``.compute()``. :func:`plan` traces a function once into a graph
that a node stores and runs by id. See docs/training.md.
"""

from __future__ import annotations

from unseen.train._hook import TorchHook
from unseen.train._module import ModulePointer, send_module
from unseen.train._optim import SGD, Adam, AdamW, Optimizer
from unseen.train._plan import Plan, PlanView, plan

__all__ = [
    "Adam",
    "AdamW",
    "ModulePointer",
    "Optimizer",
    "Plan",
    "PlanView",
    "SGD",
    "TorchHook",
    "plan",
    "send_module",
]
