"""``unseen.join_duet(id, network_url=...)``: the data scientist's side of a Duet.

The scientist claims the single-use id at the network's rendezvous and gets the owner's signed
offer; they pin the key it names (the signature must verify under it). They make an ephemeral
X25519 key and seal every request to the owner's key (NaCl ``Box``); answers that do not open
under the pinned key are refused. The link: ``"direct"`` (the owner's announced port, tried
first with a short timeout) or ``"relay"`` (through the network's tunnel); ``link=`` forces one.
"""

from __future__ import annotations

from typing import Any

import httpx

from unseen import serde
from unseen.client._client import Client
from unseen.client._network import _normalize
from unseen.errors import (
    ProtocolError,
    TransportError,
    UnseenError,
    UsageError,
    error_from_wire,
)
from unseen.messages import Message, decode_reply, encode_message
from unseen.network._rendezvous import ID_BYTES, OFFER
from unseen.node._network import curve_public_key, verify_document

LINKS = ("auto", "direct", "relay", "webrtc")
CLAIM_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 1.5
CALL_TIMEOUT_S = 3700.0  # longer than the longest request.wait


class DuetConnection:
    """Sealed messages to the owner's node, on the direct link or through the relay."""

    def __init__(self, duet_id: str, network_url: str, link: str = "auto") -> None:
        from nacl.public import Box, PrivateKey, PublicKey

        if link not in LINKS:
            raise UsageError(f"link must be one of {', '.join(LINKS)}")
        if link == "webrtc":
            raise UsageError("the WebRTC link is not available yet: use 'direct' or 'relay'")
        if not isinstance(duet_id, str) or len(duet_id) != 2 * ID_BYTES:
            raise UsageError(f"a Duet id is {2 * ID_BYTES} hex digits, as the owner printed it")
        self.duet_id = duet_id.lower()
        self.network_url = _normalize(network_url)
        self.owner_key = self._claim()
        self._ephemeral = PrivateKey.generate()
        self._box = Box(self._ephemeral, PublicKey(curve_public_key(self.owner_key)))
        self._prefix = bytes(self._ephemeral.public_key)
        self._http = httpx.Client(timeout=httpx.Timeout(CALL_TIMEOUT_S, connect=5.0))
        self.node_name = "Duet"
        try:
            self.link, self._url = self._choose(link)
            joined = self._exchange({"op": "join", "id": self.duet_id, "name": "Duet partner"})
        except BaseException:
            self._http.close()
            raise
        self.client_id = str(joined["client_id"])
        self._left = False

    def _claim(self) -> str:
        path = f"{self.network_url}/network/v1/duet/claim/{self.duet_id}"
        try:
            response = httpx.post(path, timeout=CLAIM_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"could not reach the network at {self.network_url}: {exc}"
            ) from None
        data = response.json() if response.content else {}
        if response.status_code != 200:
            wire = {"kind": data.get("kind", "UsageError"), "message": data.get("detail", "")}
            raise error_from_wire(wire)
        document = verify_document(data.get("offer"), OFFER)
        if document["public_key"] != data.get("key"):
            raise ProtocolError("the network's Duet record does not match the owner's signature")
        self._direct = str(document.get("direct_url") or "")
        return str(document["public_key"])

    def _choose(self, link: str) -> tuple[str, str]:
        relay = f"{self.network_url}/network/v1/duet/relay/{self.duet_id}"
        if link == "relay":
            return "relay", relay
        if self._direct:
            try:
                self._exchange({"op": "ping"}, url=self._direct, timeout=PROBE_TIMEOUT_S)
                return "direct", self._direct
            except UnseenError:
                if link == "direct":
                    raise
        elif link == "direct":
            raise TransportError("the Duet owner offers no direct link: use link='relay'")
        return "relay", relay

    def _exchange(
        self, request: dict[str, Any], *, url: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        from nacl.exceptions import CryptoError

        if request.get("op") == "message":
            plain = b"M" + request["message"]
        else:
            plain = b"O" + bytes(serde.encode(request))
        sealed = self._prefix + bytes(self._box.encrypt(plain))
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.post(
                url or self._url,
                content=sealed,
                headers={"content-type": "application/octet-stream"},
                **options,
            )
        except httpx.HTTPError as exc:
            raise TransportError(
                f"the Duet link broke: your Duet partner left or is unreachable ({exc})"
            ) from None
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", "")
            except ValueError:
                detail = ""
            raise TransportError(
                f"the Duet partner is not reachable ({response.status_code}"
                f"{': ' + detail if detail else ''}); they may have left"
            )
        try:
            opened = bytes(self._box.decrypt(response.content))
        except CryptoError:
            raise ProtocolError(
                "the answer was not sealed by the Duet owner's pinned key: refused"
            ) from None
        if opened[:1] == b"M":
            return {"ok": True, "reply": opened[1:]}
        answer = serde.decode(opened[1:])
        if not isinstance(answer, dict):
            raise ProtocolError("the Duet owner's answer is not a map")
        if not answer.get("ok"):
            raise error_from_wire(answer.get("error") or {})
        return answer

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        data = bytes(encode_message(Message(kind, body or {})))
        answer = self._exchange({"op": "message", "message": data})
        return decode_reply(answer["reply"]).unwrap()

    def close(self) -> None:
        if not self._left:
            self._left = True
            try:
                self._exchange({"op": "leave"}, timeout=2.0)
            except Exception:
                pass
        self._http.close()


class DuetClient(Client):
    """The data scientist's session with the owner's node: ``.store``, pointers, requests."""

    def __init__(self, connection: DuetConnection) -> None:
        super().__init__(connection)
        self.duet_id = connection.duet_id
        self.client_id = connection.client_id
        self.link: str = connection.link
        self.owner_key = connection.owner_key

    def __repr__(self) -> str:
        return f"<DuetClient {self.duet_id} over {self.link} as {self.role}>"


def join_duet(
    duet_id: str,
    network_url: str = "http://127.0.0.1:8080",
    *,
    link: str = "auto",
    verbose: bool = True,
) -> DuetClient:
    """Join the Duet the owner invited you to, with the id they sent you.

    ``link="auto"`` tries the owner's direct link first, then the network's relay;
    ``"direct"`` or ``"relay"`` forces one. Raises ``NotFound`` for a wrong or expired id and
    ``AuthError`` for an id that was used already."""
    connection = DuetConnection(duet_id, network_url, link)
    try:
        client = DuetClient(connection)
    except BaseException:
        connection.close()
        raise
    if verbose:
        print("Send the Duet Client ID back to your Duet Partner!")
        print(f"Duet Client ID: {client.client_id}")
    return client
