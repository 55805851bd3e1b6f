"""Every read path asks the one release rule (``unseen/node/_policy.py``, ``may_read``).

Each message kind of the node, the network node's kinds and the server's HTTP endpoints is
classified here as a read path (it returns a value, or information derived from one) or not,
with the reason. A new kind is unclassified until someone decides, and the coverage test fails.

For each read path a probe asks for data the caller may read (her own upload, what derives from
it): with the real rule it answers, checked against numpy/torch. Then every binding of the one
policy function is replaced by one that denies everything, and every probe must refuse (or
answer without the derived information). A path with its own copy of the rule still answers,
and the test names it. A planted route that returns values without asking the rule is caught.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import unseen
from unseen import ops
from unseen.client._mpc import close_sessions
from unseen.messages import KINDS
from unseen.network import NETWORK_KINDS
from unseen.node import _policy, build_routes
from unseen.node._principal import ANYONE
from unseen.node._routes import Route
from unseen.server import ACCESS

ROUTES = build_routes()  # the node's route table (every Node answers from this one)

SECRET = np.arange(6.0) * 1.5  # the caller's own upload: the rule lets her read it

#: kinds that return a value or information derived from a stored object: the probes that
#: exercise each (a probe can serve several kinds when one delegates to the other)
READ_PATHS: dict[str, tuple[str, ...]] = {
    "object.get": ("object.get",),
    "object.info": ("object.info meta",),
    "object.tag": ("object.tag meta",),
    "object.mock": ("object.mock",),
    "graph.run": (
        "graph.run get stored",
        "graph.run get computed",
        "graph.run kept family",
        "graph.run failure detail",
    ),
    "request.create": ("request.create auto-accept",),
    "request.result": ("request.result",),
    "dp.get": ("dp.get exact",),
    "mpc.input": ("mpc reveal",),  # the input's value leaves only by a reveal
    "mpc.request": ("mpc.request auto-accept",),
    "job.logs": ("job.logs",),  # the approved code output is read through object.get
    "train.fit": ("train.fit losses", "train.fit standing approval", "train.fit standing losses"),
    "train.progress": ("train.progress losses",),
    "train.approval": ("train.approval auto-accept",),
}

#: read paths known to answer without asking the rule, each with its test; the guard fails
#: when one is fixed (remove it here) or when another path joins them
KNOWN_LEAKS: dict[str, str] = {}

#: kinds that return nothing derived from a stored object's value, and why
NOT_READ_PATHS: dict[str, str] = {
    "quota.usage": "stored bytes count only objects derived from the caller's own and public "
    "data (unseen.store._records.counted_size; test_stored_bytes_do_not_tell_a_private_"
    "results_size)",
    "node.info": "the node's name, id, version, kinds and the caller's role",
    "object.send": "stores the caller's value; replies with its own public meta",
    "object.drop": "a count of the caller's objects dropped",
    "request.list": "request views: the caller's own recipes and the decisions, no values",
    "request.wait": "the same request view as request.list, once decided",
    "request.decide": "admins only: a decision",
    "handler.add": "admins only: the owner's policy",
    "handler.list": "admins only",
    "handler.remove": "admins only",
    "store.list": "leaves only (no parents): meta published at upload; object_view asks "
    "may_read before showing a derived object's meta",
    "search": "the same listing as store.list, filtered by tags and text",
    "dataset.upload": "admins only: stores data",
    "dataset.list": "datasets and the metadata their owner declared",
    "dataset.delete": "admins only",
    "user.create": "accounts",
    "user.list": "accounts",
    "user.update": "accounts",
    "user.delete": "accounts",
    "user.me": "the caller's own account",
    "user.password": "accounts",
    "dp.budget": "the caller's ledger balance, no object",
    "dp.history": "the caller's own DP releases (answers released already)",
    "dp.spend": "admins only: the ledger",
    "dp.settings": "admins only: the node's delta",
    "mpc.join": "starts a party or dealer runtime: its address",
    "mpc.mesh": "endpoints' addresses",
    "mpc.leave": "ends a session",
    "mpc.policy": "admins only: trusted keys",
    "mpc.trust": "admins only",
    "mpc.untrust": "admins only",
    "network.join": "admins only: registration status",
    "network.leave": "admins only",
    "network.list": "admins only: networks joined",
    "quota.settings": "admins only: the per-user quotas",
    "code.request": "a request view of the caller's own submission; accepted by the rule only "
    "when the caller may read every input (a status, no value)",
    "code.mock": "admins only: the function's value on the inputs' mocks (check_release on "
    "each mock: public objects)",
    "job.run": "starts a job of the caller's accepted code request; replies with its job view",
    "job.list": "job views: a coarse status, and timing rounded (CPU seconds withheld) unless "
    "the rule lets the caller read every input; the value and logs are objects read through "
    "the rule (docs/code.md, 'What a job shows')",
    "job.get": "the same job view as job.list",
    "job.wait": "the same job view as job.list, once the job ended",
    "job.cancel": "stops the caller's job; its job view",
    "job.release_logs": "admins only: a grant",
    "code.settings": "admins only: the job settings",
    # the network node keeps no data
    "registry.list": "registrations",
    "registry.decide": "registrations",
    "registry.remove": "registrations",
    "registry.domains": "approved domains and the catalogs their owners published",
    "registry.search": "the published catalogs",
}

#: HTTP endpoints of the domain server, and why each asks the rule or need not
ENDPOINTS: dict[str, str] = {
    "/": "a page naming the node",
    "/api/v1/logout": "revokes the caller's token",
    "/api/v1/message": "a message to Node.handle: the kinds above",
    "/api/v1/reply/{ticket}": "the reply of such a message",
    "/api/v1/ws": "messages to Node.handle: the kinds above",
    "/api/v1/upload": "stages the caller's own value; replies with its public meta",
    "/api/v1/health": "no data",
    "/api/v1/info": "the node's public info",
    "/api/v1/login": "a token",
    "/docs": "the API page",
    "/docs/oauth2-redirect": "the API page",
    "/openapi.json": "the API schema",
}


def unclassified(kinds: set[str]) -> set[str]:
    """Kinds that are neither read paths nor declared otherwise (a decision is missing)."""
    return kinds - set(READ_PATHS) - set(NOT_READ_PATHS)


def all_kinds() -> set[str]:
    return set(KINDS) | set(ROUTES) | set(NETWORK_KINDS)


# -- the world: an owner's node, a scientist's own data, and what derives from it ----------
def nid() -> str:
    return uuid.uuid4().hex


@dataclass
class World:
    node: unseen.VirtualWorker
    ana: unseen.Client
    own: str  # Ana's upload (SECRET)
    derived: str  # own * 2, kept on the node
    asset: str  # a dataset asset with a mock
    accepted: str  # Ana's request for ``derived``, accepted by the release rule
    mpc: Any  # a shared tensor of Ana's own upload, across three nodes
    standin: str  # the object of Ana's MPC request for it (derived: it has parents and meta)
    job: str  # a job of Ana's code on her own upload (auto-accepted), done


def run(ana: unseen.Client, actions: list[ops.Action], keep: list[str], get: list[str]) -> Any:
    return ana.call("graph.run", {"actions": actions, "keep": keep, "get": get})


@pytest.fixture
def world() -> Iterator[World]:
    node = unseen.VirtualWorker(name="Clinic")
    ds = unseen.Dataset(name="stays", description="a dataset with a mock")
    ds.add_asset(name="stays", data=np.full((4, 2), 7.0), mock=np.zeros((4, 2)))
    node.upload_dataset(ds)
    ana = node.new_client("Ana")
    own = ana.send(SECRET).id
    double = ops.Action(nid(), "method", "__mul__", (ops.Ref(own), 2))
    run(ana, [double], keep=[double.id], get=[])
    asset = ana.search("stays", verbose=False)[0].id
    accepted = ana.call("request.create", {"object_id": double.id, "name": "mine"})
    assert accepted["status"] == "accepted"
    others = [unseen.VirtualWorker(name=n) for n in ("Mercy", "General")]
    parties = [ana, *(w.new_client("Ana") for w in others)]
    crypto = unseen.VirtualWorker(name="crypto")
    shared = ana.send(np.arange(3.0)).share(*parties, crypto_provider=crypto)
    standin = shared.request(name="mine").requests[0].object_id

    @unseen.function(data=ana.store[own])
    def total(data):  # type: ignore[no-untyped-def]
        print(data.sum())
        return data.sum()

    assert ana.code.request(total).status == "accepted"  # her own data: the rule accepts
    job = ana.code.run(total).wait(60)
    yield World(node, ana, own, double.id, asset, accepted["id"], shared, standin, job.id)
    close_sessions()
    node.close()


# -- the probes: each returns what the path yields, or None when it yields nothing ----------
Probe = Callable[[World], Any]


def _detail(w: World) -> Any:
    bad = ops.Action(nid(), "method", "reshape", (ops.Ref(w.own), 7))
    try:
        reply = run(w.ana, [bad], keep=[bad.id], get=[])
    except unseen.RemoteError as exc:
        return str(exc) if "cannot reshape" in str(exc) else None
    return reply["kept"][bad.id]  # the family of a failed result is "failed": derived too


def _fit_request(w: World, epochs: int = 1, progress: str | None = None) -> Any:
    """A fit of a one-layer model on Ana's own tensors: its losses are hers to see."""
    from unseen.messages.training import FitRequest

    x = w.ana.send(torch.tensor(SECRET, dtype=torch.float32).reshape(6, 1)).id
    weight, bias = w.ana.send(torch.ones(1, 1)).id, w.ana.send(torch.zeros(1)).id
    linear = {"in_features": 1, "out_features": 1, "bias": True}
    return FitRequest(
        architecture={"type": "Sequential", "children": [["0", {"type": "Linear", "args": linear}]]},
        names=["0.weight", "0.bias"], parameters=[weight, bias], data=x, target=x, loss="mse",
        optimizer="sgd", lr=1e-3, epochs=epochs, batch_size=6, seed=0, progress=progress,
    )  # fmt: skip


