"""The client's side of networks: joining one, reviewing registrations, and searching across one.

``unseen.connect_network(url)`` gives a :class:`Network`: ``.domains``, ``.search("#diabetes")``
(results from every approved domain in the seed's format, each naming its domain) and
``.models``. ``result.domain.login(email=..., password=...)`` logs in to that domain: directly
at its URL, or, for a domain behind NAT, through the network with messages sealed end to end to
the domain's key as its signed registration names it (the client pins that key and refuses a
domain, or a relay, that does not hold it).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from unseen import serde
from unseen.errors import AuthError, ProtocolError, TransportError, UsageError, error_from_wire
from unseen.messages import Message, decode_reply, encode_message
from unseen.messages.info import NODE_INFO, NodeInfoRequest
from unseen.messages.network import (
    NETWORK_JOIN,
    REGISTRY_DECIDE,
    REGISTRY_LIST,
    NetworkJoinRequest,
    RegistrationView,
    RegistryDecideRequest,
    RegistryListRequest,
)
from unseen.node import REGISTER, curve_public_key, verify_document
from unseen.transport import http_client

if TYPE_CHECKING:
    from unseen.client._client import Client

TIMEOUT_S = 10.0
RELAY_TIMEOUT_S = 700.0


def normalize_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise UsageError("give the network's URL, such as 'http://127.0.0.1:8080'")
    text = url.strip().rstrip("/")
    text = text if "://" in text else "http://" + text
    if not text.lower().startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    return text


def _get(
    http: httpx.Client, path: str, *, not_found: Callable[[], str] | None = None, **params: Any
) -> Any:
    try:
        response = http.get(path, params=params or None)
    except httpx.HTTPError as exc:
        raise TransportError(f"could not reach the network at {http.base_url}: {exc}") from None
    if response.status_code == 404 and not_found is not None:
        raise UsageError(not_found())
    if response.status_code != 200:
        data = response.json() if response.content else {}
        raise error_from_wire({"kind": data.get("kind", "UsageError"), "message": data["detail"]})
    return response.json()


def _ago(when: float | None) -> str:
    return "never" if when is None else f"{max(0.0, time.time() - when):.0f} s ago"


# -- a domain's side -------------------------------------------------------------------------
_JOIN_OPTIONS = [f.name for f in dataclasses.fields(NetworkJoinRequest) if f.name != "url"]


def join_network(client: Client, url: str, **options: Any) -> dict[str, Any]:
    """``owner.join_network(url, ...)``: see :meth:`unseen.Client.join_network`."""
    url = normalize_url(url)
    unknown = sorted(set(options) - set(_JOIN_OPTIONS))
    if unknown:
        raise UsageError(
            f"join_network has no option {unknown[0]!r}: the options are {', '.join(_JOIN_OPTIONS)}"
        )
    if options.get("domain_url") is None and not options.get("tunnel"):
        conn: Any = client._conn
        session = getattr(getattr(conn, "http", conn), "session", None)
        options["domain_url"] = getattr(session, "url", None)
    joined = client.ask(NETWORK_JOIN, NetworkJoinRequest(url=url, **options))
    state = "approved" if joined.status == "approved" else "waiting for the network's owner"
    print(f"Joined the network {joined.network!r} at {url} ({state}).")
    return dataclasses.asdict(joined)


class Registration(dict):  # type: ignore[type-arg]
    """A domain's registration, as the network's owner reviews it: a map of its fields
    (``["name"]``, ``["status"]``, ...); ``.view`` is the typed record."""

    def __init__(self, client: Client, view: RegistrationView) -> None:
        super().__init__(dataclasses.asdict(view))
        self.view = view
        self._client = client

    def _decide(self, action: str, reason: str = "") -> Registration:
        request = RegistryDecideRequest(id=self.view.id, action=action, reason=reason)
        self.view = self._client.ask(REGISTRY_DECIDE, request)
        self.update(dataclasses.asdict(self.view))
        return self

    def approve(self) -> Registration:
        return self._decide("approve")

    def reject(self, reason: str = "") -> Registration:
        return self._decide("reject", reason)

    def __repr__(self) -> str:
        return f"<Registration {self['name']!r} ({self['status']}) key {self['public_key'][:16]}>"


class RegistrationList(Sequence[Registration]):
    def __init__(self, client: Client) -> None:
        if client.ask(NODE_INFO, NodeInfoRequest()).node_type != "network":
            raise UsageError(f"{client.node_name!r} is a domain: registrations live on networks")
        self._items = [
            Registration(client, r) for r in client.ask(REGISTRY_LIST, RegistryListRequest())
        ]

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def pending(self) -> list[Registration]:
        return [r for r in self._items if r["status"] == "pending"]

    def __repr__(self) -> str:
        if not self._items:
            return "No registrations."
        return "\n".join(
            f"[{i}] {r['name']!r} {r['status']} url={r['url']} datasets={r['datasets']}"
            for i, r in enumerate(self._items)
        )


# -- a scientist's side ----------------------------------------------------------------------
class DomainRef(dict):  # type: ignore[type-arg]
    """A domain as a network lists it; ``.login(...)`` opens a session with it."""

    def __init__(self, network: Network, record: dict[str, Any]) -> None:
        super().__init__(record)
        self.network = network

    name = property(lambda self: self["name"])
    url = property(lambda self: self["url"])
    online = property(lambda self: self["online"])

    def pinned_key(self) -> str:
        """The domain's key from its signed registration (checked against the listing)."""
        found = _get(self.network._http, f"/network/v1/domains/{self['id']}")
        document = verify_document(found["registration"], REGISTER)
        if document["public_key"] != self["public_key"] or document["node_id"] != self["id"]:
            raise AuthError(f"the network's listing of {self.name!r} does not match its signature")
        return str(document["public_key"])

    def login(
        self,
        email: str | None = None,
        password: str | None = None,
        *,
        via: str = "auto",
        public_key: str | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> Client:
        """Log in to this domain: at its URL (``via="direct"``), or through the network for a
        domain behind NAT (``via="tunnel"``); ``"auto"`` picks the URL when there is one.
        ``public_key`` pins the domain's key yourself instead of trusting the network's."""
        from unseen.client._client import Client
        from unseen.client._login import login

        if not email or not password:
            raise UsageError(
                "log in with your account on the domain: .login(email=..., password=...)"
            )
        if via not in ("auto", "direct", "tunnel"):
            raise UsageError("via must be 'auto', 'direct' or 'tunnel'")
        key = self.pinned_key()
        if public_key is not None and public_key.lower() != key:
            raise AuthError(f"{self.name!r} is registered with another key than the one you pinned")
        tunnel = via == "tunnel" or (via == "auto" and (self["tunnel"] or not self["url"]))
        if not tunnel:
            if not self["url"]:
                raise UsageError(f"{self.name!r} has no public URL: use via='tunnel'")
            client = login(self["url"], email, password, verbose=verbose, **kwargs)
            if client.ask(NODE_INFO, NodeInfoRequest()).public_key != key:
                client.close()
                raise AuthError(f"{self['url']} does not hold the key {self.name!r} registered")
            return client
        if verbose:
            print(f"Connecting to {self.name} through {self.network.url}...", end=" ", flush=True)
        connection = TunnelConnection(self.network.url, self["id"], key, email, password)
        client = Client(connection)
        if verbose:
            print("Connected!")
        return client

    def __repr__(self) -> str:
        state = "online" if self["online"] else "offline"
        where = self["url"] or "through the network"
        return f"<Domain {self['name']!r} at {where} ({state}, {self['datasets']} datasets)>"


class NetworkResult(dict):  # type: ignore[type-arg]
    """One asset found across a network; ``.domain`` is where it lives."""

    def __init__(self, domain: DomainRef, record: dict[str, Any]) -> None:
        super().__init__(record)
        self.domain = domain

    @property
    def tags(self) -> list[str]:
        return list(self["tags"])

    def pointer(self, client: Client) -> Any:
        """The pointer to this asset in a session with its domain."""
        if client.node_id != self.domain["id"]:
            raise UsageError(f"log in to {self.domain.name!r} first: result.domain.login(...)")
        return client.datasets[self["dataset"]][self["name"]]

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.get("shape") or [])) or "?"
        state = "" if self.domain["online"] else " OFFLINE"
        return (
            f"<Asset {self['name']!r} of {self['dataset']!r} on {self.domain.name!r}{state}: "
            f"{self.get('family', '?')} {shape} {self.get('dtype', '')}>".replace(" >", ">")
        )


