"""Network benchmarks: search across registered domains, and a remote operation through a tunnel.

Run: python bench/bench_network.py (well under two minutes). The network node and the domain run
as their own processes (``unseen launch network`` / ``unseen launch domain``) on loopback.

1. Search: 10 domains, each registered with a signed registration listing 100 datasets (two
   assets each), then ``connect_network(url).search(query)`` over HTTP for a mix of tag and text
   queries: p50 and p99 (targets 20 ms and 100 ms).
2. Tunnel: one domain joins with ``tunnel=True`` and a public URL; the same scientist runs the
   same operation, ``(x + 1).get()`` on a value she sent, directly and through the network's
   relay (sealed end to end): the ratio of medians (target <= 2).
"""

from __future__ import annotations

import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import unseen
from unseen.node._network import DOC_VERSION, REGISTER, sign_document

LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"
EMAIL, PASSWORD = "owner@bench.org", "bench-pass-123"
TAGS = ["#diabetes", "#cancer", "#cardio", "#genomics", "#imaging"]
WORDS = ["glucose", "insulin", "tumour", "rhythm", "exome", "retina", "cohort", "trial"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def node(kind: str, data_dir: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-c", LAUNCH, "launch", kind, "--name", f"Bench {kind}"]
    cmd += ["--port", str(port), "--data-dir", str(data_dir)]
    cmd += ["--owner-email", EMAIL, "--owner-password", PASSWORD, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def catalog(domain: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    datasets = []
    for i in range(100):
        tag = TAGS[(domain + i) % len(TAGS)]
        words = " ".join(rng.choice(WORDS, size=3, replace=False))
        datasets.append(
            {
                "name": f"Study {domain}-{i}",
                "description": f"A {words} study of {100 + i} patients",
                "tags": [tag, "#bench"],
                "citation": "",
                "assets": [
                    {
                        "name": name,
                        "object_id": secrets.token_hex(16),
                        "description": "",
                        "tags": [tag, "#bench", f"#{name}"],
                        "family": "ndarray",
                        "shape": [100 + i, 10],
                        "dtype": "float64",
                    }  # fmt: skip
                    for name in ("features", "target")
                ],
            }
        )
    return datasets


def register_domains(url: str, n: int) -> None:
    from nacl.signing import SigningKey

    network_id = httpx.get(url + "/network/v1/info").json()["id"]
    rng = np.random.default_rng(0)
    for d in range(n):
        key = SigningKey.generate()
        document = {
            "type": REGISTER, "version": DOC_VERSION, "network_id": network_id,
            "public_key": bytes(key.verify_key).hex(), "issued_at": time.time(),
            "nonce": secrets.token_hex(16), "node_id": secrets.token_hex(16),
            "name": f"Domain {d}", "url": f"http://10.0.0.{d + 1}:8081", "tunnel": False,
            "description": f"bench domain {d}", "datasets": catalog(d, rng), "models": [],
            "digest": "bench",
        }  # fmt: skip
        response = httpx.post(
            url + "/network/v1/register", json=sign_document(document, bytes(key))
        )
        response.raise_for_status()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_search(tmp: Path) -> None:
    with node("network", tmp / "net", "--auto-approve") as url:
        register_domains(url, 10)
        net = unseen.connect_network(url)
        queries = [*TAGS, *WORDS, "#diabetes glucose", "patients cohort", "#bench"]
        for q in queries:
            net.search(q, verbose=False)
        times, counts = [], []
        for i in range(400):
            q = queries[i % len(queries)]
            start = time.perf_counter()
            found = net.search(q, verbose=False)
            times.append(time.perf_counter() - start)
            counts.append(found.total)
        p50, p99 = percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3
        print(
            f"search across 10 domains x 100 datasets (2000 assets), {len(times)} queries "
            f"(median {statistics.median(counts):.0f} matches, up to {max(counts)}): "
            f"p50 {p50:.2f} ms (target <= 20), p99 {p99:.2f} ms (target <= 100)"
        )


def median_time(fn: Callable[[], object], n: int) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_tunnel(tmp: Path) -> None:
    with (
        node("network", tmp / "net2", "--auto-approve") as net_url,
        node("domain", tmp / "dom") as dom_url,
    ):
        owner = unseen.login(url=dom_url, email=EMAIL, password=PASSWORD, verbose=False)
        owner.users.create(email="ana@uni.edu", password="ana-pw-123", role="data_scientist")
        owner.join_network(net_url, domain_url=dom_url, tunnel=True, heartbeat_s=5.0)
        net = unseen.connect_network(net_url)
        deadline = time.monotonic() + 10
        while not net.domains or not net.domains[0].online:
            if time.monotonic() > deadline:
                raise SystemExit("the domain did not come online")
            time.sleep(0.05)
        domain = net.domains[0]
        direct = domain.login(
            email="ana@uni.edu", password="ana-pw-123", via="direct", verbose=False
        )
        tunnel = domain.login(
            email="ana@uni.edu", password="ana-pw-123", via="tunnel", verbose=False
        )
        results = {}
        for name, client in (("direct", direct), ("tunnel", tunnel)):
            x = client.send(np.arange(10.0))

            def op(x: Any = x) -> Any:
                return (x + 1).get()

            def info(client: Any = client) -> Any:
                return client.call("node.info")

            results[name, "op"] = median_time(op, 200)
            results[name, "info"] = median_time(info, 300)
        for what, label in (("op", "(x + 1).get()"), ("info", "node.info round trip")):
            d, t = results["direct", what], results["tunnel", what]
            print(
                f"{label} through the tunnel (sealed, relayed): {t * 1e3:.2f} ms vs direct "
                f"{d * 1e3:.2f} ms -> ratio {t / d:.2f} (target <= 2)"
            )
        for client in (direct, tunnel, owner):
            client.close()


def main() -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bench_search(Path(tmp))
        bench_tunnel(Path(tmp))
    print(f"(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