def _fit_losses(w: World) -> Any:
    from unseen.messages.training import TRAIN_FIT

    return w.ana.ask(TRAIN_FIT, _fit_request(w)).history[0].loss


def _progress_losses(w: World) -> Any:
    """The loss of an epoch done, polled from ``train.progress`` while the fit runs."""
    import threading

    from unseen.messages.training import TRAIN_FIT, TRAIN_PROGRESS, FitProgressRequest

    name = nid()
    request = _fit_request(w, epochs=3000, progress=name)
    fit = threading.Thread(target=lambda: w.ana.ask(TRAIN_FIT, request))
    fit.start()
    done: list[Any] = []
    while fit.is_alive() and not done:
        done = w.ana.ask(TRAIN_PROGRESS, FitProgressRequest(fit=name)).done
    fit.join()
    assert done, "the fit ended before a poll saw an epoch: make it longer"
    return done[0].loss


_LINEAR = {"type": "Sequential", "children": [
    ["0", {"type": "Linear", "args": {"in_features": 2, "out_features": 2, "bias": True}}]]}  # fmt: skip
_CONFIG: dict[str, Any] = {"architecture": _LINEAR, "loss": "mse", "optimizer": "sgd",
                           "lr": 1e-3, "epochs": 1, "batch_size": 4}  # fmt: skip


