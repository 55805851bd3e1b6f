"""Logging in to a domain server: ``unseen.login(url, email, password)`` and ``GridClient``."""

from __future__ import annotations

from typing import Any

from unseen.client._client import Client
from unseen.errors import AuthError, UsageError


def login(
    url: str | None = None,
    email: str | None = None,
    password: str | None = None,
    *,
    transport: str = "auto",
    verbose: bool = True,
) -> Client:
    """A session with the node at ``url`` as the user with this email and password.

    Small messages travel over one WebSocket and large ones over HTTP (``transport="http"``
    or ``"websocket"`` forces one). The password stays in memory, to log in again when the
    token expires. Raises ``AuthError`` for a wrong email or password and ``TransportError``
    when the node cannot be reached.
    """
    from unseen.transport import connect

    if not url:
        raise UsageError(
            "give the node's URL: unseen.login(url='http://127.0.0.1:8081', email=..., password=...)"
        )
    if not email or not password:
        raise UsageError(
            f"log in to {url} with your email and password: unseen.login(url, email=..., password=...)"
        )
    if verbose:
        print(f"Connecting to {url}...", end=" ", flush=True)
    try:
        connection = connect(url, email, password, transport=transport)
    except AuthError as exc:
        if verbose:
            print("failed.")
        network = _network_name(url)
        if network is None:
            raise
        raise AuthError(
            f"{exc}: {url} is the network node {network!r}, which keeps only its owner's and "
            "admins' accounts. Data lives on domains: find them with "
            "unseen.connect_network(url).search(...), then log in with result.domain.login(...)"
        ) from None
    except BaseException:
        if verbose:
            print("failed.")
        raise
    try:
        client = Client(connection)
    except BaseException:
        connection.close()
        if verbose:
            print("failed.")
        raise
    if verbose:
        print("Connected!")
    return client


def _network_name(url: str) -> str | None:
    """The name of the network node at ``url``, or None if it is not one (or does not say)."""
    import httpx

    try:
        info = httpx.get(url.rstrip("/") + "/network/v1/info", timeout=2.0).json()
    except (httpx.HTTPError, ValueError):
        return None
    if isinstance(info, dict) and info.get("node_type") == "network":
        return str(info.get("name", "?"))
    return None


def GridClient(  # the seed's spelling: a function that reads as a class
    url: str | None = None, username: str | None = None, password: str | None = None, **kwargs: Any
) -> Client:
    """The seed's spelling of :func:`login`: ``GridClient(url=..., username=..., password=...)``."""
    email = kwargs.pop("email", None) or username
    return login(url=url, email=email, password=password, **kwargs)
