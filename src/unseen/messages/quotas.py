"""The typed ``quota.*`` kinds: the node's per-user quotas (owners and admins change them)
and the caller's own use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unseen.messages._typed import UNSET, Kind

__all__ = [
    "QuotaSettingsRequest",
    "QuotaSettingsView",
    "QuotaUsageRequest",
    "QuotaUsage",
    "QUOTA_SETTINGS",
    "QUOTA_USAGE",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class QuotaSettingsRequest:
    """Settings to change: a setting left off the body (``UNSET``) stays as it is, a nil
    (``None``) puts it back to its default; an empty body reads the settings."""

    workers: int | None = UNSET
    max_running: int | None = UNSET
    max_waiting: int | None = UNSET
    cpu_seconds_per_minute: float | None = UNSET
    max_stored_bytes: int | None = UNSET


@dataclass(frozen=True, kw_only=True)
class QuotaSettingsView:
    """The settings in effect (defaults resolved): worker slots, graphs one user may run
    and have waiting, CPU seconds per user and minute, stored bytes per user."""

    workers: int
    max_running: int
    max_waiting: int
    cpu_seconds_per_minute: float
    max_stored_bytes: int


@dataclass(frozen=True, kw_only=True)
class QuotaUsageRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class QuotaUsage:
    """The caller's graphs running and waiting, CPU seconds of the last minute, stored
    bytes, and the quotas that apply (None for owners and admins: they have none)."""

    running: int
    waiting: int
    cpu_seconds: float
    stored_bytes: int
    quotas: QuotaSettingsView | None


QUOTA_SETTINGS: Kind[QuotaSettingsRequest, QuotaSettingsView] = Kind(
    "quota.settings", QuotaSettingsRequest, QuotaSettingsView
)
QUOTA_USAGE: Kind[QuotaUsageRequest, QuotaUsage] = Kind(
    "quota.usage", QuotaUsageRequest, QuotaUsage
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (QUOTA_SETTINGS, QUOTA_USAGE)