class NetworkSearchResults(list):  # type: ignore[type-arg]
    """Assets found across a network, with the seed's summary: a count and a tag profile."""

    def __init__(self, results: list[NetworkResult], found: dict[str, Any]) -> None:
        super().__init__(results)
        self.query: str = found["query"]
        self.total: int = found["total"]
        self.profile = Counter[str](found["tags"])

    def tag_profile(self) -> Counter[str]:
        return self.profile

    def summary(self) -> str:
        n = self.total
        lines = [f"Found {n} result{'' if n == 1 else 's'}" + (" in total." if n else ".")]
        domains = {r.domain.name for r in self}
        if domains:
            lines[0] += f" (from {len(domains)} domain{'' if len(domains) == 1 else 's'})"
        if self.profile:
            lines.append("Tag Profile:")
            lines += [f"  {tag} found {count}" for tag, count in self.profile.most_common()]
        if not n:
            lines.append("Try fewer words, or a tag such as '#diabetes'.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary() + "".join(f"\n[{i}] {r!r}" for i, r in enumerate(self))


class Network:
    """A network node, as anyone sees it: domains, search, models. No login needed."""

    def __init__(self, url: str, *, verbose: bool = False) -> None:
        self.url = normalize_url(url)
        self._http = http_client(self.url, timeout=TIMEOUT_S)
        try:
            self.info = _get(self._http, "/network/v1/info", not_found=self._not_a_network)
        except BaseException:
            self._http.close()
            raise
        self.name: str = self.info["name"]
        if verbose:
            print(f"Connected to the network {self.name!r} at {self.url}.")

    def _not_a_network(self) -> str:
        try:
            info = httpx.get(self.url + "/api/v1/info", timeout=2.0).json()
            domain = str(info["name"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return f"{self.url} answers, but is not an unseen network node"
        return (
            f"{self.url} is the domain node {domain!r}, not a network: log in to it with "
            f"unseen.login(url={self.url!r}, email=..., password=...)"
        )

    def __repr__(self) -> str:
        return f"<Network {self.name!r} at {self.url}>"

    @property
    def domains(self) -> list[DomainRef]:
        return [DomainRef(self, d) for d in _get(self._http, "/network/v1/domains")]

    def search(self, query: str, *, verbose: bool = True, limit: int = 500) -> NetworkSearchResults:
        """Assets of every approved domain matching a tag (``"#diabetes"``) or words in
        names and descriptions. Results of offline domains are flagged (``OFFLINE``)."""
        found = _get(self._http, "/network/v1/search", q=query, limit=limit)
        domains = {k: DomainRef(self, info) for k, info in found["domains"].items()}
        results = [NetworkResult(domains[r.pop("domain")], r) for r in found["results"]]
        out = NetworkSearchResults(results, found)
        if verbose:
            print(out.summary())
        return out

    def search_models(self, query: str = "") -> list[dict[str, Any]]:
        return list(_get(self._http, "/network/v1/models", q=query))

    @property
    def models(self) -> list[dict[str, Any]]:
        return self.search_models("")

    def close(self) -> None:
        self._http.close()


def connect_network(url: str, *, verbose: bool = False) -> Network:
    """The network node at ``url``: ``.domains``, ``.search(query)``, ``.models``."""
    return Network(url, verbose=verbose)


# -- the sealed tunnel ---------------------------------------------------------------------
class TunnelConnection:
    """Messages to a domain through a network's relay, sealed to the domain's pinned key."""

    def __init__(self, network_url: str, node_id: str, key: str, email: str, password: str) -> None:
        try:
            from nacl.public import Box, PrivateKey, PublicKey
        except ImportError:
            raise UsageError(
                "reaching a domain through a network needs PyNaCl: pip install pynacl"
            ) from None
        self._ephemeral = PrivateKey.generate()
        self._box = Box(self._ephemeral, PublicKey(curve_public_key(key)))
        self._prefix = bytes(self._ephemeral.public_key)
        self._path = f"/network/v1/relay/{node_id}"
        self._http = http_client(network_url, timeout=httpx.Timeout(RELAY_TIMEOUT_S, connect=5.0))
        self._credentials = (email, password)
        self.node_name = node_id
        self._token = ""
        self._logged_out = False
        try:
            self._login()
        except BaseException:
            self._http.close()
            raise

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        from nacl.exceptions import CryptoError

        sealed = self._prefix + bytes(self._box.encrypt(bytes(serde.encode(request))))
        try:
            response = self._http.post(
                self._path, content=sealed, headers={"content-type": "application/octet-stream"}
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach the network relay: {exc}") from None
        if response.status_code != 200:
            detail = response.json().get("detail", "") if response.content else ""
            raise TransportError(f"the relay answered {response.status_code}: {detail}")
        try:
            answer = serde.decode(self._box.decrypt(response.content))
        except CryptoError:
            raise ProtocolError(
                "the answer through the network was not sealed by the domain's key: refused"
            ) from None
        if not isinstance(answer, dict):
            raise ProtocolError("the domain's answer is not a map")
        if not answer.get("ok"):
            raise error_from_wire(answer.get("error") or {})
        return answer

    def _login(self) -> None:
        email, password = self._credentials
        self._token = str(
            self._exchange({"op": "login", "email": email, "password": password})["token"]
        )

    def logout(self) -> None:
        """Revoke the token on the domain and forget the password (idempotent)."""
        token, self._token, self._credentials = self._token, "", ("", "")
        self._logged_out = True
        if token and not self._http.is_closed:
            try:
                self._exchange({"op": "logout", "token": token})
            except AuthError:  # expired, or logged out already
                pass

    def call(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        if self._logged_out:
            raise UsageError("this session was logged out: log in again through the network")
        data = bytes(encode_message(Message(kind, body or {})))
        for attempt in (0, 1):
            try:
                answer = self._exchange({"op": "message", "token": self._token, "message": data})
            except AuthError:
                if attempt:
                    raise
                self._login()  # an expired token: log in again, once
                continue
            return decode_reply(answer["reply"]).unwrap()

    def close(self) -> None:
        self._http.close()
