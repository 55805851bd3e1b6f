"""Typed ``dataset.*``, ``request.*`` and ``handler.*`` kinds against a real server, over the
WebSocket and over HTTP: the typed replies are the node's records."""

from __future__ import annotations

import numpy as np
import pytest
from server_support import ServerProcess

import unseen
from unseen.messages import datasets as dm
from unseen.messages import requests as rm

SECRET = np.arange(20.0).reshape(5, 4)


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_typed_round_trips_on_a_server(
    server: ServerProcess, owner: unseen.Client, transport: str
) -> None:
    name = f"Typed-{transport}"
    made = owner.ask(
        dm.DATASET_UPLOAD,
        dm.DatasetUploadRequest(
            name=name,
            tags=["#typed"],
            assets=[dm.AssetUpload(name="x", data=SECRET, mock=np.zeros((5, 4)), bounds=(0, 19))],
        ),
    )
    assert isinstance(made, dm.DatasetView) and made.assets[0].bounds == [(0.0, 19.0)]
    email = f"typed-{transport}@uni.edu"
    owner.users.create(email=email, password="typed-pw-123")
    ana = server.login(email, "typed-pw-123", transport=transport)
    try:
        (listed,) = [d for d in ana.ask(dm.DATASET_LIST, dm.DatasetListRequest()) if d.name == name]
        assert listed == made  # the same view, as every user sees it
        mean = ana.datasets[name]["x"].mean(axis=0)
        request = mean.request(name="typed mean")
        assert isinstance(request.view, rm.RequestView) and request.view.decided_at is None
        handler = owner.ask(rm.HANDLER_ADD, rm.HandlerAddRequest(action="accept", name="auto"))
        assert handler in owner.ask(rm.HANDLER_LIST, rm.HandlerListRequest())
        (seen,) = [
            r for r in owner.ask(rm.REQUEST_LIST, rm.RequestListRequest()) if r.id == request.id
        ]
        assert seen == request.view
        owner.ask(rm.REQUEST_DECIDE, rm.RequestDecideRequest(id=request.id, action="accept"))
        waited = ana.ask(rm.REQUEST_WAIT, rm.RequestWaitRequest(id=request.id, timeout=5))
        assert waited.status == "accepted" and isinstance(waited.decided_at, float)
        value = ana.ask(rm.REQUEST_RESULT, rm.RequestResultRequest(id=request.id))
        np.testing.assert_allclose(value, SECRET.mean(axis=0))
        auto = ana.datasets[name]["x"].sum().request(name="auto")
        assert auto.status == "accepted" and auto.decided_by == f"handler {handler.id}"
        owner.ask(rm.HANDLER_REMOVE, rm.HandlerRemoveRequest(id=handler.id))
        assert handler.id not in {h.id for h in owner.requests.handlers}
    finally:
        ana.close()
    owner.ask(dm.DATASET_DELETE, dm.DatasetDeleteRequest(name=name))
    assert name not in {d.name for d in owner.datasets}
