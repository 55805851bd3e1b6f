"""A URL of the wrong kind of node says which kind answered (issue 19): a scientist who logs in to
a network, or connects to a domain as if it were a network, learns what to call instead."""

from __future__ import annotations

from typing import Any

import pytest

import unseen

from .conftest import ANA


def test_login_to_a_network_says_it_is_a_network(network: Any) -> None:
    with pytest.raises(unseen.AuthError, match=r"network node 'Research Net'.*connect_network"):
        unseen.login(url=network.url, email=ANA[0], password=ANA[1], verbose=False)


def test_connect_network_on_a_domain_says_it_is_a_domain(domains: list[dict[str, Any]]) -> None:
    url, name = domains[0]["running"].url, domains[0]["name"]
    with pytest.raises(unseen.UsageError, match=rf"domain node '{name}'.*unseen\.login"):
        unseen.connect_network(url)


def test_a_wrong_password_on_a_domain_says_only_that(domains: list[dict[str, Any]]) -> None:
    url = domains[0]["running"].url
    with pytest.raises(unseen.AuthError) as caught:
        unseen.login(url=url, email=ANA[0], password="not-the-password", verbose=False)
    assert "network" not in str(caught.value)
