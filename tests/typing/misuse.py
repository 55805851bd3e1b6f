"""Misuses of typed messages that mypy must reject (checked by tests/test_typing.py).

Every line marked ``# E: <code>`` must get that mypy error (``misc`` is mypy's "cannot infer
the request type": the request is not the kind's); the file is never imported.
"""

from unseen.client import Client
from unseen.messages.dp import DP_BUDGET, DPBudgetRequest
from unseen.messages.info import NODE_INFO
from unseen.messages.mpc import MPC_TRUST, MPCUntrustRequest
from unseen.messages.network import REGISTRY_DECIDE, RegistryListRequest
from unseen.messages.objects import GRAPH_RUN, OBJECT_INFO, ObjectIdRequest
from unseen.messages.quotas import QuotaSettingsRequest
from unseen.messages.requests import REQUEST_WAIT, RequestDecideRequest
from unseen.messages.users import USER_CREATE, USER_ME, UserCreateRequest, UserMeRequest


def misuse(client: Client) -> None:
    client.ask(USER_ME, UserCreateRequest(email="a@b.c", password="x"))  # E: misc
    UserCreateRequest(email="a@b.c", password="x", budget="lots")  # E: arg-type
    UserCreateRequest(email="a@b.c")  # E: call-arg
    made = client.ask(USER_CREATE, UserCreateRequest(email="a@b.c", password="x"))
    print(made.emial)  # E: attr-defined
    client.ask(NODE_INFO, UserMeRequest())  # E: misc
    name: int = client.me.name  # E: assignment
    print(name)
    client.ask(MPC_TRUST, MPCUntrustRequest(role="party", key="ab" * 32))  # E: misc
    print(client.mpc.policy["dealers"])  # E: index
    print(client.ask(DP_BUDGET, DPBudgetRequest()).remaning)  # E: attr-defined
    QuotaSettingsRequest(max_waiting="3")  # E: arg-type
    client.ask(REGISTRY_DECIDE, RegistryListRequest())  # E: misc
    client.ask(REQUEST_WAIT, RequestDecideRequest(id="r1", action="accept"))  # E: misc
    client.ask(GRAPH_RUN, ObjectIdRequest(id="x"))  # E: misc
    print(client.ask(OBJECT_INFO, ObjectIdRequest(id="x"))["meta"])  # E: index
