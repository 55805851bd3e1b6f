"""``unseen.launch_duet(...)``: the data owner's node, in this process, open to one partner.

The owner's node lives in memory in the caller's process, owned by the caller (their client is
the root: they may always ``.get()``). Launching makes a fresh ed25519 session key, starts the
direct link (unless ``direct=False``) and the tunnel to the network, registers a signed offer
with the network's rendezvous service, and prints the line the partner runs. Nothing here uses
asyncio: the links run in threads, so this works in scripts and in Jupyter alike.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from unseen.client import Client, normalize_url
from unseen.duet import _webrtc
from unseen.duet._host import LOOPBACK_HINT, Host
from unseen.duet._links import DirectServer, owner_tunnel
from unseen.errors import TransportError, UsageError
from unseen.network import DUET_TUNNEL, OFFER
from unseen.node import Node, new_document
from unseen.server import post_signed
from unseen.transport import InProcConnection, ReverseTunnel

TIMEOUT_S = 10.0
TUNNEL_WAIT_S = 10.0


class Duet(Client):
    """The data owner's side of a Duet: a client of a node in this process, as its owner.

    ``duet.send(tensor, tags=[...], searchable=True)`` (or ``tensor.send(duet, ...)``),
    ``duet.store``, ``duet.requests`` (``[0].accept()``, ``.deny()``, ``.add_handler(...)``),
    ``duet.partner_id`` once the partner joined, ``duet.invite()`` for a fresh id, ``close()``.
    """

    def __init__(
        self,
        network_url: str,
        *,
        name: str = "Duet",
        direct: bool = True,
        direct_host: str = "127.0.0.1",
        webrtc: bool = True,
        ice_servers: list[Any] | None = None,
        verbose: bool = True,
    ) -> None:
        from nacl.signing import SigningKey

        self.network_url = normalize_url(network_url)
        self._seed = bytes(SigningKey.generate())
        key = bytes(SigningKey(self._seed).verify_key).hex()
        self.node = Node(name, public_key=key, signing_seed=self._seed)
        self._owner = self.node.add_user("owner", "owner")
        super().__init__(InProcConnection(self.node, self._owner))
        self.host = Host(self.node, self._seed)
        self._http = httpx.Client(base_url=self.network_url, timeout=TIMEOUT_S)
        self.direct: DirectServer | None = None
        self.tunnel: ReverseTunnel | None = None
        self.webrtc: Any = None
        self.id = ""
        self._closed = False
        try:
            if direct:
                self.direct = DirectServer(self.host, direct_host)
            if webrtc and _webrtc.available():
                self.webrtc = _webrtc.OwnerWebRTC(self.host.answer, ice_servers)
                self.host.webrtc = self.webrtc.accept
            self.invite(verbose=verbose)
        except BaseException:
            self.close()
            raise

    @property
    def direct_url(self) -> str:
        return self.direct.url if self.direct is not None else ""

    def invite(self, *, verbose: bool = True) -> str:
        """Register a fresh single-use id with the network and print the partner's line.
        A partner who joined before is dropped (their key is no longer accepted)."""
        document = new_document(OFFER, self.node.public_key, direct_url=self.direct_url)
        found = post_signed(self._http, "/network/v1/duet/offer", document, self._seed)
        self.id = str(found["id"])
        self.host.end_partner("the Duet owner invited a new partner")
        self.host.open_offer(self.id)
        if self.tunnel is None:
            self.tunnel = owner_tunnel(self.host, self.network_url, self._seed)
            self.tunnel.start()
            if not self.tunnel.connected.wait(TUNNEL_WAIT_S):
                raise TransportError(f"could not open a tunnel to the network {self.network_url}")
        if verbose:
            print("Send the following code to your Duet Partner!")
            print("import unseen")
            print(f'duet = unseen.join_duet("{self.id}", network_url="{self.network_url}")')
        return self.id

    @property
    def partner_id(self) -> str | None:
        """The Duet Client ID of the partner who joined (compare it with theirs), or None."""
        partner = self.host.partner
        return partner.user_id if partner is not None and self.host.partner_key else None

    def wait_for_partner(self, timeout: float = 60.0) -> str | None:
        """Block until a partner joined (or the timeout passes); their Client ID."""
        self.host.joined.wait(timeout)
        return self.partner_id

    @property
    def link(self) -> str:
        return "owner"

    def close(self) -> None:
        """End the session: the partner's pending calls fail at once; the node stays usable
        in this process (``duet.store`` still works; ``invite()`` is no longer possible)."""
        if self._closed:
            return
        self._closed = True
        self.host.closed = True
        self.host.end_partner("the Duet owner ended the session")
        try:
            if self.tunnel is not None:
                hello = new_document(DUET_TUNNEL, self.node.public_key)
                post_signed(self._http, "/network/v1/duet/withdraw", hello, self._seed)
        except Exception:
            pass
        if self.tunnel is not None:
            self.tunnel.stop()
        if self.direct is not None:
            self.direct.stop()
        if self.webrtc is not None:
            self.webrtc.stop()
        self.node.notify_decision()
        self._http.close()

    def __enter__(self) -> Duet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        joined = f"partner {self.partner_id}" if self.partner_id else "waiting for a partner"
        return f"<Duet {self.id} on {self.network_url} ({joined})>"


def launch_duet(
    network_url: str = "http://127.0.0.1:8080",
    *,
    name: str = "Duet",
    direct: bool = True,
    direct_host: str = "127.0.0.1",
    webrtc: bool = True,
    ice_servers: list[Any] | None = None,
    verbose: bool = True,
    loopback: bool = False,
) -> Duet:
    """Start a Duet as the data owner: a node in this process, registered with the network's
    rendezvous. Prints the line to send to your partner. ``direct=False`` offers the relay
    only; ``direct_host="0.0.0.0"`` (or a LAN address) lets partners on your network connect
    directly. ``webrtc=False`` refuses the WebRTC link (it needs aiortc); ``ice_servers`` lists
    STUN/TURN servers for it (URLs or ``{"urls", "username", "credential"}``; none: host
    candidates only, enough on loopback and LANs). PySyft's ``loopback=True`` has no
    equivalent: run a network node on this machine and pass its URL."""
    if loopback:
        raise UsageError(LOOPBACK_HINT)
    return Duet(
        network_url,
        name=name,
        direct=direct,
        direct_host=direct_host,
        webrtc=webrtc,
        ice_servers=ice_servers,
        verbose=verbose,
    )
