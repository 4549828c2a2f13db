"""The rounding and VAT policy, price limits, currency conversion and MSP markup."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cdr_pricing import (
    Cost,
    CostComponent,
    PricedCdr,
    cdr_from_ocpi,
    convert_currency,
    convert_priced_cdr,
    minor_unit,
    price_cdr,
    reprice_with_markup,
    round_money,
    tariff_from_ocpi,
)
from tests.cdr_pricing.pricing_testkit import component, element, load_example, local, make_cdr, make_tariff

D = Decimal


def price(tariff: dict[str, Any], cdr: dict[str, Any]) -> PricedCdr:
    return price_cdr(cdr_from_ocpi(cdr), tariff_from_ocpi(tariff), "Europe/Amsterdam")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.13"), ("-0.125", "-0.13"), ("0.1249999", "0.12"), ("2.875", "2.88"), ("4.125", "4.13")],
)
def test_round_money_is_half_up(amount: str, expected: str) -> None:
    assert round_money(D(amount), D("0.01")) == D(expected)


@pytest.mark.parametrize(
    ("currency", "quantum"), [("EUR", "0.01"), ("jpy", "1"), ("KWD", "0.001"), (None, "0.01")]
)
def test_minor_units(currency: str | None, quantum: str) -> None:
    assert minor_unit(currency) == D(quantum)


def test_vat_is_applied_per_line_on_the_rounded_excl_amount() -> None:
    # 1 kWh at 0.125 = 0.125 -> 0.13 excl; VAT 21% on 0.13 = 0.1573 -> 0.16 (on 0.125 it would be 0.15).
    tariff = make_tariff(element(component("ENERGY", "0.125", vat=21)))
    priced = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 1})], 60))
    assert priced.total_cost == Cost(D("0.13"), D("0.16"))


def test_no_vat_means_incl_equals_excl_and_zero_vat_prices_the_same() -> None:
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 3})], 60)
    without = price(make_tariff(element(component("ENERGY", "0.333"))), cdr)
    zero = price(make_tariff(element(component("ENERGY", "0.333", vat=0))), cdr)
    assert without.total_cost == zero.total_cost == Cost(D("1.00"), D("1.00"))
    assert without.lines[0].vat is None and zero.lines[0].vat == 0


def test_one_component_at_two_vat_rates_makes_two_lines() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.333", vat=20), end_time="17:00"),
        element(component("ENERGY", "0.333", vat=10)),
    )
    cdr = make_cdr(local("2024-06-03T16:00:00"), [(0, {"ENERGY": 1}), (60, {"ENERGY": 1})], 120)
    priced = price(tariff, cdr)
    assert [(line.vat, line.cost) for line in priced.lines] == [
        (D("10"), Cost(D("0.33"), D("0.36"))),
        (D("20"), Cost(D("0.33"), D("0.40"))),
    ]
    assert priced.total_energy_cost == Cost(D("0.66"), D("0.76"))


def test_amounts_are_rounded_to_the_currency_minor_unit() -> None:
    tariff = make_tariff(element(component("ENERGY", "35.5", vat=10)), currency="JPY")
    priced = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 3})], 60, currency="JPY"))
    assert priced.total_cost == Cost(D("107"), D("118"))  # 106.5 -> 107; 117.7 -> 118


def test_min_price_without_incl_vat_uses_the_sessions_vat_ratio() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.20", vat=21)), min_price={"excl_vat": 2})
    priced = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 5})], 60))
    assert priced.total_energy_cost == Cost(D("1.00"), D("1.21"))
    assert priced.total_cost == Cost(D("2.00"), D("2.42"))
    assert priced.price_limit_adjustment == Cost(D("1.00"), D("1.21"))


def test_max_price_clamps_excl_and_incl_each_by_its_own_bound() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.50", vat=20)), max_price={"excl_vat": "10.00", "incl_vat": "11.00"}
    )
    priced = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 21})], 60))
    assert priced.total_cost == Cost(D("10.00"), D("11.00"))  # 10.50 / 12.60 before
    assert priced.price_limit_adjustment == Cost(D("-0.50"), D("-1.60"))


def test_a_session_without_any_priced_component_costs_zero() -> None:
    tariff = make_tariff(element(component("PARKING_TIME", "2.00")))
    priced = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 5})], 60))
    assert priced.total_cost == Cost(D("0.00"), D("0.00"))
    assert all(cost is None for cost in priced.component_totals().values())


def test_convert_currency() -> None:
    assert convert_currency(D("10.00"), D("1.0853")) == D("10.85")
    assert convert_currency(D("10.00"), D("161.275"), to_currency="JPY") == D("1613")
    with pytest.raises(ValueError, match="positive"):
        convert_currency(D("1"), D("0"))


def _tariff_9_session() -> PricedCdr:
    cdr = make_cdr(local("2024-06-03T10:00:00", "Europe/Berlin"), [(0, {"ENERGY": 20})], 120)
    return price(load_example("tariff_9_025kwh_start.json"), cdr)


def test_markup_scales_each_line_and_recomputes_vat() -> None:
    base = _tariff_9_session()  # fixed 0.50 / 0.60 (20%), energy 5.00 / 5.50 (10%)
    marked = reprice_with_markup(base, D("10"))
    assert marked.total_fixed_cost == Cost(D("0.55"), D("0.66"))
    assert marked.total_energy_cost == Cost(D("5.50"), D("6.05"))
    assert marked.total_cost == Cost(D("6.05"), D("6.71"))
    assert marked.periods == base.periods


def test_fixed_markup_is_a_fixed_line_with_its_own_vat() -> None:
    marked = reprice_with_markup(_tariff_9_session(), D("0"), D("0.35"), fixed_markup_vat=D("21"))
    fixed_lines = [line for line in marked.lines if line.cost_component is CostComponent.FIXED]
    assert [line.cost for line in fixed_lines] == [Cost(D("0.50"), D("0.60")), Cost(D("0.35"), D("0.42"))]
    assert marked.total_fixed_cost == Cost(D("0.85"), D("1.02"))
    assert marked.total_cost == Cost(D("5.85"), D("6.52"))


def test_markup_scales_the_price_limit_adjustment() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.25", vat=10)), min_price={"excl_vat": 1, "incl_vat": "1.10"}
    )
    base = price(tariff, make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 2})], 60))
    assert base.total_cost == Cost(D("1.00"), D("1.10"))
    marked = reprice_with_markup(base, D("20"))
    assert marked.total_energy_cost == Cost(D("0.60"), D("0.66"))
    assert marked.price_limit_adjustment == Cost(D("0.60"), D("0.66"))
    assert marked.total_cost == Cost(D("1.20"), D("1.32"))


def test_markup_below_minus_100_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="markup_percent"):
        reprice_with_markup(_tariff_9_session(), D("-101"))


def test_convert_priced_cdr() -> None:
    converted = convert_priced_cdr(_tariff_9_session(), D("0.8571"), "GBP")
    assert converted.currency == "GBP"
    assert converted.total_fixed_cost == Cost(D("0.43"), D("0.52"))
    assert converted.total_energy_cost == Cost(D("4.29"), D("4.72"))
    assert converted.total_cost == Cost(D("4.72"), D("5.24"))
