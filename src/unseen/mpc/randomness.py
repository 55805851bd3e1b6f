"""Party-side correlated randomness: seed expansion plus the dealer's corrections for party 0.

The dealer sends each party one seed (once, dealer -> party directly). Every request then
advances a counter shared by all parties (they run the same program), each party expands
its fields from ``PRG(seed, counter)``, and only party 0 asks the dealer for its corrected
fields. The request is sent before party 0 expands anything, and the correction is only
awaited when a protocol first reads a corrected field, so the dealer works while the parties
exchange their masked values.
"""

from __future__ import annotations

from typing import Any

import torch

from unseen.errors import ProtocolError
from unseen.mpc.comm import Comm, dealer_id
from unseen.mpc.correlations import CORRELATIONS, Field, expand
from unseen.mpc.prg import PRG

__all__ = ["Randomness", "Draw"]


class Draw:
    """One party's share of one correlation; corrected fields arrive lazily (party 0)."""

    def __init__(
        self,
        source: Randomness,
        counter: int,
        fields: list[Field],
        values: dict[str, torch.Tensor],
    ) -> None:
        self._source = source
        self.counter = counter
        self._fields = fields
        self._values = values

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._values:
            self._source._receive_corrections(self)
        return self._values[name]

    def _fill(self, tensors: list[torch.Tensor], device: torch.device) -> None:
        wanted = [f for f in self._fields if f.corrected]
        if len(tensors) != len(wanted):
            raise ProtocolError("the dealer sent a correction of the wrong size")
        for f, t in zip(wanted, tensors):
            if tuple(t.shape) != f.shape:
                raise ProtocolError(f"the dealer sent {f.name} with shape {tuple(t.shape)}")
            self._values[f.name] = t.to(device)


class Randomness:
    """Expands this party's seed; party 0 also fetches corrections from the dealer."""

    def __init__(self, comm: Comm, rank: int, world: int, device: torch.device) -> None:
        self.comm = comm
        self.rank = rank
        self.world = world
        self.device = device
        self.counter = 0
        self._prg: PRG | None = None

    def _ensure_seed(self) -> PRG:
        if self._prg is None:
            msg = self.comm.recv(dealer_id(self.world), "seed")
            if len(msg.tensors) != 1 or msg.tensors[0].dtype != torch.uint8:
                raise ProtocolError("the dealer sent a malformed seed")
            seed = bytes(msg.tensors[0].numpy().tobytes())
            self._prg = PRG(seed, str(msg.meta.get("prg", "aes")))
        return self._prg

    def request(self, kind: str, params: dict[str, Any]) -> Draw:
        """Draw one correlation of ``kind``; all parties call this in the same order."""
        prg = self._ensure_seed()
        corr = CORRELATIONS[kind]
        self.counter += 1
        fields = corr.fields(params, self.rank, self.world)
        needs_dealer = self.rank == 0 and any(f.corrected for f in fields)
        if needs_dealer:
            self.comm.send(
                dealer_id(self.world),
                "req",
                meta={"kind": kind, "params": params, "counter": self.counter},
            )
        values = expand(
            prg, self.counter, fields, skip_corrected=self.rank == 0, device=self.device
        )
        return Draw(self, self.counter, fields, values)

    def _receive_corrections(self, draw: Draw) -> None:
        if self.rank != 0:
            raise ProtocolError("only party 0 receives corrections")
        msg = self.comm.recv(dealer_id(self.world), f"corr:{draw.counter}")
        if "error" in msg.meta:
            raise ProtocolError(f"the dealer refused a request: {msg.meta['error']}")
        draw._fill(msg.tensors, self.device)
