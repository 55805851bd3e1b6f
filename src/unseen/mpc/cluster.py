"""The orchestrator's side: drive the parties with commands; :class:`LocalCluster` (threads).

The orchestrator (the data scientist's process) holds no shares of anyone else's data. It
names share ids, sends every party the same command (op name, ids, public arguments), and
collects acknowledgements. Commands are pipelined: the orchestrator waits only when a value
is revealed or at :meth:`Cluster.sync`, so a chain of operations costs no round trips to it.
Correlated randomness flows dealer -> party, openings flow party <-> party; the orchestrator
sees neither. Reconstruction happens only on an explicit :meth:`Cluster.reveal`, needs every
party's share (each may refuse through its release policy), and returns nothing on failure.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unseen.errors import ProtocolError, UsageError, error_from_wire
from unseen.mpc.comm import Comm, Tap, dealer_id
from unseen.mpc.comm_local import LocalHub
from unseen.mpc.dealer import Dealer
from unseen.mpc.encoding import FixedPoint
from unseen.mpc.party import Party, ReleasePolicy
from unseen.mpc.prg import PRG, new_seed

if TYPE_CHECKING:
    from unseen.mpc.tensor import MPCTensor

__all__ = ["Cluster", "LocalCluster", "check_roles", "check_device"]


def check_device(device: torch.device | str) -> torch.device:
    """The torch device for the parties' tensors; UsageError if it is not available here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("device='cuda' but no CUDA GPU is available; use device='cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"MPC parties run on 'cpu' or 'cuda', not {dev.type!r}")
    return dev


def check_roles(parties: Sequence[Any], dealer: Any) -> None:
    """UsageError unless there are >= 2 distinct parties and a dealer that is none of them."""
    if len(parties) < 2:
        raise UsageError(f"secret sharing needs at least 2 parties, got {len(parties)}")
    seen: list[Any] = []
    for p in parties:
        if any(p is q or p == q for q in seen):
            raise UsageError(f"the parties must be distinct: {p!r} appears twice")
        seen.append(p)
    if dealer is None:
        raise UsageError("a crypto_provider (dealer) is required")
    if any(dealer is p or dealer == p for p in parties):
        raise UsageError(
            f"the crypto provider {dealer!r} is also a party: the dealer knows every party's "
            "randomness, so it must be a distinct node"
        )


