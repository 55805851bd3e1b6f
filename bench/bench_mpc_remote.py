"""MPC with parties as domain servers over the network, against the engine's own figure.

The 784-128-128-10 MLP inference (batch 64, two parties, local truncation) twice in one run:
once on the engine's ``LoopbackCluster`` (parties and dealer as bare processes over loopback
TCP) and once with two parties and the crypto provider as domain servers (``unseen launch
domain`` subprocesses, one torch thread each), orchestrated by a scientist who logged in to
each; their links are the encrypted mesh. Prints the overhead of the node deployment.

Run: python bench/bench_mpc_remote.py  (about 20 s)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import torch
from torch import nn

import unseen
from unseen.client._mpc import close_sessions
from unseen.mpc.loopback import LoopbackCluster
from unseen.mpc.nn import share_module

LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
PASSWORD = "bench-pw-123"


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` runs after one warm-up, in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def domains(names: list[str]) -> Iterator[list[str]]:
    """Domain servers as subprocesses (one torch thread each); yields their URLs."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs, urls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name in names:
                port = _free_port()
                cmd = [sys.executable, "-c", LAUNCH, "launch", "domain", "--name", name]
                cmd += ["--port", str(port), "--data-dir", str(Path(tmp) / name)]
                cmd += ["--owner-email", f"owner@{name}.org", "--owner-password", PASSWORD]
                procs.append(
                    subprocess.Popen(
                        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
            for url in urls:
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{url} did not start")
                    time.sleep(0.1)
            yield urls
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(20)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    data = torch.randn(64, 784)
    with torch.no_grad():
        expected = mlp(data)

    with LoopbackCluster(2, threads=1, timeout=120) as c:
        enc = share_module(mlp, c).eval()
        ex = c.share(data)
        c.sync()
        t_engine = timed(lambda: (enc(ex), c.sync()), 15)

    start = time.perf_counter()
    with domains(["bob", "alice", "crypto"]) as urls:
        bob, alice, crypto = (
            unseen.login(url=u, email=f"owner@{n}.org", password=PASSWORD, verbose=False)
            for u, n in zip(urls, ["bob", "alice", "crypto"])
        )
        print(f"# 3 domain servers up and logged in in {time.perf_counter() - start:.1f} s")
        enc_model = unseen.share(mlp, bob, alice, crypto_provider=crypto).eval()
        enc_data = unseen.share(data, bob, alice, crypto_provider=crypto)
        cluster = enc_data.cluster
        cluster.sync()
        err = (enc_model(enc_data).get() - expected).abs().max().item()
        t_nodes = timed(lambda: (enc_model(enc_data), cluster.sync()), 15)
        close_sessions()
        for client in (bob, alice, crypto):
            client.close()
    print(
        f"MLP inference, parties as domain servers: {t_nodes * 1e3:.1f} ms vs engine over "
        f"loopback {t_engine * 1e3:.1f} ms -> overhead {t_nodes / t_engine:.2f}x "
        f"(+{(t_nodes - t_engine) * 1e3:.1f} ms); max |error| {err:.1e}",
        flush=True,
    )


if __name__ == "__main__":
    main()