def _approval(w: World) -> Any:
    """A standing approval of fits on Ana's own upload: the rule accepts it as filed."""
    from unseen.messages.training import TRAIN_APPROVAL, ApprovalRequest

    fresh = {**_CONFIG, "lr": 1e-3 + int(nid()[:6], 16) * 1e-12}  # not one filed before
    view = w.ana.ask(TRAIN_APPROVAL, ApprovalRequest(**fresh, rounds=1, data=w.own, target=w.own))
    return view.status if view.status == "accepted" else None


def _standing_fit(w: World) -> Any:
    """A fit on the private asset under the owner's standing approval (its reply)."""
    from unseen.messages.requests import REQUEST_DECIDE, RequestDecideRequest
    from unseen.messages.training import TRAIN_APPROVAL, TRAIN_FIT, ApprovalRequest, FitRequest

    data = unseen.torch.as_tensor(w.ana.search("stays", verbose=False)[0], dtype=torch.float32)
    data = data.compute().id  # a tensor derived from the private asset
    view = w.ana.ask(TRAIN_APPROVAL, ApprovalRequest(**_CONFIG, rounds=1, data=data, target=data))
    w.node.ask(REQUEST_DECIDE, RequestDecideRequest(id=view.id, action="accept"))  # the owner
    weight = w.ana.send(torch.ones(2, 2)).id
    bias = w.ana.send(torch.zeros(2)).id
    reply = w.ana.ask(TRAIN_FIT, FitRequest(
        **_CONFIG, names=["0.weight", "0.bias"], parameters=[weight, bias], data=data,
        target=data, seed=0, approval=view.id,
    ))  # fmt: skip
    return reply


