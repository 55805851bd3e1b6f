"""The seed walkthrough on PySyft 0.9.5, for bench/bench_pysyft.py (not part of the test suite).

Run with a PySyft 0.9.5 interpreter, not ours: /tmp/syft-venv/bin/python bench/_pysyft_walkthrough.py
[repeats]. It launches a PySyft datasite as its own uvicorn process on loopback
(``sy.orchestra.launch(port=...)``), talks to it over HTTP only, and prints the timings of each
repetition as one JSON object on the last line of stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import syft as sy  # noqa: E402

ROOT_EMAIL, ROOT_PASSWORD = "info@openmined.org", "changethis"  # PySyft's default root user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quiet() -> contextlib.ExitStack:
    """Swallow PySyft's notebook-oriented prints (progress, banners, reprs) during a step."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def walkthrough(url: str, port: int, rep: int) -> dict[str, float]:
    with quiet():
        owner = sy.login(url=url, port=port, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    email, password = f"ana{rep}@bench.org", "ana-pass-123"
    with quiet():
        owner.users.create(
            name=f"Ana {rep}", email=email, password=password, password_verify=password
        )
    X = np.random.default_rng(0).random((100_000, 10))
    dataset = sy.Dataset(name=f"Walk{rep}", description="walkthrough")
    dataset.add_asset(sy.Asset(name="data", data=X, mock=np.zeros((100, 10))))
    start = time.perf_counter()
    with quiet():
        owner.upload_dataset(dataset)
    t_upload = time.perf_counter() - start

    start = time.perf_counter()
    with quiet():
        ana = sy.login(url=url, port=port, email=email, password=password)
    t_login = time.perf_counter() - start
    start = time.perf_counter()
    with quiet():
        asset = ana.datasets.search(name=f"Walk{rep}")[0].assets["data"]
    t_search = time.perf_counter() - start

    start = time.perf_counter()
    with quiet():

        @sy.syft_function_single_use(data=asset)
        def column_mean(data):  # type: ignore[no-untyped-def]
            return data.mean(axis=0)

        request = ana.code.request_code_execution(column_mean)
        owner.requests.get_by_uid(uid=request.id).approve()
        value = ana.code.column_mean(data=asset).get()
    t_get = time.perf_counter() - start
    np.testing.assert_allclose(np.asarray(value), X.mean(axis=0))
    return {"upload": t_upload, "login": t_login, "search": t_search, "request_to_get": t_get}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    port = free_port()
    with quiet():
        server = sy.orchestra.launch(
            name="unseen-bench", port=port, host="127.0.0.1", reset=True, dev_mode=False
        )
    try:
        runs = [walkthrough("http://127.0.0.1", port, rep) for rep in range(repeats)]
    finally:
        with quiet():
            server.land()
    print(json.dumps({"syft": sy.__version__, "runs": runs}))


if __name__ == "__main__":
    main()
