"""API.md sections 2 and 3 as written, against a real server process."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from server_support import OWNER_EMAIL, OWNER_PASSWORD, ServerProcess

import unseen


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return bunch.data, bunch.target


def test_section_2_and_3(
    server: ServerProcess,
    diabetes: tuple[np.ndarray, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    X, y = diabetes
    owner = unseen.login(url=server.url, email=OWNER_EMAIL, password=OWNER_PASSWORD)
    assert f"Connecting to {server.url}... Connected!" in capsys.readouterr().out
    owner.users.create(
        email="ana@uni.edu", password="ana-pw-123", name="Ana", role="data_scientist", budget=10.0
    )

    rng = np.random.default_rng(0)
    X_mock = rng.normal(0, 0.05, size=(100, 10)).clip(-0.2, 0.2)
    y_mock = rng.uniform(25.0, 346.0, size=100)
    ds = unseen.Dataset(
        name="Diabetes", description="442 patients ...", tags=["#diabetes", "#data"]
    )
    ds.add_asset(name="data", data=X, mock=X_mock, bounds=(-0.2, 0.2))
    ds.add_asset(name="target", data=y, mock=y_mock, bounds=(25.0, 346.0))
    owner.upload_dataset(ds)
    assert [d.name for d in owner.datasets] == ["Diabetes"]

    ana = unseen.login(url=server.url, email="ana@uni.edu", password="ana-pw-123")
    capsys.readouterr()
    found = ana.search("#diabetes")
    assert "Found 2 results" in capsys.readouterr().out
    data = found[0]
    assert (
        "#diabetes" in data.tags
        and data.shape == X.shape
        and data.description == "442 patients ..."
    )
    sample = data.sample(5)
    assert sample.shape == (5, 10)
    assert any(np.allclose(sample[0], row) for row in X_mock)  # rows of the mock
    with pytest.raises(unseen.CannotRequestPrivateData, match=r"\.request\("):
        data.get()
    m = data.mean(axis=0)
    assert isinstance(m, unseen.Pointer)
    noised = m.get(epsilon=0.5)
    assert noised.shape == (10,)
    assert ana.budget == pytest.approx(9.5, abs=0.01)
    with pytest.raises(unseen.BudgetExhausted):
        m.get(epsilon=100.0)
    assert ana.budget == pytest.approx(9.5, abs=0.01)  # charged nothing
    req = m.request(name="mean", reason="To see the result")
    assert isinstance(req, unseen.Request) and req.status == "pending"

    # the owner's side, from another thread while the scientist waits
    def decide() -> None:
        time.sleep(0.3)
        requests = owner.requests
        assert "mean" in repr(requests)
        assert list(requests.pandas["Status"]) == ["pending"]
        requests[0].accept()

    thread = threading.Thread(target=decide)
    thread.start()
    value = m.get(request_block=True, name="mean", reason="To see the result", timeout_secs=30)
    thread.join()
    np.testing.assert_allclose(value, X.mean(axis=0))
    assert [r.status for r in ana.requests] == ["accepted"]

    # a handler decides matching requests at once
    owner.requests.add_handler(action="accept", name="total")
    total = data.sum(axis=0).get(request_block=True, name="total", reason="sum", timeout_secs=5)
    np.testing.assert_allclose(total, X.sum(axis=0))

    # a denied request raises RequestDenied on get
    t = found[1]
    q = (t * 2).request(name="double", reason="try")
    [pending] = [r for r in owner.requests if r.status == "pending"]
    pending.deny(reason="not needed")
    with pytest.raises(unseen.RequestDenied, match="not needed"):
        ana.requests[-1].get()
    assert q.refresh().status == "denied"

    # the seed's spelling
    grid = unseen.GridClient(url=server.url, username="ana@uni.edu", password="ana-pw-123")
    assert grid.user_id == ana.user_id
    for client in (owner, ana, grid):
        client.close()


def test_large_values_both_ways(server: ServerProcess) -> None:
    """A 48 MB upload streams over HTTP; its release comes back the same way."""
    owner = server.login()
    big = np.random.default_rng(1).random((6_000_000,))
    ptr = owner.send(big)
    back = ptr.get()
    np.testing.assert_array_equal(back, big)
    np.testing.assert_allclose((ptr * 2).get(), big * 2)
    owner.close()


def test_websocket_and_http_agree(server: ServerProcess) -> None:
    results = []
    for transport in ("websocket", "http", "auto"):
        client = server.login(transport=transport)
        ptr = client.send(np.arange(10.0))
        results.append((ptr + 1).get())
        client.close()
    for r in results:
        np.testing.assert_array_equal(r, np.arange(10.0) + 1)


def test_threads_share_one_websocket(server: ServerProcess) -> None:
    from unseen.transport import WebSocketConnection

    client = server.login(transport="websocket")
    assert isinstance(client._conn, WebSocketConnection)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                assert client.call("node.info")["name"] == "May Clinic"
                assert (client.send(np.array([i])) + 1).get()[0] == i + 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    client.close()


def test_a_wait_does_not_block_other_messages(server: ServerProcess) -> None:
    owner = server.login()
    scientist_email = "wait@uni.edu"
    owner.users.create(email=scientist_email, password="wait-pw-123", role="data_scientist")
    sci = server.login(scientist_email, "wait-pw-123", transport="websocket")
    asset = sci.search("#diabetes", verbose=False)[0]
    req = asset.mean().request(name="slow", reason="wait")
    waiter = threading.Thread(
        target=lambda: pytest.raises(unseen.RequestTimeout, req.wait, timeout_secs=2)
    )
    start = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    for _ in range(10):
        assert sci.call("node.info")["role"] == "data_scientist"
    assert time.monotonic() - start < 1.5  # not held up by the waiting call
    waiter.join()
    owner.close()
    sci.close()