def _standing_weights(w: World) -> Any:
    """Its new weights are released to Ana: a read grant that the one rule honours."""
    return w.ana.call("object.get", {"id": _standing_fit(w).parameters[0]})


def _standing_losses(w: World) -> Any:
    """Its training losses are released with them, asking the one rule too."""
    return _standing_fit(w).history[0].loss


def _one_step_locally() -> Any:
    """The oracle of the standing-approval probe: torch's own SGD step on the asset."""
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    x = torch.full((4, 2), 7.0)
    torch.nn.functional.mse_loss(model(x), x).backward()
    assert model.weight.grad is not None
    return (model.weight - 1e-3 * model.weight.grad).detach().numpy()


def _mpc_request(w: World) -> Any:
    status = w.mpc.request(name=nid()).requests[0].status  # as created, no refresh
    return status if status == "accepted" else None


PROBES: dict[str, Probe] = {
    "object.get": lambda w: w.ana.call("object.get", {"id": w.own}),
    "object.info meta": lambda w: w.ana.call("object.info", {"id": w.standin})["meta"] or None,
    "object.tag meta": lambda w: (
        w.ana.call("object.tag", {"id": w.standin, "tags": ["#t"]})["meta"] or None
    ),
    "object.mock": lambda w: w.ana.call("object.mock", {"id": w.asset}),
    "graph.run get stored": lambda w: run(w.ana, [], [], [w.own])["values"][0],
    "graph.run get computed": lambda w: (lambda a: run(w.ana, [a], [], [a.id])["values"][0])(
        ops.Action(nid(), "method", "__add__", (ops.Ref(w.own), 1))
    ),
    "graph.run kept family": lambda w: (lambda a: run(w.ana, [a], [a.id], [])["kept"][a.id])(
        ops.Action(nid(), "method", "__add__", (ops.Ref(w.own), 1))
    ),
    "graph.run failure detail": _detail,
    "request.create auto-accept": lambda w: (
        lambda r: r["status"] if r["status"] == "accepted" else None
    )(w.ana.call("request.create", {"object_id": w.derived, "name": nid()})),
    "request.result": lambda w: w.ana.call("request.result", {"id": w.accepted}),
    "dp.get exact": lambda w: w.ana.call(
        "dp.get", {"actions": [], "target": w.own, "epsilon": 0.1}
    )["value"],
    "mpc reveal": lambda w: w.mpc.get(),
    "mpc.request auto-accept": _mpc_request,
    "job.logs": lambda w: w.ana.call("job.logs", {"id": w.job})["stdout"],
    "train.fit losses": _fit_losses,
    "train.progress losses": _progress_losses,
    "train.fit standing approval": _standing_weights,
    "train.fit standing losses": _standing_losses,
    "train.approval auto-accept": _approval,
}

#: what each probe yields under the real rule (numpy/torch oracles)
ORACLES: dict[str, Callable[[Any], bool]] = {
    "object.get": lambda v: np.array_equal(v, SECRET),
    "object.info meta": lambda v: v["family"] == "mpc",
    "object.tag meta": lambda v: v["family"] == "mpc",
    "object.mock": lambda v: np.array_equal(v, np.zeros((4, 2))),
    "graph.run get stored": lambda v: np.array_equal(v, SECRET),
    "graph.run get computed": lambda v: np.array_equal(v, SECRET + 1),
    "graph.run kept family": lambda v: v == "ndarray",
    "graph.run failure detail": lambda v: "cannot reshape array of size 6" in v,
    "request.create auto-accept": lambda v: v == "accepted",
    "request.result": lambda v: np.array_equal(v, SECRET * 2),
    "dp.get exact": lambda v: np.array_equal(v, SECRET),
    "mpc reveal": lambda v: torch.allclose(v, torch.arange(3.0, dtype=v.dtype)),
    "mpc.request auto-accept": lambda v: v == "accepted",
    "job.logs": lambda v: v.strip() == str(SECRET.sum()),
    # one batch of all six rows from weight 1, bias 0: the loss is 0 (x predicts x)
    "train.fit losses": lambda v: v == 0.0,
    "train.progress losses": lambda v: v == 0.0,
    "train.fit standing approval": lambda v: np.allclose(np.asarray(v), _one_step_locally()),
    # the first batch's loss from weight 1, bias 0 on rows of 7s: (7 + 7 - 7) ** 2
    "train.fit standing losses": lambda v: v == 49.0,
    "train.approval auto-accept": lambda v: v == "accepted",
}


