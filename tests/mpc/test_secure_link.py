"""The encrypted mesh links: a mesh forms, strangers and wrong tokens are refused, records
cannot be altered, and the token never crosses the wire."""

from __future__ import annotations

import socket
import sys
import threading

import pytest
import torch

from unseen.errors import ProtocolError
from unseen.mpc.comm import Message
from unseen.mpc.comm_mesh import MeshComm, join_mesh, open_listener
from unseen.mpc.secure_link import Identity, accept, dial, session_key

TOKEN = "a" * 64


def _pair(
    key_a: bytes, key_b: bytes, id_a: Identity | None = None, id_b: Identity | None = None
) -> tuple[object, object]:
    """Dial from endpoint 1 to endpoint 0; returns (dialer result, acceptor result)."""
    listener = open_listener("127.0.0.1")
    out: dict[str, object] = {}

    def serve() -> None:
        sock, _ = listener.accept()
        sock.settimeout(5)
        try:
            out["b"] = accept(sock, key_b, 0, {1}, id_b)
        except (ProtocolError, OSError, EOFError) as exc:
            out["b"] = exc
            sock.close()

    th = threading.Thread(target=serve)
    th.start()
    sock = socket.create_connection(listener.getsockname(), timeout=5)
    try:
        out["a"] = dial(sock, key_a, 1, 0, id_a)
    except (ProtocolError, OSError, EOFError) as exc:
        out["a"] = exc
    th.join(5)
    listener.close()
    return out["a"], out["b"]


def test_a_mesh_of_three_endpoints_exchanges_tensors() -> None:
    key = session_key(TOKEN)
    listeners = {ep: open_listener("127.0.0.1") for ep in (0, 1)}
    addresses = {ep: ("127.0.0.1", s.getsockname()[1]) for ep, s in listeners.items()}
    comms = {ep: MeshComm(ep, 1, timeout=5) for ep in (0, 1, 2)}
    peers = {ep: {p: addresses.get(p) for p in comms if p != ep} for ep in comms}
    threads = [
        threading.Thread(target=join_mesh, args=(comms[ep], listeners.get(ep), peers[ep], key, 5))
        for ep in comms
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    big = torch.arange(300_000, dtype=torch.int64)  # several 1 MiB records
    comms[2].send(0, "x", [big, torch.ones(2, 3)], meta={"k": 1})
    comms[0].send(1, "y", [])
    got = comms[0].recv(2, "x")
    assert got.meta == {"k": 1} and torch.equal(got.tensors[0], big)
    assert torch.equal(got.tensors[1], torch.ones(2, 3))
    assert comms[1].recv(0, "y").tensors == []
    for c in comms.values():
        c.close()


def test_a_wrong_token_is_refused() -> None:
    a, b = _pair(session_key("b" * 64), session_key(TOKEN))
    assert isinstance(a, (ProtocolError, EOFError, OSError))
    assert isinstance(b, ProtocolError)


def test_records_are_authenticated_and_the_token_stays_off_the_wire() -> None:
    key = session_key(TOKEN)
    a, b = _pair(key, key)
    assert not isinstance(a, BaseException) and not isinstance(b, BaseException)
    link_a = a  # dialer's link
    _, link_b = b  # type: ignore[misc]
    link_a.send(Message("m", {"v": 1}, [torch.tensor([7])]))  # type: ignore[attr-defined]
    assert link_b.recv().tensors[0].item() == 7
    # a tampered record fails authentication
    raw_send = link_a.sock.sendall  # type: ignore[attr-defined]
    sent: list[bytes] = []

    def flip(data: bytes) -> None:
        sent.append(bytes(data))
        data = bytearray(data)
        data[-1] ^= 1
        raw_send(bytes(data))

    link_a.sock = _Wrap(link_a.sock, flip)  # type: ignore[attr-defined]
    link_a.send(Message("m", {"secret": TOKEN}))  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError, match="authentication"):
        link_b.recv()
    assert TOKEN.encode() not in b"".join(sent)


class _Wrap:
    def __init__(self, sock: socket.socket, sendall: object) -> None:
        self._sock = sock
        self.sendall = sendall

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


SEED_0, SEED_1, SEED_X = b"\x00" * 32, b"\x01" * 32, b"\x07" * 32


def _public(seed: bytes) -> str:
    from nacl.signing import SigningKey

    return bytes(SigningKey(seed).verify_key).hex()


def test_links_between_nodes_prove_their_node_keys() -> None:
    key = session_key(TOKEN)
    id_0 = Identity(SEED_0, {1: _public(SEED_1)})
    id_1 = Identity(SEED_1, {0: _public(SEED_0)})
    a, b = _pair(key, key, id_1, id_0)
    assert not isinstance(a, BaseException) and not isinstance(b, BaseException)


def test_a_dialer_with_another_key_is_refused() -> None:
    """The right token is not enough: endpoint 1 is not the node the session names."""
    key = session_key(TOKEN)
    impostor = Identity(SEED_X, {0: _public(SEED_0)})
    a, b = _pair(key, key, impostor, Identity(SEED_0, {1: _public(SEED_1)}))
    assert isinstance(b, ProtocolError) and "node key" in str(b)
    assert isinstance(a, (ProtocolError, EOFError, OSError))


def test_a_listener_with_another_key_is_refused() -> None:
    key = session_key(TOKEN)
    a, b = _pair(key, key, Identity(SEED_1, {0: _public(SEED_0)}), Identity(SEED_X, {1: None}))
    assert isinstance(a, ProtocolError) and "node key" in str(a)


def test_an_unsigned_peer_is_refused_where_a_key_is_expected() -> None:
    """An orchestrator-like endpoint (no key) cannot stand in for a node."""
    key = session_key(TOKEN)
    a, b = _pair(key, key, None, Identity(SEED_0, {1: _public(SEED_1)}))
    assert isinstance(b, ProtocolError) and "node key" in str(b)


def test_the_handshake_works_with_cryptography_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PyNaCl the node keys sign and the X25519 exchange runs on `cryptography`."""
    pytest.importorskip("cryptography")
    keys = {seed: _public(seed) for seed in (SEED_0, SEED_1, SEED_X)}  # by PyNaCl, before
    for name in ("nacl", "nacl.signing", "nacl.bindings", "nacl.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    from unseen.node._mpc_trust import verify_key_hex

    assert verify_key_hex(SEED_0) == keys[SEED_0]  # a node's key, derived by `cryptography`
    key = session_key(TOKEN)
    a, b = _pair(key, key, Identity(SEED_1, {0: keys[SEED_0]}), Identity(SEED_0, {1: keys[SEED_1]}))
    assert not isinstance(a, BaseException) and not isinstance(b, BaseException)
    a, b = _pair(key, key, Identity(SEED_X, {0: keys[SEED_0]}), Identity(SEED_0, {1: keys[SEED_1]}))
    assert isinstance(b, ProtocolError) and "node key" in str(b)
