"""The user's side: pointers, lazy graphs, sessions, datasets, and table views.

The network client (``connect_network``, ``normalize_url``) loads on first use: it imports httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unseen.client._client import Client
from unseen.client._code import CodeFunction, CodeRequests, CodeReview, Job, function
from unseen.client._dataset import Asset, Dataset
from unseen.client._graph import Vertex, new_id, post_order
from unseen.client._hook import TorchHook
from unseen.client._login import GridClient, login
from unseen.client._mpc import share
from unseen.client._namespaces import Namespace, RemoteFunction, np, pd, torch
from unseen.client._params import ParameterPointer
from unseen.client._pointer import NotAllowedAttribute, Pointer
from unseen.client._views import DatasetList, Request, RequestList, SearchResults, StoreView
from unseen.client._waiting import waiting
from unseen.client._worker import VirtualWorker

if TYPE_CHECKING:
    from unseen.client._network import connect_network, normalize_url

_LAZY = {
    "connect_network": "unseen.client._network",
    "normalize_url": "unseen.client._network",
}

__all__ = [
    "Asset",
    "Client",
    "CodeFunction",
    "CodeRequests",
    "CodeReview",
    "Dataset",
    "DatasetList",
    "GridClient",
    "Job",
    "Namespace",
    "NotAllowedAttribute",
    "ParameterPointer",
    "Pointer",
    "RemoteFunction",
    "Request",
    "RequestList",
    "SearchResults",
    "StoreView",
    "TorchHook",
    "Vertex",
    "VirtualWorker",
    "connect_network",
    "function",
    "login",
    "new_id",
    "post_order",
    "normalize_url",
    "np",
    "pd",
    "share",
    "torch",
    "waiting",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unseen.client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
