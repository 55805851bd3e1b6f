"""MPC engine benchmarks (issue: mpc): two parties and a dealer as separate processes over
loopback TCP, one torch thread each, every figure beside plaintext torch measured in the same
run, and CrypTen 0.4.1's figures on this machine for reference.

Run: python bench/bench_mpc.py  (about a minute; prints one line per figure)
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from unseen.mpc import functional as MF
from unseen.mpc.loopback import LoopbackCluster
from unseen.mpc.nn import share_module
from unseen.mpc.optim import SGD


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` runs, in seconds (the least disturbed by other work on the machine)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def show(name: str, ours: float, plain: float, crypten: str, target: str, extra: str = "") -> None:
    ratio = ours / plain if plain > 0 else float("inf")
    print(
        f"{name}: {ours * 1e3:.1f} ms (plaintext {plain * 1e3:.2f} ms, x{ratio:.0f}; "
        f"CrypTen {crypten}; target {target}){extra}",
        flush=True,
    )


def rounds(cluster: LoopbackCluster) -> int:
    return cluster.stats()[0]["rounds"]


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.perf_counter()
    with LoopbackCluster(2, threads=1, timeout=120) as c:
        print(
            f"# 2 parties + dealer as processes over loopback TCP (startup {time.perf_counter() - start:.1f} s)"
        )

        a, b = torch.randn(10**6), torch.randn(10**6)
        x, y = c.share(a), c.share(b)
        c.sync()
        t_mul = timed(lambda: (x * y, c.sync()), 7)
        show("mul 1e6", t_mul, timed(lambda: a * b, 20), "137-159 ms", "<= 70 ms")

        t_relu = timed(lambda: (x.relu(), c.sync()), 3)
        show("ReLU 1e6", t_relu, timed(lambda: torch.relu(a), 20), "2.7-3.9 s", "<= 1.2 s")

        m1, m2 = torch.randn(256, 256), torch.randn(256, 256)
        p, q = c.share(m1), c.share(m2)
        c.sync()
        t_mm = timed(lambda: (p @ q, c.sync()), 15)
        show("matmul 256x256", t_mm, timed(lambda: m1 @ m2, 50), "16.4 ms", "<= 12 ms")

        mlp = nn.Sequential(
            nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
        )
        data = torch.randn(64, 784)
        labels = torch.randint(0, 10, (64,))
        enc = share_module(mlp, c).eval()  # inference: two-party local truncation
        ex = c.share(data)
        c.sync()
        before = rounds(c)
        out = enc(ex)
        c.sync()
        n_rounds = rounds(c) - before
        err = (out.get() - mlp(data).detach()).abs().max().item()
        t_inf = timed(lambda: (enc(ex), c.sync()), 7)
        with torch.no_grad():
            t_plain = timed(lambda: mlp(data), 50)
        show(
            "MLP 784-128-128-10 inference, batch 64", t_inf, t_plain, "135-163 ms", "<= 80 ms, <= 12 rounds",
            f"; {n_rounds} rounds; max |error| {err:.1e}",
        )  # fmt: skip

        enc.train()  # training: dealer truncation pairs
        opt = SGD(enc.parameters(), lr=0.05)

        def train_step() -> None:
            opt.zero_grad()
            MF.cross_entropy(enc(ex), labels).backward()
            opt.step()
            c.sync()

        before = rounds(c)
        train_step()
        step_rounds = rounds(c) - before
        t_train = timed(train_step, 3)
        plain_opt = torch.optim.SGD(mlp.parameters(), lr=0.05)

        def plain_step() -> None:
            plain_opt.zero_grad()
            F.cross_entropy(mlp(data), labels).backward()
            plain_opt.step()

        show(
            "MLP training step, batch 64",
            t_train,
            timed(plain_step, 20),
            "1.28-1.38 s",
            "<= 0.6 s",
            f"; {step_rounds} rounds",
        )
    print(f"# total {time.perf_counter() - start:.1f} s; each figure is the best of several runs")


if __name__ == "__main__":
    main()
