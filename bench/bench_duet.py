"""Duet: time to connect per link, and fetching a large tensor over each link (MB/s).

    python bench/bench_duet.py [--mb 100]

Large answers travel in 4 MiB chunks (8 in flight), so both links carry the full --mb; the
fetch time includes the request, its acceptance by a handler and the computation (``* 1.0``).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import unseen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        net = unseen.launch_network(
            port=0, data_dir=tmp, owner_email="n@bench.org", owner_password="bench-pw-123"
        )
        try:
            for link in ("direct", "relay"):
                mb = args.mb
                with unseen.launch_duet(network_url=net.url, verbose=False) as duet:
                    value = np.ones(int(mb * 1e6 / 8))
                    duet.send(value, tags=["big"], searchable=True)
                    duet.requests.add_handler(action="accept")
                    start = time.perf_counter()
                    partner = unseen.join_duet(
                        duet.id, network_url=net.url, link=link, verbose=False
                    )
                    connect = time.perf_counter() - start
                    ptr = partner.store["big"] * 1.0
                    start = time.perf_counter()
                    got = ptr.get(request_block=True, name="big", reason="bench", timeout_secs=60)
                    took = time.perf_counter() - start
                    assert got.nbytes == value.nbytes
                    print(
                        f"duet {link:6s} connect {connect * 1e3:7.1f} ms   "
                        f"fetch {mb:.0f} MB in {took:6.2f} s = {mb / took:7.1f} MB/s"
                    )
                    partner.close()
        finally:
            net.stop()


if __name__ == "__main__":
    main()
