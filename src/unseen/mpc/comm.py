"""The communication interface between MPC endpoints, and its wire framing.

Endpoints are numbered: parties ``0 .. n-1``, the dealer ``n`` and the orchestrator ``n + 1``
(see :func:`dealer_id`, :func:`orchestrator_id`). A :class:`Comm` moves :class:`Message` s
(a tag, JSON-able public metadata, and a list of tensors) between endpoints. Every receive
has a timeout and raises :class:`~unseen.errors.ProtocolError` naming the peer.

Implementations: :class:`unseen.mpc.comm_local.LocalHub` (threads, in-process queues) and
:class:`unseen.mpc.comm_tcp.TcpComm` (length-prefixed frames over TCP; never pickle). A real
node deployment only needs another ``Comm`` whose ``_post`` sends a message to a peer node and
whose inbox is fed by what the peer sends.

Frame (TCP and any byte transport)::

    b"UMPC" | uint32 header length | header (UTF-8 JSON) | raw tensor bytes, in order

    header = {"tag": str, "meta": {...}, "t": [[dtype, [dims...]], ...]}
"""

from __future__ import annotations

import json
import queue
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from unseen.errors import ProtocolError

__all__ = [
    "Message",
    "Comm",
    "CommStats",
    "dealer_id",
    "orchestrator_id",
    "endpoint_name",
    "encode_header",
    "decode_header",
    "MAGIC",
    "WIRE_DTYPES",
    "Tap",
]

MAGIC = b"UMPC"
MAX_HEADER = 1 << 20
MAX_TENSOR_BYTES = 1 << 34
WIRE_DTYPES: dict[str, torch.dtype] = {
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "float64": torch.float64,
    "float32": torch.float32,
    "bool": torch.bool,
}
_DTYPE_NAMES = {v: k for k, v in WIRE_DTYPES.items()}


def dealer_id(n_parties: int) -> int:
    return n_parties


def orchestrator_id(n_parties: int) -> int:
    return n_parties + 1


def endpoint_name(endpoint: int, n_parties: int) -> str:
    if endpoint == dealer_id(n_parties):
        return "the dealer"
    if endpoint == orchestrator_id(n_parties):
        return "the orchestrator"
    return f"party {endpoint}"


@dataclass
class Message:
    """One message: a tag, public metadata (JSON-able), and tensors."""

    tag: str
    meta: dict[str, Any] = field(default_factory=dict)
    tensors: list[torch.Tensor] = field(default_factory=list)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors)


@dataclass
class CommStats:
    """Counters one endpoint keeps about what it sent."""

    messages: int = 0
    bytes: int = 0
    rounds: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "bytes": self.bytes, "rounds": self.rounds}


