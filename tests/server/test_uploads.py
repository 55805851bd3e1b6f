"""Large values streamed ahead to POST /api/v1/upload (object.send and dataset.upload)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from server_support import ServerProcess

import unseen
from unseen import serde
from unseen.transport import _http
from unseen.transport._http import HTTPConnection

BIG = 3_000_000  # float64: 24 MB, above the client's 16 MiB upload threshold


@pytest.fixture()
def uploads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Upload ids the client streamed ahead (a spy on HTTPConnection.upload_parts)."""
    seen: list[str] = []
    original = HTTPConnection.upload_parts

    def spy(self: HTTPConnection, *args: object, **kwargs: object) -> str | None:
        result = original(self, *args, **kwargs)  # type: ignore[arg-type]
        if result is not None:
            seen.append(result)
        return result

    monkeypatch.setattr(HTTPConnection, "upload_parts", spy)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    yield seen


def _blob_files(server: ServerProcess) -> set[str]:
    return {p.name for p in (Path(server.data_dir) / "blobs").iterdir()}


def _token(client: unseen.Client) -> str:
    conn = client._conn
    http = getattr(conn, "http", conn)
    return str(http.session.token())


def test_large_send_streams_ahead_and_keeps_the_release_rule(
    server: ServerProcess, owner: unseen.Client, uploads: list[str]
) -> None:
    owner.users.create(email="up-sci@uni.edu", password="sci-pw-123", role="data_scientist")
    value = np.arange(BIG, dtype=np.float64)
    ptr = owner.send(value, tags=["#streamed"], description="big")
    assert len(uploads) == 1 and ptr.id == uploads[0]
    np.testing.assert_array_equal(ptr.get(), value)
    assert float(ptr.sum().get()) == float(value.sum())

    sci = server.login("up-sci@uni.edu", "sci-pw-123")
    try:
        own = sci.send(value + 1)  # a scientist's own upload: released to them
        assert len(uploads) == 2
        np.testing.assert_array_equal(own.get(), value + 1)
        with pytest.raises((unseen.NotFound, unseen.CannotRequestPrivateData)):
            sci.call("object.get", {"id": ptr.id})  # the owner's private upload: not released
        with pytest.raises(unseen.NotFound):  # an upload id is usable only by its uploader
            sci.call("object.send", {"upload": uploads[0]})
    finally:
        sci.close()
    with pytest.raises(unseen.NotFound):  # and only once
        owner.call("object.send", {"upload": uploads[0]})


def test_large_dataset_upload_streams_ahead(
    server: ServerProcess, owner: unseen.Client, uploads: list[str]
) -> None:
    data = np.random.default_rng(1).random((BIG // 2, 2))
    ds = unseen.Dataset(name="Streamed", description="big asset", tags=["#streamed-ds"])
    ds.add_asset(name="big", data=data, mock=np.zeros((10, 2)))
    before = _blob_files(server)
    owner.upload_dataset(ds)
    assert len(uploads) == 1  # the data; the small mock travels inside the message
    asset = owner.search("#streamed-ds", verbose=False)[0]
    np.testing.assert_allclose(asset.mean(axis=0).get(), data.mean(axis=0))
    # the staged copy was dropped: exactly the asset and its mock (and the kept mean) are new
    assert len(_blob_files(server) - before) == 3
    assert not [n for n in _blob_files(server) if n.startswith(".")]


def test_interrupted_upload_leaves_nothing(server: ServerProcess, owner: unseen.Client) -> None:
    before_blobs = _blob_files(server)
    before_objects = {r["id"] for r in owner.call("store.list", {})}
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port)) as s:
        s.sendall(
            (
                f"POST /api/v1/upload HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {_token(owner)}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n"
            ).encode()
        )
        s.sendall(bytes(serde.encode(np.ones(1_000_000)))[:4_000_000])
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while _blob_files(server) != before_blobs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _blob_files(server) == before_blobs  # not even a temporary file
    assert {r["id"] for r in owner.call("store.list", {})} == before_objects


def test_undecodable_or_unauthorized_upload_is_refused(
    server: ServerProcess, owner: unseen.Client
) -> None:
    before = _blob_files(server)
    url = f"{server.url}/api/v1/upload"
    junk = b"UNS" + bytes(10_000_000)
    headers = {"Authorization": f"Bearer {_token(owner)}"}
    response = httpx.post(url, content=junk, headers=headers, timeout=30)
    assert response.status_code == 400
    assert httpx.post(url, content=b"x" * 100, timeout=30).status_code == 401
    assert _blob_files(server) == before


def test_small_values_stay_inline(owner: unseen.Client, uploads: list[str]) -> None:
    assert _http.UPLOAD_MIN > 1 << 20
    ptr = owner.send(np.arange(1000.0))
    assert uploads == []
    assert float(ptr.sum().get()) == float(np.arange(1000.0).sum())
