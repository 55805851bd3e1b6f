"""Streamed uploads on every backend: ``begin_put`` committed under an updated record, and a
dataset asset streamed ahead that becomes the asset's object as written (written once); a
failed dataset upload leaves nothing."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from store_support import Backend, an_object

from unseen import serde
from unseen.errors import NotFound, UsageError
from unseen.messages import Message
from unseen.node import Node
from unseen.node._objects import StagedUpload, resolve_dataset_uploads
from unseen.node._principal import Principal
from unseen.store import ObjectRecord

VALUE = np.random.default_rng(5).random((3000, 500))  # 12 MB


def upload_in_chunks(writer: Any, value: Any, chunk: int = 1 << 20) -> bytearray:
    encoded = serde.encode(value)
    for start in range(0, len(encoded), chunk):
        writer.write(memoryview(encoded)[start : start + chunk])
    return encoded


# -- begin_put on every backend --------------------------------------------------------------


def test_begin_put_commits_under_an_updated_record(stores: Any) -> None:
    begun = an_object(1, tags=(), dataset=None)
    with stores.objects.begin_put(begun) as upload:
        upload_in_chunks(upload, VALUE)
        assert not stores.objects.exists(begun.id)  # nothing visible before the commit
        final = an_object(1, tags=("#asset",), dataset="D", public_meta={"family": "ndarray"})
        upload.commit(final)
    assert stores.objects.get(begun.id) == final
    np.testing.assert_array_equal(stores.objects.value(begun.id), VALUE)
    with pytest.raises(UsageError):
        stores.objects.begin_put(an_object(1))  # the id is taken


def test_contents_are_the_bytes_written_before_the_commit(stores: Any) -> None:
    with stores.objects.begin_put(an_object(1)) as upload:
        encoded = upload_in_chunks(upload, VALUE)
        written = upload.contents()
        assert bytes(written) == bytes(encoded)
        np.testing.assert_array_equal(serde.decode(memoryview(written)), VALUE)
        with pytest.raises(UsageError):
            upload.write(b"more")
        assert not stores.objects.exists(an_object(1).id)
        assert upload.commit() == len(encoded)
    np.testing.assert_array_equal(stores.objects.value(an_object(1).id), VALUE)


def test_begin_put_under_another_id_keeps_nothing(stores: Any) -> None:
    upload = stores.objects.begin_put(an_object(1))
    upload_in_chunks(upload, np.arange(10))
    with pytest.raises(UsageError):
        upload.commit(an_object(2))
    assert stores.objects.list() == []
    with pytest.raises(UsageError):
        upload.commit()  # closed
    blobs = getattr(stores, "blobs", None)
    assert blobs is None or os.listdir(blobs.root) == []


def test_aborted_begin_put_leaves_nothing(stores: Any) -> None:
    upload = stores.objects.begin_put(an_object(1))
    upload_in_chunks(upload, VALUE)
    upload.abort()
    upload.abort()
    with pytest.raises(RuntimeError), stores.objects.begin_put(an_object(2)) as upload:
        upload_in_chunks(upload, VALUE)
        raise RuntimeError("the client went away")
    assert stores.objects.list() == []
    blobs = getattr(stores, "blobs", None)
    assert blobs is None or os.listdir(blobs.root) == []


# -- dataset assets streamed ahead ---------------------------------------------------------------


class BlobSpy:
    """Counts the blob writers begun and the bytes written through them, per blob name."""

    def __init__(self, stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written: dict[str, int] = {}
        blobs = stores.objects.blobs
        begin = blobs.begin

        def spy(object_id: str, **kwargs: Any) -> Any:
            writer = begin(object_id, **kwargs)
            write = writer.write
            self.written[object_id] = 0

            def counted(chunk: Any) -> None:
                self.written[object_id] += memoryview(chunk).nbytes
                write(chunk)

            writer.write = counted
            return writer

        monkeypatch.setattr(blobs, "begin", spy)


def stage(node: Node, owner: Principal, value: Any) -> StagedUpload:
    """What ``POST /api/v1/upload`` does: stream the encoding in, check it, stage it."""
    staged = node.begin_upload(owner)
    staged.finish(node, upload_in_chunks(staged, value))
    return staged


def upload_dataset(node: Node, owner: Principal, body: dict[str, Any]) -> Any:
    """What the server does with a ``dataset.upload`` message."""
    resolve_dataset_uploads(node, owner, body)
    return node.handle(Message("dataset.upload", body), owner).unwrap()


def dataset_body(name: str, data: Any, mock: Any = None, **asset: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tags": ["#t"],
        "assets": [{"name": "x", "data": data, "mock": mock, **asset}],
    }


def test_a_streamed_asset_is_written_once(
    sql_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    owner = node.add_user("owner", "owner")
    spy = BlobSpy(stores, monkeypatch)
    data, mock = stage(node, owner, VALUE), stage(node, owner, np.zeros((3000, 500)))
    upload_dataset(node, owner, dataset_body("D", {"upload": data.id}, {"upload": mock.id}))

    [dataset] = stores.datasets.list()
    [asset] = dataset.assets
    assert (asset.object_id, asset.mock_id) == (data.id, mock.id)  # the staged writes
    encoded = len(serde.encode(VALUE))
    assert spy.written == {data.id: encoded, mock.id: encoded}  # each written once
    record = stores.objects.get(data.id)
    assert record.dataset == "D" and "#t" in record.tags and "#x" in record.tags
    assert record.mock_id == mock.id and record.public_meta["shape"] == (3000, 500)
    assert stores.objects.get(mock.id).public_meta["mock_of"] == "x"
    np.testing.assert_array_equal(stores.objects.value(data.id), VALUE)
    np.testing.assert_array_equal(stores.objects.value(mock.id), np.zeros((3000, 500)))
    assert sorted(os.listdir(stores.blobs.root)) == sorted([data.id, mock.id])
    with pytest.raises(NotFound):  # used up
        upload_dataset(node, owner, dataset_body("E", {"upload": data.id}, None))


@pytest.mark.parametrize(
    "problem",
    [
        {"bounds": (5.0, 1.0)},  # refused by the handler, before anything is stored
        {"mock": np.zeros(3, dtype=np.int8).tolist()},  # a mock of another kind
        {"name": "Taken"},  # a dataset of that name exists
        {"max_rows_per_id": "two"},  # refused as the request is read, before the handler runs
    ],
)
def test_a_failed_dataset_upload_leaves_nothing(
    sql_backend: Backend, problem: dict[str, Any]
) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    owner = node.add_user("owner", "owner")
    upload_dataset(node, owner, dataset_body("Taken", np.arange(5.0), None))
    before_objects = {r.id for r in stores.objects.list()}
    before_files = set(os.listdir(stores.blobs.root))
    data = stage(node, owner, VALUE)
    problem = dict(problem)
    body = dataset_body(problem.pop("name", "New"), {"upload": data.id}, **problem)
    with pytest.raises(UsageError):
        upload_dataset(node, owner, body)
    assert {r.id for r in stores.objects.list()} == before_objects
    assert set(os.listdir(stores.blobs.root)) == before_files  # not even a temporary file
    assert [d.name for d in stores.datasets.list()] == ["Taken"]


def test_an_unusable_reference_drops_the_uploads_taken_before_it(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    owner = node.add_user("owner", "owner")
    data = stage(node, owner, VALUE)
    body = dataset_body("D", {"upload": data.id}, {"upload": "no-such-upload"})
    with pytest.raises(NotFound):
        upload_dataset(node, owner, body)
    assert stores.objects.list() == [] and os.listdir(stores.blobs.root) == []


def test_a_streamed_object_send_keeps_its_record(sql_backend: Backend) -> None:
    stores = sql_backend.open()
    node = Node("n", stores=stores)
    owner = node.add_user("owner", "owner")
    data = stage(node, owner, VALUE)
    body = {"upload": data.id, "tags": ["#sent"], "description": "big"}
    view = node.handle(Message("object.send", body), owner).unwrap()
    assert view["id"] == data.id and view["tags"] == ["#sent"]
    record: ObjectRecord = stores.objects.get(data.id)
    assert record.family == "ndarray" and record.description == "big"
    np.testing.assert_array_equal(stores.objects.value(data.id), VALUE)
