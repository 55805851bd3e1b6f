"""Large values streamed ahead to POST /api/v1/upload (object.send and dataset.upload)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from server_support import ServerProcess
from starlette.requests import Request

import unseen
from unseen import serde
from unseen.errors import DecodeError
from unseen.server import _uploads
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
    assert asset.id == uploads[0]  # the streamed write became the asset
    np.testing.assert_allclose(asset.mean(axis=0).get(), data.mean(axis=0))
    blobs = Path(server.data_dir) / "blobs"
    big = {n for n in _blob_files(server) - before if (blobs / n).stat().st_size > data.nbytes}
    assert big == {uploads[0]}  # the data was written once
    assert not [n for n in _blob_files(server) if n.startswith(".")]


def test_failed_dataset_upload_leaves_nothing(
    server: ServerProcess, owner: unseen.Client, uploads: list[str]
) -> None:
    first = unseen.Dataset(name="Taken", description="small")
    first.add_asset(name="small", data=np.arange(5.0))
    owner.upload_dataset(first)
    before_blobs = _blob_files(server)
    before_objects = {r["id"] for r in owner.call("store.list", {})}
    again = unseen.Dataset(name="Taken", description="a name that is taken")
    again.add_asset(name="big", data=np.ones(BIG))
    with pytest.raises(unseen.UsageError, match="exists already"):
        owner.upload_dataset(again)
    assert len(uploads) == 1  # streamed ahead, then dropped
    assert _blob_files(server) == before_blobs  # not even a temporary file
    assert {r["id"] for r in owner.call("store.list", {})} == before_objects


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


# -- receiving, in-process --------------------------------------------------------------------


class RecordingUpload:
    """Stands in for a StagedUpload: records what the writer thread writes, slowly."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.addresses: list[int] = []
        self.read_back = False

    def write(self, chunk: memoryview) -> None:
        self.addresses.append(int(np.frombuffer(chunk, dtype=np.uint8).ctypes.data))
        self.parts.append(bytes(chunk))
        time.sleep(0.002)  # a disk slower than the network

    def contents(self) -> bytearray:
        self.read_back = True
        return bytearray(b"".join(self.parts))


def receive(body: bytes, declared: int, chunk_sizes: list[int], staged: Any) -> memoryview:
    """Run receive_upload on ``body`` arriving in chunks of the given sizes, in turn."""
    chunks, pos, i = [], 0, 0
    while pos < len(body):
        chunks.append(body[pos : pos + chunk_sizes[i % len(chunk_sizes)]])
        pos += len(chunks[-1])
        i += 1

    async def messages() -> dict[str, Any]:
        data = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": data, "more_body": bool(chunks)}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"%d" % declared)]}
    return asyncio.run(_uploads.receive_upload(Request(scope, messages), staged, 1 << 40))


def test_received_bytes_are_written_in_page_aligned_batches_with_few_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = 64 * 1024
    monkeypatch.setattr(_uploads, "WRITE_BATCH", batch)
    body = np.random.default_rng(4).integers(0, 256, 40 * batch + 12_345, np.uint8).tobytes()
    staged = RecordingUpload()
    written = receive(body, len(body), [65_537, 1, 300_000, 4_095], staged)
    assert bytes(written) == body and staged.read_back
    assert [len(p) for p in staged.parts] == [batch] * 40 + [12_345]
    assert all(address % 4096 == 0 for address in staged.addresses)  # for O_DIRECT
    assert len(set(staged.addresses)) <= _uploads.BUFFERS  # reused, not one per batch


def test_a_short_or_long_body_is_refused_without_reading_back() -> None:
    body = bytes(100_000)
    for declared in (len(body) + 1, len(body) - 1):
        staged = RecordingUpload()
        with pytest.raises(DecodeError):
            receive(body, declared, [30_000], staged)
        assert not staged.read_back
