"""The context every SPMD party program runs with: who am I, my links, my randomness.

Protocol functions take ``ctx`` first and run on every party at once, like CrypTen's. The
same sequence of calls on every party keeps tags and randomness counters in step. The one
communication pattern besides the dealer's is :meth:`PartyContext.exchange`: send to every
other party, then receive from every other party (one round).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from unseen.errors import ProtocolError
from unseen.mpc.comm import Comm
from unseen.mpc.encoding import FixedPoint
from unseen.mpc.randomness import Randomness

__all__ = ["PartyContext"]


@dataclass
class PartyContext:
    rank: int
    world: int
    comm: Comm
    rand: Randomness
    fp: FixedPoint = field(default_factory=FixedPoint)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    trunc_mode: str = "auto"  # "auto" | "local" | "dealer"
    limbs: bool | None = None  # force the float64 limb path for ring products (tests)
    _steps: int = 0

    @property
    def peers(self) -> list[int]:
        return [r for r in range(self.world) if r != self.rank]

    @property
    def is_leader(self) -> bool:
        """Party 0 adds public constants and receives the dealer's corrections."""
        return self.rank == 0

    def tag(self, name: str) -> str:
        self._steps += 1
        return f"{name}#{self._steps}"

    def exchange(
        self, name: str, tensors: Sequence[torch.Tensor], to: Sequence[int] | None = None
    ) -> dict[int, list[torch.Tensor]]:
        """One round: send ``tensors`` to the parties ``to`` (default all others), receive
        the same number of tensors of the same shapes from each of them."""
        tag = self.tag(name)
        peers = self.peers if to is None else list(to)
        for p in peers:
            self.comm.send(p, tag, tensors)
        self.comm.stats.rounds += 1
        got = {}
        for p in peers:
            msg = self.comm.recv(p, tag)
            if len(msg.tensors) != len(tensors):
                raise ProtocolError(
                    f"party {p} sent {len(msg.tensors)} values at {tag}, expected {len(tensors)}"
                )
            out = []
            for mine, theirs in zip(tensors, msg.tensors):
                if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                    raise ProtocolError(
                        f"mismatched shapes at {tag}: party {self.rank} has {tuple(mine.shape)}, "
                        f"party {p} sent {tuple(theirs.shape)}"
                    )
                out.append(theirs.to(self.device) if theirs.device != self.device else theirs)
            got[p] = out
        return got

    def open(
        self,
        name: str,
        arith: Sequence[torch.Tensor] = (),
        xor: Sequence[torch.Tensor] = (),
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Reconstruct values among the parties in one round: sums of ``arith`` shares and
        XORs of ``xor`` shares, all in one message per peer. The given tensors are sent, then
        overwritten with the opened values (pass temporaries, never stored shares)."""
        arith, xor = list(arith), list(xor)
        got = self.exchange(name, arith + xor)
        for theirs in got.values():  # accumulate in place: the inputs are our own temporaries
            for i, t in enumerate(arith):
                t.add_(theirs[i])
            for j, t in enumerate(xor):
                t.bitwise_xor_(theirs[len(arith) + j])
        return arith, xor

    @property
    def trunc(self) -> str:
        """The truncation protocol in force: ``local`` (two parties) or ``dealer``."""
        if self.trunc_mode == "auto":
            return "local" if self.world == 2 else "dealer"
        if self.trunc_mode == "local" and self.world != 2:
            raise ProtocolError("local truncation needs exactly two parties")
        return self.trunc_mode