class _Closed:
    """Inbox sentinel: the link from a peer broke."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


Tap = Callable[[int, int, Message], None]


class Comm(ABC):
    """Point-to-point messages between endpoints, with a timeout on every receive.

    Subclasses implement :meth:`_post` (deliver to a peer) and feed :meth:`_deliver` (or put
    ``(src, message)`` into ``self._inbox``) with what arrives. Messages from one peer arrive
    in order; :meth:`recv` picks the first with the wanted tag and keeps the others.
    """

    def __init__(self, me: int, n_parties: int, timeout: float = 60.0) -> None:
        self.me = me
        self.n_parties = n_parties
        self.timeout = float(timeout)
        self.stats = CommStats()
        self.taps: list[Tap] = []
        self.names: dict[int, str] = {}
        self._inbox: queue.Queue[tuple[int, Message | _Closed]] = queue.Queue()
        self._stash: dict[int, deque[Message]] = {}
        self._closed_peers: dict[int, str] = {}
        self.closed = False
        self._lock = threading.Lock()

    # -- to implement -------------------------------------------------------------------
    @abstractmethod
    def _post(self, dst: int, msg: Message) -> None:
        """Deliver ``msg`` to endpoint ``dst`` (may block until it is handed over)."""

    def close(self) -> None:
        """Release transport resources (subclasses extend this)."""
        self.closed = True

    # -- public API ---------------------------------------------------------------------
    def name(self, endpoint: int) -> str:
        base = endpoint_name(endpoint, self.n_parties)
        label = self.names.get(endpoint)
        return f"{base} ({label})" if label else base

    def send(
        self,
        dst: int,
        tag: str,
        tensors: Sequence[torch.Tensor] = (),
        meta: dict[str, Any] | None = None,
    ) -> None:
        msg = Message(tag, dict(meta or {}), list(tensors))
        for tap in self.taps:
            tap(self.me, dst, msg)
        self.stats.messages += 1
        self.stats.bytes += msg.nbytes()
        self._post(dst, msg)

    def link_broken(self, peer: int) -> bool:
        """Whether the link to ``peer`` is known to be broken (and drained)."""
        return peer in self._closed_peers and not self._stash.get(peer)

    def recv(self, src: int, tag: str | None = None, timeout: float | None = None) -> Message:
        """The next message from ``src`` (with ``tag`` if given); ProtocolError on timeout."""
        got = self.recv_any((src,), tag, timeout)
        return got[1]

    def recv_any(
        self, srcs: Iterable[int], tag: str | None = None, timeout: float | None = None
    ) -> tuple[int, Message]:
        """The next message from any of ``srcs``; ProtocolError on timeout or broken link."""
        wanted = tuple(srcs)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            for src in wanted:
                found = self._take_stashed(src, tag)
                if found is not None:
                    return src, found
                if src in self._closed_peers:
                    raise ProtocolError(
                        f"{self.name(self.me)}: the link to {self.name(src)} broke "
                        f"({self._closed_peers[src]})"
                    )
            left = deadline - time.monotonic()
            if left <= 0:
                names = " or ".join(self.name(s) for s in wanted)
                raise ProtocolError(
                    f"{self.name(self.me)} timed out after {limit:g} s waiting for {names}"
                    + (f" (step {tag})" if tag else "")
                )
            try:
                src, item = self._inbox.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if isinstance(item, _Closed):
                self._closed_peers.setdefault(src, item.reason)
                continue
            self._stash.setdefault(src, deque()).append(item)

    def _take_stashed(self, src: int, tag: str | None) -> Message | None:
        box = self._stash.get(src)
        if not box:
            return None
        if tag is None:
            return box.popleft()
        for i, msg in enumerate(box):
            if msg.tag == tag:
                del box[i]
                return msg
        return None

    def _deliver(self, src: int, msg: Message) -> None:
        self._inbox.put((src, msg))

    def _peer_closed(self, src: int, reason: str) -> None:
        self._inbox.put((src, _Closed(reason)))


# -- framing ---------------------------------------------------------------------------------


def encode_header(msg: Message) -> tuple[bytes, list[torch.Tensor]]:
    """The frame prefix (magic, length, JSON header) and the contiguous CPU tensors to follow."""
    tensors = []
    specs = []
    for t in msg.tensors:
        if t.dtype not in _DTYPE_NAMES:
            raise ProtocolError(f"cannot send tensors of dtype {t.dtype}")
        c = t.detach()
        if c.device.type != "cpu":
            c = c.cpu()
        c = c.contiguous()
        tensors.append(c)
        specs.append([_DTYPE_NAMES[t.dtype], list(c.shape)])
    header = json.dumps({"tag": msg.tag, "meta": msg.meta, "t": specs}, separators=(",", ":"))
    raw = header.encode("utf-8")
    return MAGIC + struct.pack("!I", len(raw)) + raw, tensors


def decode_header(raw: bytes) -> tuple[str, dict[str, Any], list[tuple[torch.dtype, list[int]]]]:
    """Validate and decode a frame header; ProtocolError on anything malformed."""
    try:
        obj = json.loads(raw.decode("utf-8"))
        tag, meta, specs = obj["tag"], obj["meta"], obj["t"]
        if not isinstance(tag, str) or not isinstance(meta, dict) or not isinstance(specs, list):
            raise ValueError("bad field types")
        out = []
        total = 0
        for dtype_name, shape in specs:
            dtype = WIRE_DTYPES[dtype_name]
            if not isinstance(shape, list) or len(shape) > 16:
                raise ValueError("bad shape")
            numel = 1
            for d in shape:
                if not isinstance(d, int) or d < 0:
                    raise ValueError("bad dimension")
                numel *= d
            total += numel * torch.empty((), dtype=dtype).element_size()
            out.append((dtype, shape))
        if total > MAX_TENSOR_BYTES:
            raise ValueError("message too large")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed MPC frame header: {exc}") from None
    return tag, meta, out
