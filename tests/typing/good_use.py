"""Correct uses of typed messages: mypy must accept them (checked by tests/test_typing.py)."""

from unseen.client import Client
from unseen.messages.dp import DP_BUDGET, DP_HISTORY, DPBudgetRequest, DPHistoryRequest, DPRelease
from unseen.messages.info import NODE_INFO, NodeInfoRequest
from unseen.messages.mpc import MPC_TRUST, MPCTrustRequest
from unseen.messages.objects import OBJECT_INFO, SEARCH, ObjectIdRequest, SearchRequest
from unseen.messages.quotas import QUOTA_SETTINGS, QuotaSettingsRequest
from unseen.messages.users import USER_CREATE, USER_LIST, UserCreateRequest, UserListRequest


def use(client: Client) -> list[str]:
    made = client.ask(USER_CREATE, UserCreateRequest(email="a@b.c", password="x", budget=1))
    budget: float = made.budget
    emails = [u.email for u in client.ask(USER_LIST, UserListRequest())]
    kinds: list[str] = client.ask(NODE_INFO, NodeInfoRequest()).kinds
    trusted = client.ask(MPC_TRUST, MPCTrustRequest(role="dealer", key="ab" * 32))
    dealers: list[str] = [t.label for t in trusted.dealers + client.mpc.policy.parties]
    tags: list[str] = client.ask(OBJECT_INFO, ObjectIdRequest(id="x" * 8)).tags
    found = [v.id for v in client.ask(SEARCH, SearchRequest(query="#a"))]
    return [*emails, *kinds, *dealers, *tags, *found, str(budget), client.me.email]


def use_dp_and_quotas(client: Client) -> float:
    remaining: float = client.ask(DP_BUDGET, DPBudgetRequest()).remaining
    history: list[DPRelease] = client.ask(DP_HISTORY, DPHistoryRequest())
    limits = client.ask(QUOTA_SETTINGS, QuotaSettingsRequest(max_waiting=None, workers=4))
    return remaining + len(history) + limits.max_waiting


def use_requests(client: Client, request_id: str) -> list[str]:
    from unseen.messages.datasets import DATASET_LIST, DatasetListRequest
    from unseen.messages.requests import REQUEST_WAIT, RequestWaitRequest

    view = client.ask(REQUEST_WAIT, RequestWaitRequest(id=request_id, timeout=1))
    decided: float | None = view.decided_at
    assets = [a.object_id for d in client.ask(DATASET_LIST, DatasetListRequest()) for a in d.assets]
    handlers = [h.action for h in client.requests.handlers]
    return [*assets, *handlers, view.status, str(decided), client.datasets[0].name]