class Cluster:
    """Orchestrator of ``n_parties`` parties and a dealer reachable through ``comm``."""

    def __init__(
        self,
        comm: Comm,
        n_parties: int,
        *,
        frac_bits: int = 16,
        timeout: float = 60.0,
        train_trunc: str | None = "dealer",
    ) -> None:
        self.comm = comm
        self.n_parties = n_parties
        self.fp = FixedPoint(frac_bits)
        self.timeout = float(timeout)
        self.train_trunc = train_trunc
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._pending: dict[int, set[int]] = {}
        self._replies: dict[tuple[int, int], list[torch.Tensor]] = {}
        self._want_replies: set[int] = set()
        self._garbage: list[str] = []
        self._garbage_lock = threading.Lock()
        self.failed: str | None = None
        self.closed = False
        self._prg = PRG(new_seed())
        self._prg_counter = 0

    # -- plumbing -----------------------------------------------------------------------
    @property
    def parties(self) -> list[int]:
        return list(range(self.n_parties))

    def new_id(self) -> str:
        return f"s{next(self._ids)}"

    def _check_usable(self) -> None:
        if self.closed:
            raise UsageError("this MPC cluster is closed")
        if self.failed is not None:
            raise ProtocolError(
                f"the MPC cluster failed earlier and cannot continue: {self.failed}"
            )

    def command(
        self,
        op: str,
        ins: Sequence[str] = (),
        outs: Sequence[str] = (),
        args: dict[str, Any] | None = None,
        tensors: Sequence[torch.Tensor] = (),
        *,
        per_party: Sequence[Sequence[torch.Tensor]] | None = None,
        targets: Sequence[int] | None = None,
        want_reply: bool = False,
    ) -> int:
        """Send one command to the parties (pipelined); returns its sequence number."""
        self._check_usable()
        self._flush_garbage()
        return self._send(op, ins, outs, args, tensors, per_party, targets, want_reply)

    def _send(
        self,
        op: str,
        ins: Sequence[str],
        outs: Sequence[str],
        args: dict[str, Any] | None,
        tensors: Sequence[torch.Tensor],
        per_party: Sequence[Sequence[torch.Tensor]] | None,
        targets: Sequence[int] | None,
        want_reply: bool,
    ) -> int:
        seq = next(self._seq)
        meta = {"seq": seq, "op": op, "in": list(ins), "out": list(outs), "args": args or {}}
        ranks = list(self.parties if targets is None else targets)
        self._pending[seq] = set(ranks)
        if want_reply:
            self._want_replies.add(seq)
        try:
            for r in ranks:
                payload = per_party[r] if per_party is not None else tensors
                self.comm.send(r, "cmd", payload, meta)
        except ProtocolError as exc:  # some parties may have the command and others not
            self._fail(exc.message)
            raise
        return seq

    def _flush_garbage(self) -> None:
        with self._garbage_lock:
            ids, self._garbage = self._garbage, []
        if ids and self.failed is None and not self.closed:
            self._send("free", ids, (), None, (), None, None, False)

    def release_later(self, sid: str) -> None:
        """Free a share id on the parties with the next command (called by MPCTensor.__del__)."""
        with self._garbage_lock:
            self._garbage.append(sid)

    def wait(self, seq: int | None = None) -> None:
        """Block until every command up to ``seq`` (default: all) is acknowledged.

        ProtocolError (or the error a party reported) if a party fails or stays silent."""
        errors: list[tuple[int, dict[str, Any]]] = []
        grace_until: float | None = None
        last_progress = time.monotonic()
        while True:
            todo = {s: r for s, r in self._pending.items() if (seq is None or s <= seq) and r}
            if not todo:
                break
            now = time.monotonic()
            limit = self.timeout + 5.0
            if grace_until is not None:
                if now > grace_until:
                    break
            elif now - last_progress > limit:
                silent = sorted({r for rs in todo.values() for r in rs})
                self._fail(
                    f"{', '.join(self.comm.name(r) for r in silent)} did not respond within {limit:g} s"
                )
                raise ProtocolError(self.failed)
            try:
                src, msg = self.comm.recv_any(
                    sorted({r for rs in todo.values() for r in rs}), "ack", timeout=0.25
                )
            except ProtocolError:
                broken = [r for r in self.parties if self.comm.link_broken(r)]
                if broken:
                    self._fail(f"lost the link to {', '.join(self.comm.name(r) for r in broken)}")
                    raise ProtocolError(self.failed) from None
                continue
            last_progress = time.monotonic()
            mseq = msg.meta.get("seq")
            if not isinstance(mseq, int) or mseq not in self._pending:
                continue
            self._pending[mseq].discard(src)
            if not self._pending[mseq]:
                del self._pending[mseq]
            if not msg.meta.get("ok"):
                errors.append((src, msg.meta.get("error") or {}))
                if grace_until is None:
                    grace_until = time.monotonic() + min(2.0, self.timeout)
            elif mseq in self._want_replies:
                self._replies[(mseq, src)] = msg.tensors
        if errors:
            src, err = errors[0]
            silent = sorted({r for s, rs in self._pending.items() for r in rs})
            seen_from: set[int] = set()
            parts = []
            for s, e in errors:
                text = str(e.get("message", "?"))
                if s in seen_from or "after an earlier failure" in text:
                    continue
                seen_from.add(s)
                parts.append(text)
            detail = "; ".join(parts) or str(errors[0][1].get("message", "?"))
            if silent:
                detail += f" (no answer from {', '.join(self.comm.name(r) for r in silent)})"
            self._fail(detail)
            exc = error_from_wire({"kind": err.get("kind", "ProtocolError"), "message": detail})
            raise exc

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
        for s in list(self._pending):
            self._want_replies.discard(s)
        self._replies.clear()

    def sync(self) -> None:
        """Wait until the parties have finished everything sent so far."""
        self._check_usable()
        self._flush_garbage()
        self.wait()

    # -- data in and out ----------------------------------------------------------------
    def _random_words(self, n: int) -> torch.Tensor:
        self._prg_counter += 1
        return self._prg.words(self._prg_counter, [n])[0]

    def share(
        self, value: Any, *, requires_grad: bool = False, dtype: torch.dtype | None = None
    ) -> MPCTensor:
        """Secret-share the orchestrator's own tensor among the parties."""
        from unseen.mpc.tensor import MPCTensor

        self._check_usable()
        t = (
            value.detach()
            if isinstance(value, torch.Tensor)
            else torch.as_tensor(np.asarray(value))
        )
        out_dtype = dtype or (t.dtype if t.is_floating_point() else torch.get_default_dtype())
        enc = self.fp.encode(t.cpu())
        shares = []
        rest = enc
        for _ in range(self.n_parties - 1):
            r = self._random_words(enc.numel()).view(enc.shape)
            shares.append(r)
            rest = rest - r
        shares.insert(0, rest)
        sid = self.new_id()
        self.command("input", (), (sid,), {"share": {"$t": 0}}, per_party=[[s] for s in shares])
        return MPCTensor(self, sid, tuple(enc.shape), out_dtype, requires_grad=requires_grad)

    def share_from(
        self, owner: int, name: str, shape: Sequence[int], dtype: torch.dtype = torch.float32
    ) -> MPCTensor:
        """Secret-share plaintext ``name`` that party ``owner`` holds (a data owner's input):
        the owner draws the other shares itself and sends them party to party."""
        from unseen.mpc.tensor import MPCTensor

        if owner not in self.parties:
            raise UsageError(f"no party {owner}")
        sid = self.new_id()
        self.command("share_private", (), (sid,), {"owner": owner, "name": name})
        return MPCTensor(self, sid, tuple(int(d) for d in shape), dtype)

    def public(self, value: Any, *, dtype: torch.dtype | None = None) -> MPCTensor:
        """A public tensor in shared form (party 0 holds it, the others zeros)."""
        from unseen.mpc.tensor import MPCTensor

        t = (
            value.detach()
            if isinstance(value, torch.Tensor)
            else torch.as_tensor(np.asarray(value))
        )
        self.fp.encode(t)  # range check here, not on the parties
        sid = self.new_id()
        self.command("public", (), (sid,), {"value": {"$t": 0}}, [t.cpu()])
        out = MPCTensor(
            self,
            sid,
            tuple(t.shape),
            dtype or (t.dtype if t.is_floating_point() else torch.float32),
        )
        out.public_value = t.cpu()
        return out

    def reveal(self, x: MPCTensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Reconstruct ``x`` at the orchestrator. Needs every party's share; all or nothing."""
        self._check_usable()
        seq = self.command("reveal", (x.sid,), (), None, want_reply=True)
        try:
            self.wait(seq)
            parts = [self._replies.pop((seq, r)) for r in self.parties]
        finally:
            self._want_replies.discard(seq)
            for r in self.parties:
                self._replies.pop((seq, r), None)
        total = parts[0][0].to(torch.int64)
        for p in parts[1:]:
            total = total + p[0].to(torch.int64)
        return self.fp.decode(total, dtype or x.dtype).reshape(x.shape)

    def reveal_to(self, x: MPCTensor, party: int, name: str) -> None:
        """Reconstruct ``x`` at one party only (into its plaintext store as ``name``)."""
        if party not in self.parties:
            raise UsageError(f"no party {party}")
        self.command("reveal_to", (x.sid,), (), {"to": party, "name": name})

    def stats(self) -> list[dict[str, int]]:
        """Per party: rounds, messages and bytes sent, randomness requests."""
        seq = self.command("stats", want_reply=True)
        self.wait(seq)
        out = []
        for r in self.parties:
            v = self._replies.pop((seq, r))[0].tolist()
            out.append(
                {"rounds": v[0], "messages": v[1], "bytes": v[2], "requests": v[3], "pid": v[4]}
            )
        self._want_replies.discard(seq)
        return out

    # -- lifecycle ----------------------------------------------------------------------
    def _stop_endpoints(self) -> None:
        if self.failed is None:
            try:
                self._flush_garbage()
                self.wait()
            except ProtocolError:
                pass
        for r in [*self.parties, dealer_id(self.n_parties)]:
            try:
                self.comm.send(r, "cmd", meta={"seq": 0, "op": "stop"})
            except ProtocolError:
                pass

    def close(self) -> None:
        if self.closed:
            return
        self._stop_endpoints()
        self.closed = True

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        if sys.is_finalizing():
            return  # the parties' threads are stopped: waiting for their goodbye would hang
        try:
            if not self.closed:
                self.close()
        except Exception:
            pass


class LocalCluster(Cluster):
    """Parties and dealer as threads of this process, linked by in-process queues.

    ``parties`` is a count or a list of names (distinct); ``dealer`` names the crypto
    provider, which must not be one of the parties.
    """

    def __init__(
        self,
        parties: int | Sequence[str] = 2,
        *,
        dealer: str = "dealer",
        device: torch.device | str = "cpu",
        frac_bits: int = 16,
        timeout: float = 60.0,
        trunc: str = "auto",
        train_trunc: str | None = "dealer",
        limbs: bool | None = None,
        release_policies: Sequence[ReleasePolicy | None] | None = None,
        taps: Sequence[Tap] = (),
        prg: str | None = None,
    ) -> None:
        names = [f"party{i}" for i in range(parties)] if isinstance(parties, int) else list(parties)
        check_roles(names, dealer)
        device = check_device(device)
        n = len(names)
        self.hub = LocalHub(n, timeout)
        labels = {i: nm for i, nm in enumerate(names)}
        labels[n] = dealer
        for ep in range(n + 2):
            self.hub.comm(ep).names.update(labels)
            self.hub.comm(ep).taps.extend(taps)
        policies = list(release_policies) if release_policies is not None else [None] * n
        self.party_runtimes = [
            Party(
                self.hub.comm(r), r, n, frac_bits=frac_bits, device=device, trunc_mode=trunc,
                limbs=limbs, release_policy=policies[r],
            )
            for r in range(n)
        ]  # fmt: skip
        self.dealer = Dealer(self.hub.comm(n), n, device=device, prg_backend=prg)
        self.threads = [
            threading.Thread(target=p.serve, daemon=True, name=f"mpc-party-{p.rank}")
            for p in self.party_runtimes
        ]
        self.threads.append(
            threading.Thread(target=self.dealer.serve, daemon=True, name="mpc-dealer")
        )
        for th in self.threads:
            th.start()
        super().__init__(
            self.hub.comm(n + 1), n, frac_bits=frac_bits, timeout=timeout, train_trunc=train_trunc
        )
        self.names = names
        self.device = torch.device(device)

    def drop_party(self, rank: int) -> None:
        """Fault injection: party ``rank`` goes silent (its messages are lost both ways)."""
        self.hub.cut(rank)

    def close(self) -> None:
        if self.closed:
            return
        self._stop_endpoints()
        self.dealer.stop_event.set()
        for th in self.threads:
            th.join(timeout=2.0)
        self.closed = True
