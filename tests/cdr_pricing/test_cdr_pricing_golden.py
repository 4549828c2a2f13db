"""Golden cases: the spec's worked tariff examples (and step_size examples) with their totals.

Each `golden/<case>/` holds `case.json` (which tariff, the time zone, the spec section, and a note that says
where a printed figure disagrees with its own arithmetic or with the normative step_size text), `cdr.json`
(a CDR built for the scenario the spec describes) and `expected.json` (the six CDR cost fields, worked out
by hand from the spec text). The tariffs are the spec's example files, read unmodified.
"""

from __future__ import annotations

import pytest

from cdr_pricing import StepSizeRule, cdr_from_ocpi, price_cdr, priced_cdr_totals_json, tariff_from_ocpi
from tests.cdr_pricing.pricing_testkit import golden_case_names, load_golden


@pytest.mark.parametrize("name", golden_case_names())
def test_golden_case(name: str) -> None:
    case = load_golden(name)
    rule = StepSizeRule(case.step_size_rule or StepSizeRule.COMBINED_TIME_AND_PARKING)
    priced = price_cdr(
        cdr_from_ocpi(case.cdr), tariff_from_ocpi(case.tariff), case.time_zone, step_size_rule=rule
    )
    assert priced_cdr_totals_json(priced) == case.expected, case.note


@pytest.mark.parametrize("name", golden_case_names())
def test_golden_total_is_sum_of_parts(name: str) -> None:
    case = load_golden(name)
    rule = StepSizeRule(case.step_size_rule or StepSizeRule.COMBINED_TIME_AND_PARKING)
    priced = price_cdr(
        cdr_from_ocpi(case.cdr), tariff_from_ocpi(case.tariff), case.time_zone, step_size_rule=rule
    )
    parts = [cost for cost in priced.component_totals().values() if cost is not None]
    if priced.price_limit_adjustment is not None:
        parts.append(priced.price_limit_adjustment)
    assert sum((p.excl_vat for p in parts), start=0) == priced.total_cost.excl_vat
    assert sum((p.incl_vat for p in parts), start=0) == priced.total_cost.incl_vat


def test_there_are_golden_cases() -> None:
    assert len(golden_case_names()) >= 30
