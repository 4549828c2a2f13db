"""Properties of the MSP CDR arithmetic (`emsp.billing.compute`), with hypothesis: lines add up to the totals
in both currencies, VAT is applied once to the total, markup never makes a cost negative, and the money of a
credit (the negated lines) is exactly the negation of the original's."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cdr_pricing import round_money
from emsp.billing.compute import LINE_NAMES, finish, markup_lines

cents = st.decimals(min_value=0, max_value=1000, places=2)
maybe_cents = st.one_of(st.none(), cents)
percent = st.decimals(min_value=0, max_value=100, places=2)
vat = st.decimals(min_value=0, max_value=30, places=1)
rate = st.decimals(min_value=Decimal("0.1"), max_value=10, places=6)
lines = st.fixed_dictionaries({name: maybe_cents for name in LINE_NAMES})

CENT = Decimal("0.01")


def _sum(values: dict[str, Decimal | None]) -> Decimal:
    return sum((v for v in values.values() if v is not None), Decimal(0))


@settings(max_examples=300, deadline=None)
@given(base=lines, pct=percent, fee=cents, vat_percent=vat, fx=rate)
def test_totals_vat_once_and_no_negative_costs(
    base: dict[str, Decimal | None], pct: Decimal, fee: Decimal, vat_percent: Decimal, fx: Decimal
) -> None:
    marked = markup_lines(base, "EUR", pct, fee)
    costs = finish("CHF", marked, vat_percent, "EUR", fx)
    assert all(v is None or v >= 0 for v in marked.values())
    assert costs.total_excl_vat == _sum(marked)
    assert costs.std_total_excl_vat == _sum(costs.std_lines)
    assert costs.total_vat == round_money(costs.total_excl_vat * vat_percent / 100, CENT)
    assert costs.total_incl_vat == costs.total_excl_vat + costs.total_vat
    assert costs.std_total_incl_vat == costs.std_total_excl_vat + costs.std_total_vat
    for name in LINE_NAMES:
        assert (marked[name] is None) == (costs.std_lines[name] is None)
    assert marked["additional"] is not None or fee == 0


@settings(max_examples=300, deadline=None)
@given(base=lines, vat_percent=vat, fx=rate)
def test_a_credit_negates_exactly(base: dict[str, Decimal | None], vat_percent: Decimal, fx: Decimal) -> None:
    original = finish("CHF", base, vat_percent, "EUR", fx)
    negated = {name: None if v is None else -v for name, v in base.items()}
    credit = finish("CHF", negated, vat_percent, "EUR", fx)
    assert credit.total_excl_vat == -original.total_excl_vat
    assert credit.total_vat == -original.total_vat
    assert credit.total_incl_vat == -original.total_incl_vat
    assert credit.std_total_incl_vat == -original.std_total_incl_vat
    assert original.total_incl_vat + credit.total_incl_vat == 0


@given(base=lines)
def test_zero_markup_keeps_the_cpo_cost(base: dict[str, Decimal | None]) -> None:
    assert markup_lines(base, "EUR", Decimal(0), Decimal(0)) == base
