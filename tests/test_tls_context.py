"""A session to an http:// node builds no TLS context, and https:// sessions share one (each
new context loaded the CA bundle: about 50 ms of every login, issue 20)."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from unseen.transport import http_client


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    loads = [0]
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads


def test_plain_http_builds_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = _count_loads(monkeypatch)
    for _ in range(3):
        http_client("http://127.0.0.1:1").close()
    assert loads[0] == 0


def test_https_sessions_share_one_context(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = _count_loads(monkeypatch)
    clients = [http_client("https://127.0.0.1:1") for _ in range(3)]
    assert loads[0] <= 1
    for c in clients:
        c.close()
