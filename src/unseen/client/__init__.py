"""The user's side: pointers, lazy graphs, sessions, datasets, and table views."""

from unseen.client._client import Client
from unseen.client._dataset import Asset, Dataset
from unseen.client._hook import TorchHook
from unseen.client._mpc import share
from unseen.client._namespaces import Namespace, RemoteFunction
from unseen.client._pointer import Pointer
from unseen.client._views import DatasetList, Request, RequestList, SearchResults, StoreView
from unseen.client._worker import VirtualWorker

__all__ = [
    "Asset",
    "Client",
    "Dataset",
    "DatasetList",
    "Namespace",
    "Pointer",
    "RemoteFunction",
    "Request",
    "RequestList",
    "SearchResults",
    "StoreView",
    "TorchHook",
    "VirtualWorker",
    "share",
]
