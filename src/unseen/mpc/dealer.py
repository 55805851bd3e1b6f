"""The trusted dealer (crypto provider): seeds for every party, corrections for party 0.

The dealer is its own endpoint, never one of the parties. At start it sends each party a
fresh 16-byte seed, directly. Then it serves party 0's requests: for request ``counter`` of a
given kind it expands every party's stream ``counter`` (it holds all seeds), computes party
0's corrected fields (:mod:`unseen.mpc.correlations`) and sends them to party 0 only. It sees
no shares and no opened values; it learns the shapes and kinds of operations (public).

The orchestrator only starts and stops it: no correlated randomness ever flows through the
orchestrator.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from unseen.errors import ProtocolError, UnseenError
from unseen.mpc.comm import Comm, orchestrator_id
from unseen.mpc.correlations import CORRELATIONS, expand
from unseen.mpc.prg import PRG, default_backend, new_seed

__all__ = ["Dealer"]


class Dealer:
    """Serves correlated randomness to the parties of one cluster."""

    def __init__(
        self,
        comm: Comm,
        n_parties: int,
        device: torch.device | str = "cpu",
        prg_backend: str | None = None,
    ) -> None:
        self.comm = comm
        self.n_parties = n_parties
        self.device = torch.device(device)
        self.backend = prg_backend or default_backend()
        self._seeds = [new_seed() for _ in range(n_parties)]
        self._prgs = [PRG(s, self.backend) for s in self._seeds]
        self.expected = 1
        self.served = 0
        self.stop_event = threading.Event()

    def distribute_seeds(self) -> None:
        """Send every party its own seed (dealer -> party, directly)."""
        for rank, seed in enumerate(self._seeds):
            t = torch.frombuffer(bytearray(seed), dtype=torch.uint8)
            self.comm.send(rank, "seed", [t], meta={"prg": self.backend})

    def handle_request(self, meta: dict[str, Any]) -> None:
        counter = meta.get("counter")
        tag = f"corr:{counter}"
        try:
            if counter != self.expected:
                raise ProtocolError(
                    f"request counter {counter} out of order (expected {self.expected})"
                )
            kind = meta.get("kind")
            corr = CORRELATIONS.get(str(kind))
            if corr is None:
                raise ProtocolError(f"unknown correlation kind {kind!r}")
            params = meta.get("params") or {}
            self.expected += 1
            parts = []
            for rank, prg in enumerate(self._prgs):
                fields = corr.fields(params, rank, self.n_parties)
                parts.append(
                    expand(prg, int(counter), fields, skip_corrected=rank == 0, device=self.device)
                )
            values = corr.deal(params, parts)
            wanted = [f.name for f in corr.fields(params, 0, self.n_parties) if f.corrected]
            self.comm.send(0, tag, [values[name] for name in wanted])
            self.served += 1
        except (UnseenError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            self.comm.send(0, tag, meta={"error": str(exc)[:500]})

    def serve(self) -> None:
        """Answer requests until the orchestrator says stop or its link breaks."""
        orch = orchestrator_id(self.n_parties)
        self.distribute_seeds()
        sources = [0, orch]
        while not self.stop_event.is_set():
            try:
                src, msg = self.comm.recv_any(sources, timeout=0.5)
            except ProtocolError:
                if self.comm.link_broken(orch):
                    return
                if self.comm.link_broken(0) and 0 in sources:
                    sources.remove(0)
                continue
            if src == 0 and msg.tag == "req":
                self.handle_request(msg.meta)
            elif src == orch and msg.tag == "cmd":
                op = msg.meta.get("op")
                seq = msg.meta.get("seq")
                if op == "stop":
                    self.comm.send(orch, "ack", meta={"seq": seq, "ok": True})
                    return
                reply = {"served": self.served} if op == "stats" else {}
                self.comm.send(orch, "ack", meta={"seq": seq, "ok": True, **reply})
