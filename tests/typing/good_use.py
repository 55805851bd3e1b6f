"""Correct uses of typed messages: mypy must accept them (checked by tests/test_typing.py)."""

from unseen.client import Client
from unseen.messages.info import NODE_INFO, NodeInfoRequest
from unseen.messages.mpc import MPC_TRUST, MPCTrustRequest
from unseen.messages.users import USER_CREATE, USER_LIST, UserCreateRequest, UserListRequest


def use(client: Client) -> list[str]:
    made = client.ask(USER_CREATE, UserCreateRequest(email="a@b.c", password="x", budget=1))
    budget: float = made.budget
    emails = [u.email for u in client.ask(USER_LIST, UserListRequest())]
    kinds: list[str] = client.ask(NODE_INFO, NodeInfoRequest()).kinds
    trusted = client.ask(MPC_TRUST, MPCTrustRequest(role="dealer", key="ab" * 32))
    dealers: list[str] = [t.label for t in trusted.dealers + client.mpc.policy.parties]
    return [*emails, *kinds, *dealers, str(budget), client.me.email]
