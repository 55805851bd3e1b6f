"""The typed ``dp.*`` kinds: a differentially private answer, the caller's budget and
releases, every user's spend (owners and admins), and the node's delta."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unseen.messages._typed import Kind

__all__ = [
    "DPGetRequest",
    "DPAnswer",
    "DPBudgetRequest",
    "DPBalance",
    "DPHistoryRequest",
    "DPRelease",
    "DPSpendRequest",
    "DPSpendRow",
    "DPSpend",
    "DPSettingsRequest",
    "DPSettings",
    "DP_GET",
    "DP_BUDGET",
    "DP_HISTORY",
    "DP_SPEND",
    "DP_SETTINGS",
    "TYPED_KINDS",
]


@dataclass(frozen=True, kw_only=True)
class DPGetRequest:
    """A DP answer for ``target``, computed by ``actions`` (``unseen.ops.Action`` values, as
    serde decodes them: a list of ``Any`` so that they travel as they are); ``delta`` None
    asks for Laplace noise; ``drop`` lists objects the caller no longer points to."""

    actions: list[Any] = field(default_factory=list)
    target: str
    epsilon: float | None = None
    delta: float | None = None
    drop: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DPAnswer:
    """A DP answer. ``exact`` when every input was the caller's own (nothing is charged and
    ``mechanism``, ``spent`` and ``query`` are left off); else the noised value, the cost
    and the caller's spend after it."""

    value: Any
    exact: bool
    epsilon: float
    delta: float
    mechanism: str | None = None
    charged: float
    spent: float | None = None
    query: str | None = None


@dataclass(frozen=True, kw_only=True)
class DPBudgetRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class DPBalance:
    """A user's privacy budget: ``spent`` is the accountant's total at the node's ``delta``
    (``epsilon_sum`` the plain sum of the releases' epsilons)."""

    user_id: str
    email: str
    name: str
    role: str
    budget: float
    spent: float
    remaining: float
    releases: int
    epsilon_sum: float
    delta: float


@dataclass(frozen=True, kw_only=True)
class DPHistoryRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class DPRelease:
    """One of the caller's DP releases (``at``: a Unix time)."""

    seq: int
    at: float
    query: str
    datasets: list[str]
    epsilon: float
    delta: float
    mechanism: str
    charged: float
    spent: float


@dataclass(frozen=True, kw_only=True)
class DPSpendRequest:
    pass


@dataclass(frozen=True, kw_only=True)
class DPSpendRow:
    """One user's releases that read one dataset (``"-"``: none)."""

    user_id: str
    email: str
    dataset: str
    releases: int
    epsilon_sum: float
    charged: float


@dataclass(frozen=True, kw_only=True)
class DPSpend:
    users: list[DPBalance]
    datasets: list[DPSpendRow]


@dataclass(frozen=True, kw_only=True)
class DPSettingsRequest:
    """``delta`` None reads the settings; a number sets the node's delta (the owner, before
    the first release)."""

    delta: float | None = None


@dataclass(frozen=True, kw_only=True)
class DPSettings:
    delta: float


DP_GET: Kind[DPGetRequest, DPAnswer] = Kind("dp.get", DPGetRequest, DPAnswer)
DP_BUDGET: Kind[DPBudgetRequest, DPBalance] = Kind("dp.budget", DPBudgetRequest, DPBalance)
DP_HISTORY: Kind[DPHistoryRequest, list[DPRelease]] = Kind(
    "dp.history", DPHistoryRequest, list[DPRelease]
)
DP_SPEND: Kind[DPSpendRequest, DPSpend] = Kind("dp.spend", DPSpendRequest, DPSpend)
DP_SETTINGS: Kind[DPSettingsRequest, DPSettings] = Kind(
    "dp.settings", DPSettingsRequest, DPSettings
)

TYPED_KINDS: tuple[Kind[Any, Any], ...] = (DP_GET, DP_BUDGET, DP_HISTORY, DP_SPEND, DP_SETTINGS)
