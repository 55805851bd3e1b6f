"""LoopbackCluster: every party and the dealer in its own process, linked by loopback TCP.

The orchestrator listens on a free port and spawns one process per endpoint. Each endpoint
opens its own listening socket, reports its port to the orchestrator (with the cluster's
random token), receives everyone's ports, and connects pairwise (:func:`build_mesh`). From
then on parties talk to each other and to the dealer directly; the orchestrator's sockets
carry only commands, acknowledgements and explicitly revealed shares. This is the shape of a
real deployment on one machine, and what the benchmarks measure.
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import time
from collections.abc import Sequence
from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc.cluster import Cluster, check_device, check_roles
from unseen.mpc.comm import Message, dealer_id, orchestrator_id
from unseen.mpc.comm_tcp import (
    TcpComm,
    accept_tuned,
    build_mesh,
    connect,
    listen,
    read_frame,
    write_frame,
)

__all__ = ["LoopbackCluster"]


def _endpoint_main(ep: int, n: int, orch_port: int, token: str, cfg: dict[str, Any]) -> None:
    """Entry point of one spawned endpoint process (a party or the dealer)."""
    torch.set_num_threads(int(cfg.get("threads", 1)))
    from unseen.mpc.dealer import Dealer
    from unseen.mpc.party import Party

    listener = listen()
    sock = connect(("127.0.0.1", orch_port))
    write_frame(
        sock, Message("hello", {"id": ep, "token": token, "port": listener.getsockname()[1]})
    )
    table = read_frame(sock)
    addresses = {
        int(k): ("127.0.0.1", int(v)) for k, v in table.meta["ports"].items() if int(k) != ep
    }
    socks = build_mesh(ep, listener, addresses, token)
    listener.close()
    socks[orchestrator_id(n)] = sock
    comm = TcpComm(ep, n, socks, timeout=float(cfg["timeout"]))
    comm.names.update({int(k): v for k, v in cfg["names"].items()})
    comm.send(orchestrator_id(n), "ready")
    try:
        if ep == dealer_id(n):
            Dealer(comm, n, device=cfg["device"]).serve()
        else:
            Party(
                comm, ep, n, frac_bits=int(cfg["frac_bits"]), device=cfg["device"],
                trunc_mode=str(cfg["trunc"]), limbs=cfg.get("limbs"),
            ).serve()  # fmt: skip
    finally:
        time.sleep(0.05)
        comm.close()


def _context() -> Any:
    """``forkserver`` (POSIX): one server process imports torch once and forks every endpoint
    from that clean, single-threaded state; ``spawn`` elsewhere."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["unseen.mpc.loopback"])
        return ctx
    return mp.get_context("spawn")


class LoopbackCluster(Cluster):
    """Parties and dealer as separate processes on this machine, talking over loopback TCP."""

    def __init__(
        self,
        parties: int | Sequence[str] = 2,
        *,
        dealer: str = "dealer",
        device: str = "cpu",
        frac_bits: int = 16,
        timeout: float = 60.0,
        trunc: str = "auto",
        train_trunc: str | None = "dealer",
        threads: int = 1,
        limbs: bool | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        names = [f"party{i}" for i in range(parties)] if isinstance(parties, int) else list(parties)
        check_roles(names, dealer)
        check_device(device)
        n = len(names)
        labels = {str(i): nm for i, nm in enumerate(names)}
        labels[str(n)] = dealer
        cfg = {
            "threads": threads, "timeout": timeout, "device": device, "frac_bits": frac_bits,
            "trunc": trunc, "limbs": limbs, "names": labels,
        }  # fmt: skip
        listener = listen()
        port = listener.getsockname()[1]
        token = secrets.token_hex(16)
        spawn = _context()
        self.processes = [
            spawn.Process(
                target=_endpoint_main,
                args=(ep, n, port, token, cfg),
                daemon=True,
                name=f"mpc-endpoint-{ep}",
            )
            for ep in range(n + 1)
        ]
        for p in self.processes:
            p.start()
        socks: dict[int, Any] = {}
        ports: dict[str, int] = {}
        listener.settimeout(1.0)
        deadline = time.monotonic() + start_timeout
        while len(socks) < n + 1:
            if time.monotonic() > deadline or any(
                p.exitcode not in (None, 0) for p in self.processes
            ):
                self._kill()
                raise ProtocolError("the MPC endpoint processes did not start")
            try:
                sock = accept_tuned(listener)
            except TimeoutError:
                continue
            hello = read_frame(sock)
            ep = hello.meta.get("id")
            if (
                hello.tag != "hello"
                or hello.meta.get("token") != token
                or not isinstance(ep, int)
                or ep in socks
            ):
                sock.close()
                continue
            socks[ep] = sock
            ports[str(ep)] = int(hello.meta["port"])
        listener.close()
        for sock in socks.values():
            write_frame(sock, Message("ports", {"ports": ports}))
        comm = TcpComm(orchestrator_id(n), n, socks, timeout=timeout)
        comm.names.update({int(k): v for k, v in labels.items()})
        for ep in range(n + 1):
            comm.recv(ep, "ready", timeout=start_timeout)
        super().__init__(comm, n, frac_bits=frac_bits, timeout=timeout, train_trunc=train_trunc)
        self.names = names

    def _kill(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(timeout=2.0)

    def close(self) -> None:
        if self.closed:
            return
        self._stop_endpoints()
        deadline = time.monotonic() + 5.0
        for p in self.processes:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        self._kill()
        self.comm.close()
        self.closed = True
