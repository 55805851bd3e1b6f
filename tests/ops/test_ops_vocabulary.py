"""Every vocabulary entry runs through ``execute`` exactly like the library called directly."""

from __future__ import annotations

import pytest
from ops_cases_common import common_cases
from ops_cases_numpy import numpy_cases
from ops_cases_pandas import pandas_cases
from ops_cases_torch import torch_cases
from ops_harness import Case, run_case

from unseen.ops._registry import all_specs

SPECS = {spec.name: spec for spec in all_specs()}
CASES: list[Case] = numpy_cases(list(SPECS.values())) + common_cases(list(SPECS.values()))
CASES += torch_cases(list(SPECS.values())) + pandas_cases(list(SPECS.values()))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.op}-{i}" for i, c in enumerate(CASES)])
def test_entry_matches_library(case: Case) -> None:
    run_case(SPECS[case.op], case)


def test_every_entry_has_a_case() -> None:
    covered = {case.op for case in CASES}
    missing = sorted(set(SPECS) - covered)
    assert not missing, f"vocabulary entries without a test case: {missing}"


def test_cases_name_real_entries() -> None:
    unknown = sorted({case.op for case in CASES} - set(SPECS))
    assert not unknown, unknown
