"""Mapping JSON dicts and `ocpi.models` objects to pricing values; errors; the JSON entry point; the API."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

import cdr_pricing
from cdr_pricing import (
    InvalidCdr,
    InvalidTariff,
    TimeZoneMissing,
    UnknownTimeZone,
    cdr_from_ocpi,
    price_cdr,
    price_cdr_json,
    tariff_from_ocpi,
)
from tests.cdr_pricing.pricing_testkit import (
    component,
    element,
    golden_case_names,
    load_example,
    load_golden,
    local,
    make_cdr,
    make_tariff,
)

TARIFF = make_tariff(element(component("ENERGY", "0.25", vat=10)))
CDR = make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 20})], 60)


def test_price_cdr_json_has_exactly_the_six_cost_fields() -> None:
    assert price_cdr_json(TARIFF, CDR, "Europe/Amsterdam") == {
        "total_cost": {"excl_vat": "5.00", "incl_vat": "5.50"},
        "total_energy_cost": {"excl_vat": "5.00", "incl_vat": "5.50"},
        "total_time_cost": None,
        "total_parking_cost": None,
        "total_fixed_cost": None,
        "total_reservation_cost": None,
    }


def test_numbers_may_be_ints_floats_or_strings_and_floats_stay_exact() -> None:
    tariff = tariff_from_ocpi(make_tariff(element(component("ENERGY", 0.1, vat=21.0))))
    assert tariff.elements[0].price_components[0].price == Decimal("0.1")
    cdr = cdr_from_ocpi(make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": "1.5", "MAX_POWER": 11})], 60))
    assert cdr.charging_periods[0].energy == Decimal("1.5")
    assert cdr.charging_periods[0].max_power == Decimal("11")


def test_repeated_dimensions_add_up_and_session_only_ones_are_ignored() -> None:
    cdr = copy.deepcopy(CDR)
    cdr["charging_periods"][0]["dimensions"] += [
        {"type": "ENERGY", "volume": 1},
        {"type": "STATE_OF_CHARGE", "volume": 80},
        {"type": "MIN_CURRENT", "volume": 6},
        {"type": "MIN_CURRENT", "volume": 4},
    ]
    period = cdr_from_ocpi(cdr).charging_periods[0]
    assert (period.energy, period.min_current) == (Decimal(21), Decimal(4))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(elements=[]), "at least one"),
        (lambda t: t["elements"][0].update(price_components=[]), "must not be empty"),
        (lambda t: t["elements"][0]["price_components"][0].update(type="KWH"), "unknown value"),
        (lambda t: t["elements"][0]["price_components"][0].update(price="free"), "expected a number"),
        (lambda t: t["elements"][0]["price_components"][0].update(step_size=-1), "step_size"),
        (lambda t: t["elements"][0]["price_components"][0].update(step_size=1.5), "integer"),
        (lambda t: t["elements"][0].update(restrictions={"start_time": "24:00"}), "HH:MM"),
        (lambda t: t["elements"][0].update(restrictions={"start_date": "2024-02-30"}), "start_date"),
        (lambda t: t["elements"][0].update(restrictions={"day_of_week": ["MONDAYS"]}), "day_of_week"),
        (lambda t: t["elements"][0].update(restrictions={"reservation": "YES"}), "reservation"),
        (lambda t: t.update(max_price={"incl_vat": 1}), "excl_vat"),
        (lambda t: t.update(currency=""), "currency"),
        (lambda t: t.update(elements=["oops"]), "malformed"),
    ],
)
def test_malformed_tariffs_are_refused(change: Any, message: str) -> None:
    tariff = copy.deepcopy(TARIFF)
    change(tariff)
    with pytest.raises(InvalidTariff, match=message):
        price_cdr_json(tariff, CDR, "Europe/Amsterdam")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(charging_periods=[]), "at least one"),
        (lambda c: c.pop("end_date_time"), "end_date_time"),
        (lambda c: c.update(end_date_time="2024-06-03T07:00:00Z"), "before start"),
        (lambda c: c.update(start_date_time="yesterday"), "DateTime"),
        (lambda c: c["charging_periods"][0]["dimensions"].append({"type": "TIME", "volume": -1}), "negative"),
        (
            lambda c: c["charging_periods"][0]["dimensions"].append({"type": "ENERGY", "volume": "x"}),
            "number",
        ),
        (
            lambda c: c["charging_periods"].insert(0, {"start_date_time": "2024-06-03T09:30:00Z"}),
            "before the",
        ),
        (
            lambda c: c["charging_periods"].append({"start_date_time": "2024-06-03T12:00:00Z"}),
            "after the CDR",
        ),
        (lambda c: c.update(currency="USD"), "currency"),
        (lambda c: c.update(charging_periods="none"), "malformed"),
    ],
)
def test_malformed_cdrs_are_refused(change: Any, message: str) -> None:
    cdr = copy.deepcopy(CDR)
    change(cdr)
    with pytest.raises(InvalidCdr, match=message):
        price_cdr_json(TARIFF, cdr, "Europe/Amsterdam")


@pytest.mark.parametrize("zone", [None, "", "  "])
def test_a_time_zone_is_required(zone: str | None) -> None:
    with pytest.raises(TimeZoneMissing):
        price_cdr_json(TARIFF, CDR, zone)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe"])
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(UnknownTimeZone):
        price_cdr_json(TARIFF, CDR, zone)


def test_every_error_is_a_pricing_error() -> None:
    for error in (InvalidCdr, InvalidTariff, TimeZoneMissing, UnknownTimeZone, cdr_pricing.NoValidTariff):
        assert issubclass(error, cdr_pricing.PricingError)


def test_pydantic_wire_models_map_like_dicts() -> None:
    """`ocpi.models` Tariff and Cdr objects give the same values as their JSON."""
    models = pytest.importorskip("ocpi.models")
    for name in (
        "tariff_4_complex.json",
        "tariff_6_025kwh_start_max_price.json",
        "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
    ):
        data = load_example(name)
        assert tariff_from_ocpi(models.Tariff.model_validate(data)) == tariff_from_ocpi(data), name
    for name in golden_case_names():
        case = load_golden(name)
        model = models.Cdr.model_validate(case.cdr)
        assert cdr_from_ocpi(model) == cdr_from_ocpi(case.cdr), name
        tariff = tariff_from_ocpi(models.Tariff.model_validate(case.tariff))
        assert price_cdr(cdr_from_ocpi(model), tariff, case.time_zone) is not None


def test_public_api_is_locked() -> None:
    assert sorted(cdr_pricing.__all__) == [
        "AppliedComponent",
        "BoundPrice",
        "Cdr",
        "ChargingPeriod",
        "CompiledTariff",
        "Cost",
        "CostComponent",
        "CostLine",
        "DayOfWeek",
        "InvalidCdr",
        "InvalidTariff",
        "NoValidTariff",
        "PriceComponent",
        "PricedCdr",
        "PricedPeriod",
        "PricingError",
        "ReservationRestriction",
        "StepSizeRule",
        "Tariff",
        "TariffDimension",
        "TariffElement",
        "TariffRestrictions",
        "TimeZoneMissing",
        "UnknownTimeZone",
        "cdr_from_ocpi",
        "compile_tariff",
        "convert_currency",
        "convert_priced_cdr",
        "load_time_zone",
        "minor_unit",
        "price_cdr",
        "price_cdr_json",
        "priced_cdr_totals_json",
        "reprice_with_markup",
        "round_money",
        "tariff_from_ocpi",
    ]
    for name in cdr_pricing.__all__:
        assert hasattr(cdr_pricing, name)


def test_cdr_pricing_imports_only_ocpi_and_the_standard_library() -> None:
    import ast
    import sys
    from pathlib import Path

    allowed = set(sys.stdlib_module_names) | {"cdr_pricing", "ocpi"}
    for path in Path(cdr_pricing.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert node.module.split(".")[0] in allowed, f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in allowed, f"{path.name} imports {alias.name}"