def _policy_bindings() -> list[tuple[Any, str]]:
    """Every module attribute of unseen that is the one policy function."""
    rule = _policy.may_read
    found = []
    for name, module in list(sys.modules.items()):
        if name == "unseen" or name.startswith("unseen."):
            found += [(module, attr) for attr, v in list(vars(module).items()) if v is rule]
    return found


def deny_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the one policy function, wherever it is bound, by one that denies all."""
    bindings = _policy_bindings()
    assert (_policy, "may_read") in bindings
    for module, attr in bindings:
        monkeypatch.setattr(module, attr, lambda principal, record: False)


def answered(probes: dict[str, Probe], w: World) -> dict[str, str]:
    """The probes that yielded something (an error that shows no data counts as a refusal)."""
    out = {}
    for name, probe in probes.items():
        try:
            got = probe(w)
        except unseen.UnseenError as exc:
            assert "cannot reshape" not in str(exc), f"{name} refused with the detail: {exc}"
            continue
        if got is not None:
            out[name] = repr(got)[:80]
    return out


# -- the tests ------------------------------------------------------------------------------
def test_every_kind_and_endpoint_is_classified() -> None:
    assert unclassified(all_kinds()) == set()
    assert not set(READ_PATHS) & set(NOT_READ_PATHS)
    assert set(READ_PATHS) | set(NOT_READ_PATHS) == all_kinds()  # no stale entries
    assert set(ENDPOINTS) == set(ACCESS)
    assert {p for probes in READ_PATHS.values() for p in probes} == set(PROBES) == set(ORACLES)


def test_every_read_path_asks_the_one_rule(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, probe in PROBES.items():  # the real rule: each answers, as the oracle says
        got = probe(world)
        assert got is not None and ORACLES[name](got), f"{name} gave {got!r}"
    deny_everything(monkeypatch)
    leaks = answered(PROBES, world)
    assert set(leaks) == set(KNOWN_LEAKS), (
        f"read paths that answered with the release rule denying all: {leaks} "
        f"(known leaks: {sorted(KNOWN_LEAKS)}; remove one from KNOWN_LEAKS once fixed)"
    )


def test_a_new_kind_is_caught_until_classified(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planted: a route that returns a stored value without asking the rule."""

    def peek(node: Any, principal: Any, body: dict[str, Any]) -> Any:
        return node.stores.objects.value(body["id"])

    monkeypatch.setitem(ROUTES, "object.peek", Route("object.peek", ANYONE, peek))
    assert unclassified(all_kinds()) == {"object.peek"}  # the coverage test fails
    # classified as a read path with its probe, the denying rule does not stop it: caught
    probe: dict[str, Probe] = {"object.peek": lambda w: w.ana.call("object.peek", {"id": w.own})}
    np.testing.assert_array_equal(probe["object.peek"](world), SECRET)
    deny_everything(monkeypatch)
    assert set(answered(probe, world)) == {"object.peek"}
    assert answered({"object.get": PROBES["object.get"]}, world) == {}  # the real one refuses


def test_stored_bytes_do_not_tell_a_private_results_size() -> None:
    """A filter's row count on someone else's data must not show in the caller's quota use."""
    node = unseen.VirtualWorker(name="Clinic")
    ds = unseen.Dataset(name="d", description="100 private values")
    data = np.arange(100.0)
    ds.add_asset(name="d", data=data, mock=np.zeros(100))
    node.upload_dataset(ds)
    eve = node.new_client("Eve")
    asset = eve.search("d", verbose=False)[0].id
    grown = []
    for threshold in (10.0, 90.0):  # 89 rows, then 9: the sizes must not differ
        before = eve.call("quota.usage")["stored_bytes"]
        mask = ops.Action(nid(), "method", "__gt__", (ops.Ref(asset), threshold))
        rows = ops.Action(nid(), "method", "__getitem__", (ops.Ref(asset), ops.Ref(mask.id)))
        run(eve, [mask, rows], keep=[rows.id], get=[])
        with pytest.raises(unseen.CannotRequestPrivateData):
            run(eve, [], keep=[], get=[rows.id])
        grown.append(eve.call("quota.usage")["stored_bytes"] - before)
    assert grown[0] == grown[1], f"stored bytes grew by {grown}: {(data > 10).sum()} vs 9 rows"
