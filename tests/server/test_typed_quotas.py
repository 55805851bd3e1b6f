"""The typed ``quota.*`` kinds, in process and over a real domain server: a setting left unset
stays, ``None`` puts it back to its default (also from a protocol-1.0 body), and the caller's
use comes back typed; the oracle is the node's scheduler and store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from server_support import ServerProcess

import unseen
from unseen.messages.quotas import (
    QUOTA_SETTINGS,
    QUOTA_USAGE,
    QuotaSettingsRequest,
    QuotaSettingsView,
    QuotaUsage,
    QuotaUsageRequest,
)
from unseen.node import QuotaSettings

DEFAULTS = QuotaSettings()
ANA = ("ana@uni.edu", "ana-pw-123")


def test_settings_change_what_is_given_and_reset_what_is_none() -> None:
    worker = unseen.VirtualWorker(name="May Clinic")
    scheduler = worker.node.scheduler
    before = worker.ask(QUOTA_SETTINGS, QuotaSettingsRequest())
    assert (
        isinstance(before, QuotaSettingsView)
        and before.max_waiting == scheduler.settings.max_waiting
    )
    changed = worker.ask(QUOTA_SETTINGS, QuotaSettingsRequest(max_waiting=3, max_running=1))
    assert (changed.max_waiting, changed.max_running) == (3, 1)
    assert changed.cpu_seconds_per_minute == before.cpu_seconds_per_minute  # unset: kept
    assert (scheduler.settings.max_waiting, scheduler.settings.max_running) == (3, 1)
    reset = worker.ask(QUOTA_SETTINGS, QuotaSettingsRequest(max_waiting=None))
    assert reset.max_waiting == DEFAULTS.max_waiting and reset.max_running == 1
    assert scheduler.settings.max_waiting == DEFAULTS.max_waiting  # the oracle: the scheduler
    assert worker.quota_settings()["max_running"] == 1  # the documented map


def test_an_unknown_or_ill_typed_setting_is_refused_by_name() -> None:
    worker = unseen.VirtualWorker(name="May Clinic")
    with pytest.raises(unseen.UsageError, match="no quota setting 'max_wating'"):
        worker.quota_settings(max_wating=3)
    with pytest.raises(unseen.UsageError, match="the field 'max_waiting' must be int, not str"):
        worker.call("quota.settings", {"max_waiting": "3"})
    with pytest.raises(unseen.UsageError, match="the field 'workers' must be int, not bool"):
        worker.call("quota.settings", {"workers": True})
    assert worker.node.scheduler.settings.max_waiting == worker.quota_settings()["max_waiting"]


# -- over a real server --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("typed-quotas") / "data", None)
    proc.start()
    yield proc
    proc.kill()


def test_quota_kinds_round_trip_over_a_server(domain: ServerProcess) -> None:
    owner = domain.login()
    owner.users.create(email=ANA[0], password=ANA[1], role="data_scientist")
    ana = domain.login(*ANA)
    try:
        sent = np.arange(1000.0)
        ana.send(sent)
        usage = ana.ask(QUOTA_USAGE, QuotaUsageRequest())
        assert isinstance(usage, QuotaUsage) and (usage.running, usage.waiting) == (0, 0)
        assert usage.stored_bytes >= sent.nbytes  # the oracle: what ana sent
        assert isinstance(usage.quotas, QuotaSettingsView)
        assert usage.quotas.max_stored_bytes == DEFAULTS.max_stored_bytes
        mine = owner.ask(QUOTA_USAGE, QuotaUsageRequest())
        assert mine.quotas is None  # owners have none
        assert owner.call("quota.usage")["quotas"] is None  # on the wire, as protocol 1.0 had it

        changed = owner.ask(QUOTA_SETTINGS, QuotaSettingsRequest(max_stored_bytes=10**9))
        assert changed.max_stored_bytes == 10**9
        assert ana.ask(QUOTA_USAGE, QuotaUsageRequest()).quotas == changed
        raw: dict[str, Any] = owner.call("quota.settings", {"max_stored_bytes": None})  # 1.0 body
        assert raw["max_stored_bytes"] == DEFAULTS.max_stored_bytes
        with pytest.raises(unseen.PermissionDenied):
            ana.ask(QUOTA_SETTINGS, QuotaSettingsRequest(max_stored_bytes=10**12))
    finally:
        ana.close()
        owner.close()
