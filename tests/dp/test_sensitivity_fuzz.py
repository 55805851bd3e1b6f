"""Property: for any graph the analyser accepts, the exact statistic moves between
neighbouring tables by at most the sensitivity the analyser claims (tests/dp/sensitivity_fuzz.py
says what is drawn). A longer run: ``python bench/bench_security.py --only dp-fuzz``."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.dp.sensitivity_fuzz import check_case, describe, draw_case

EXAMPLES = int(os.environ.get("UNSEEN_DP_FUZZ_EXAMPLES", "200"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(st.data())
def test_claimed_sensitivity_bounds_every_neighbour(data: st.DataObject) -> None:
    source, actions, target, seed = draw_case(data.draw)
    outcome = check_case(source, actions, target, seed)
    assert outcome.violation is None, (
        f"{outcome.violation}\nsource: {source}\n{describe(actions, target)}"
    )
