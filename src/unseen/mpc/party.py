"""A party's runtime: its share store and the loop that runs the orchestrator's commands.

The store maps share ids (public names chosen by the orchestrator) to this party's share
tensors; ``plain`` holds plaintext this party owns (a data owner's private input, or a value
revealed to this party). A command names an op of :data:`unseen.mpc.ops.OPS`, input and
output ids, and public arguments; the party runs the op (talking to its peers and the dealer
directly) and acknowledges. Only ``reveal`` sends a share to the orchestrator, and only if the
party's release policy agrees. After a failure the party refuses further work: peers may be
out of step, and a partial computation must not be mistaken for a result.

Commands (``meta`` of a ``cmd`` message; public tensors travel in the message and are
referenced in ``args`` as ``{"$t": i}``)::

    {"seq": 7, "op": "mul", "in": ["s3", "s4"], "out": ["s5"], "args": {}}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from unseen.errors import ProtocolError, UnseenError, UsageError
from unseen.mpc.comm import Comm, orchestrator_id
from unseen.mpc.context import PartyContext
from unseen.mpc.encoding import FixedPoint
from unseen.mpc.ops import OPS
from unseen.mpc.prg import PRG, new_seed
from unseen.mpc.randomness import Randomness

__all__ = ["Party", "resolve_args"]

ReleasePolicy = Callable[[str, dict[str, Any]], bool]


def resolve_args(obj: Any, tensors: list[torch.Tensor]) -> Any:
    """Replace ``{"$t": i}`` references by the command's public tensors."""
    if isinstance(obj, dict):
        if set(obj) == {"$t"}:
            return tensors[int(obj["$t"])]
        return {k: resolve_args(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_args(v, tensors) for v in obj]
    return obj


class Party:
    """One MPC party: SPMD context, share store, command loop."""

    def __init__(
        self,
        comm: Comm,
        rank: int,
        world: int,
        *,
        frac_bits: int = 16,
        device: torch.device | str = "cpu",
        trunc_mode: str = "auto",
        limbs: bool | None = None,
        release_policy: ReleasePolicy | None = None,
    ) -> None:
        dev = torch.device(device)
        self.comm = comm
        self.rank = rank
        self.world = world
        self.ctx = PartyContext(
            rank=rank, world=world, comm=comm, rand=Randomness(comm, rank, world, dev),
            fp=FixedPoint(frac_bits), device=dev, trunc_mode=trunc_mode, limbs=limbs,
        )  # fmt: skip
        self.store: dict[str, torch.Tensor] = {}
        self.plain: dict[str, torch.Tensor] = {}
        self.release_policy = release_policy
        self.failed: str | None = None
        self._own_prg = PRG(new_seed())
        self._own_counter = 0

    # -- command loop -------------------------------------------------------------------
    def serve(self) -> None:
        orch = orchestrator_id(self.world)
        while True:
            try:
                msg = self.comm.recv(orch, "cmd", timeout=1.0)
            except ProtocolError:
                if self.comm.link_broken(orch):
                    return
                continue
            meta = msg.meta
            if meta.get("op") == "stop":
                self.comm.send(orch, "ack", meta={"seq": meta.get("seq"), "ok": True})
                return
            reply, tensors = self.handle(meta, msg.tensors)
            self.comm.send(orch, "ack", tensors, meta=reply)

    def handle(
        self, meta: dict[str, Any], tensors: list[torch.Tensor]
    ) -> tuple[dict[str, Any], list[torch.Tensor]]:
        seq = meta.get("seq")
        if self.failed is not None:
            return self._error(
                seq,
                ProtocolError(f"party {self.rank} stopped after an earlier failure: {self.failed}"),
            ), []
        try:
            out = self._run(meta, tensors)
        except UnseenError as exc:
            self.failed = exc.message
            return self._error(seq, exc), []
        except (RuntimeError, ValueError, IndexError, TypeError, KeyError) as exc:
            err = ProtocolError(
                f"party {self.rank} failed in {meta.get('op')!r}: {type(exc).__name__}: {str(exc)[:300]}"
            )
            self.failed = err.message
            return self._error(seq, err), []
        return {"seq": seq, "ok": True}, out

    @staticmethod
    def _error(seq: Any, exc: UnseenError) -> dict[str, Any]:
        return {
            "seq": seq,
            "ok": False,
            "error": {"kind": type(exc).__name__, "message": exc.message},
        }

    # -- execution ----------------------------------------------------------------------
    def _run(self, meta: dict[str, Any], tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        name = meta.get("op")
        args = resolve_args(meta.get("args") or {}, [t.to(self.ctx.device) for t in tensors])
        ins_ids = list(meta.get("in") or [])
        out_ids = list(meta.get("out") or [])
        special = getattr(self, f"_op_{name}", None)
        if special is not None:
            return special(ins_ids, out_ids, args)  # type: ignore[no-any-return]
        fn = OPS.get(str(name))
        if fn is None:
            raise UsageError(f"unknown MPC op {name!r}")
        ins = [self._get(i) for i in ins_ids]
        trunc = args.pop("_trunc", None)
        saved = self.ctx.trunc_mode
        if trunc is not None:
            self.ctx.trunc_mode = str(trunc)
        try:
            outs = fn(self.ctx, ins, args)
        finally:
            self.ctx.trunc_mode = saved
        if len(outs) != len(out_ids):
            raise ProtocolError(
                f"op {name!r} produced {len(outs)} outputs, expected {len(out_ids)}"
            )
        for sid, t in zip(out_ids, outs):
            self.store[sid] = t
        return []

    def _get(self, sid: str) -> torch.Tensor:
        try:
            return self.store[sid]
        except KeyError:
            raise ProtocolError(f"party {self.rank} has no share {sid!r}") from None

    # -- special ops --------------------------------------------------------------------
    def _op_input(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """Store a share handed over by the input's owner (here: the orchestrator's own data)."""
        share = args["share"]
        if share.dtype != torch.int64:
            raise ProtocolError("an input share must be an int64 ring tensor")
        self.store[outs[0]] = share.to(self.ctx.device)
        return []

    def _op_public(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """Shares of a public value: party 0 holds its encoding, the others zeros."""
        value = args["value"]
        enc = value.to(torch.int64) if args.get("raw") else self.ctx.fp.encode(value, warn=False)
        enc = enc.to(self.ctx.device)
        self.store[outs[0]] = enc if self.rank == 0 else torch.zeros_like(enc)
        return []

    def _op_share_private(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """The owner (rank ``owner``) secret-shares its plaintext ``name``: it draws the
        others' shares from its own CSPRNG and sends each one directly to its party."""
        owner = int(args["owner"])
        tag = self.ctx.tag("share_private")
        if self.rank == owner:
            value = self.plain.get(str(args["name"]))
            if value is None:
                raise ProtocolError(f"party {owner} holds no plaintext {args['name']!r}")
            # no RangeWarning here: it would print the magnitude of a (maybe private) input
            enc = self.ctx.fp.encode(value, warn=False).to(self.ctx.device)
            rest = enc
            for peer in self.ctx.peers:
                self._own_counter += 1
                (r,) = self._own_prg.words(self._own_counter, [enc.numel()])
                r = r.view(enc.shape).to(self.ctx.device)
                self.comm.send(peer, tag, [r])
                rest = rest - r
            self.store[outs[0]] = rest
        else:
            msg = self.comm.recv(owner, tag)
            self.store[outs[0]] = msg.tensors[0].to(self.ctx.device)
        return []

    def _op_reveal(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        sid = ins[0]
        share = self._get(sid)
        if self.release_policy is not None and not self.release_policy(sid, args):
            raise ProtocolError(f"party {self.rank} did not release {sid!r}")
        return [share.cpu()]

    def _op_reveal_to(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        """Reconstruct at party ``to`` only (stored in its ``plain`` under ``name``)."""
        target = int(args["to"])
        share = self._get(ins[0])
        tag = self.ctx.tag("reveal_to")
        if self.rank != target:
            if self.release_policy is not None and not self.release_policy(ins[0], args):
                raise ProtocolError(f"party {self.rank} did not release {ins[0]!r}")
            self.comm.send(target, tag, [share])
            return []
        total = share
        for peer in self.ctx.peers:
            total = total + self.comm.recv(peer, tag).tensors[0].to(self.ctx.device)
        self.plain[str(args["name"])] = self.ctx.fp.decode(total, torch.float64)
        return []

    def _op_free(self, ins: list[str], outs: list[str], args: dict[str, Any]) -> list[torch.Tensor]:
        for sid in ins:
            self.store.pop(sid, None)
        return []

    def _op_barrier(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        return []

    def _op_stats(
        self, ins: list[str], outs: list[str], args: dict[str, Any]
    ) -> list[torch.Tensor]:
        s = self.comm.stats
        return [
            torch.tensor(
                [s.rounds, s.messages, s.bytes, self.ctx.rand.counter, os.getpid()],
                dtype=torch.int64,
            )
        ]
