"""Register, approve, list, search across domains, and log in to a domain through a result."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pytest

import unseen

ANA = ("ana@uni.edu", "ana-pw-123")


def test_registrations_wait_for_the_owner(
    network: Any, domains: list[dict[str, Any]], netowner: unseen.Client
) -> None:
    net = unseen.connect_network(network.url)
    domains[0]["owner"].join_network(network.url, heartbeat_s=0.2)
    regs = netowner.registrations
    assert [r["name"] for r in regs] == ["May Clinic"] and regs[0]["status"] == "pending"
    assert net.domains == [] and net.search("#diabetes", verbose=False).total == 0
    with pytest.raises(unseen.UsageError, match="registrations live on networks"):
        _ = domains[0]["owner"].registrations


def test_domains_are_listed_once_approved(joined: list[dict[str, Any]], network: Any) -> None:
    net = unseen.connect_network(network.url)
    listed = {d.name: d for d in net.domains}
    assert set(listed) == {"May Clinic", "Oak Hospital", "Pine Lab"}
    clinic = listed["May Clinic"]
    assert clinic.online and clinic["datasets"] == 1 and clinic["description"] == "test"
    assert clinic.url == joined[0]["running"].url and clinic["last_seen"] > time.time() - 5
    assert "online" in repr(clinic)


def test_search_across_domains_in_the_seed_format(
    joined: list[dict[str, Any]], network: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    net = unseen.connect_network(network.url)
    found = net.search("#diabetes")
    printed = capsys.readouterr().out
    assert printed.startswith("Found 4 results in total. (from 2 domains)")
    assert "Tag Profile:\n  #diabetes found 4" in printed
    assert {r.domain.name for r in found} == {"May Clinic", "Oak Hospital"}
    first = found[0]
    assert first["shape"] in ([8, 3], [8]) and first["dtype"] == "float64"
    assert "data" not in first and "mock" not in first  # metadata only
    assert "May Clinic" in repr(found)
    # text search over names and descriptions, not just tags
    assert {r.domain.name for r in net.search("glucose", verbose=False)} == {"Oak Hospital"}
    assert {r.domain.name for r in net.search("rare disease", verbose=False)} == {"Pine Lab"}
    assert net.search("#nothing-like-this", verbose=False).total == 0


def test_a_result_leads_to_the_pointer_on_its_domain(
    joined: list[dict[str, Any]], network: Any
) -> None:
    net = unseen.connect_network(network.url)
    result = next(r for r in net.search("glucose", verbose=False) if r["name"] == "target")
    ana = result.domain.login(email=ANA[0], password=ANA[1], verbose=False)
    assert ana.node_name == "Oak Hospital"
    pointer = result.pointer(ana)
    request = (pointer + 1).sum().request(name="sum", reason="network test")
    joined[1]["owner"].requests[-1].accept()
    assert request.get() == pytest.approx(np.arange(8.0).sum() + 8)
    ana.close()


def test_publish_limits_what_reaches_the_network(
    joined: list[dict[str, Any]], network: Any
) -> None:
    owner = joined[2]["owner"]
    secret = unseen.Dataset(name="Unlisted", description="zebra study", tags=["#zebra"])
    secret.add_asset(name="x", data=np.ones(2), mock=np.zeros(2))
    owner.upload_dataset(secret)
    net = unseen.connect_network(network.url)
    deadline = time.time() + 5
    while net.search("#zebra", verbose=False).total == 0 and time.time() < deadline:
        time.sleep(0.1)  # new datasets are published with the next heartbeat
    assert net.search("#zebra", verbose=False).total == 1
    owner.join_network(network.url, heartbeat_s=0.2, publish=["Pine Lab data"])
    assert net.search("#zebra", verbose=False).total == 0
    assert net.search("#genomics", verbose=False).total == 2


def test_models_are_registered_and_searched(joined: list[dict[str, Any]], network: Any) -> None:
    model = {"name": "RetinaNet", "description": "retina scans classifier", "tags": ["#vision"]}
    joined[0]["owner"].join_network(network.url, heartbeat_s=0.2, models=[model])
    net = unseen.connect_network(network.url)
    found = net.search_models("retina")
    assert [m["name"] for m in found] == ["RetinaNet"]
    assert found[0]["domain"]["name"] == "May Clinic"
    assert net.search_models("#nothing") == []
    with pytest.raises(unseen.UsageError, match="metadata only"):
        joined[0]["owner"].join_network(network.url, models=[{"name": "m", "weights": {"a": 1}}])


def test_rejected_registrations_stay_out(
    network: Any, netowner: unseen.Client, tmp_path: Any
) -> None:
    running = unseen.launch_domain(
        name="Shady Corp", data_dir=tmp_path / "shady", owner_email="o@shady.org",
        owner_password="owner-pw-123",
    )  # fmt: skip
    try:
        owner = unseen.login(
            url=running.url, email="o@shady.org", password="owner-pw-123", verbose=False
        )
        owner.join_network(network.url)
        shady = next(r for r in netowner.registrations if r["name"] == "Shady Corp")
        assert shady.reject(reason="not a research body")["status"] == "rejected"
        with pytest.raises(unseen.AuthError, match="not a research body"):
            owner.join_network(network.url)
        assert "Shady Corp" not in {d.name for d in unseen.connect_network(network.url).domains}
        netowner.call("registry.remove", {"id": "Shady Corp"})
        owner.close()
    finally:
        running.stop()


def test_network_refuses_domain_messages_and_checks_roles(
    joined: list[dict[str, Any]], network: Any, netowner: unseen.Client
) -> None:
    with pytest.raises(unseen.UsageError, match="a network node keeps no data"):
        netowner.call("dataset.list")
    netowner.users.create(email="viewer@research.org", password="viewer-pw-1", role="guest")
    viewer = unseen.login(
        url=network.url, email="viewer@research.org", password="viewer-pw-1", verbose=False
    )
    with pytest.raises(unseen.PermissionDenied):
        viewer.call("registry.decide", {"id": "May Clinic", "action": "reject"})
    assert len(viewer.call("registry.domains")) == 3
    viewer.close()


def test_registry_page_escapes_and_searches(joined: list[dict[str, Any]], network: Any) -> None:
    page = httpx.get(network.url + "/", params={"q": "<script>#diabetes"}).text
    assert "<script>#diabetes" not in page and "&lt;script&gt;#diabetes" in page
    page = httpx.get(network.url + "/", params={"q": "#diabetes"}).text
    assert "Found 4 results in total." in page and "Oak Hospital" in page
    assert 'id="domains"' in page and "Pine Lab" in page
