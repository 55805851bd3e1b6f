"""unseen: remote data science, learning from data you cannot see.

Nothing runs on import and no heavy library is imported: the names below load on first use.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

from unseen._version import __version__
from unseen.errors import (
    AuthError,
    BudgetExhausted,
    CannotRequestPrivateData,
    DecodeError,
    NotFound,
    OperationNotAllowed,
    PermissionDenied,
    ProtocolError,
    QuotaExceeded,
    RemoteError,
    RequestDenied,
    RequestTimeout,
    TooManyAttempts,
    TooManyRequests,
    TransportError,
    UnseenError,
    UsageError,
)

if TYPE_CHECKING:
    from unseen import fl as fl
    from unseen.client import (
        Client,
        CodeFunction,
        Dataset,
        GridClient,
        Job,
        Namespace,
        ParameterPointer,
        Pointer,
        Request,
        SearchResults,
        VirtualWorker,
        connect_network,
        function,
        login,
        share,
    )
    from unseen.duet import join_duet, launch_duet
    from unseen.network import launch_network
    from unseen.server import launch_domain
    from unseen.train import DPSGD, ModulePointer, Plan, TorchHook, plan

    np: Namespace
    torch: Namespace
    pd: Namespace

_LAZY = {
    "Client": "unseen.client",
    "CodeFunction": "unseen.client",
    "Job": "unseen.client",
    "function": "unseen.client",
    "Dataset": "unseen.client",
    "Pointer": "unseen.client",
    "Request": "unseen.client",
    "SearchResults": "unseen.client",
    "TorchHook": "unseen.train",
    "ModulePointer": "unseen.train",
    "Plan": "unseen.train",
    "plan": "unseen.train",
    "DPSGD": "unseen.train",
    "ParameterPointer": "unseen.client",
    "VirtualWorker": "unseen.client",
    "share": "unseen.client",
    "GridClient": "unseen.client",
    "login": "unseen.client",
    "launch_domain": "unseen.server",
    "connect_network": "unseen.client",
    "launch_network": "unseen.network",
    "launch_duet": "unseen.duet",
    "join_duet": "unseen.duet",
    "np": "unseen.client",
    "torch": "unseen.client",
    "pd": "unseen.client",
}

__all__ = [
    "__version__",
    "AuthError",
    "BudgetExhausted",
    "CannotRequestPrivateData",
    "Client",
    "CodeFunction",
    "Dataset",
    "DecodeError",
    "DPSGD",
    "GridClient",
    "Job",
    "ModulePointer",
    "NotFound",
    "OperationNotAllowed",
    "ParameterPointer",
    "PermissionDenied",
    "Plan",
    "Pointer",
    "ProtocolError",
    "RemoteError",
    "Request",
    "RequestDenied",
    "RequestTimeout",
    "SearchResults",
    "TooManyAttempts",
    "TooManyRequests",
    "QuotaExceeded",
    "TorchHook",
    "TransportError",
    "UnseenError",
    "UsageError",
    "VirtualWorker",
    "connect_network",
    "function",
    "join_duet",
    "launch_duet",
    "launch_domain",
    "launch_network",
    "login",
    "np",
    "pd",
    "plan",
    "share",
    "torch",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if name == "local_worker":
        raise AttributeError(
            "unseen has no local worker: values in this process are plain numpy/torch objects; "
            'for an in-process node use unseen.VirtualWorker(name="...")'
        )
    if name == "fl":
        return _importlib.import_module("unseen.fl")
    if module is None:
        raise AttributeError(f"module 'unseen' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
