"""Compiling a tariff: which elements count as restricted."""

from __future__ import annotations

import dataclasses
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from cdr_pricing import (
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
    compile_tariff,
)

SAMPLE_VALUES: dict[str, Any] = {
    "start_time": time(7),
    "end_time": time(23),
    "start_date": date(2024, 1, 1),
    "end_date": date(2025, 1, 1),
    "min_kwh": Decimal(1),
    "max_kwh": Decimal(2),
    "min_current": Decimal(6),
    "max_current": Decimal(32),
    "min_power": Decimal(3),
    "max_power": Decimal(50),
    "min_duration": 60,
    "max_duration": 3600,
    "day_of_week": frozenset({0}),
}


def _time_candidate_restricted(restrictions: TariffRestrictions) -> bool:
    element = TariffElement((PriceComponent(TariffDimension.TIME, Decimal("2.00")),), restrictions)
    compiled = compile_tariff(Tariff("EUR", (element,)))
    return (compiled.reservation_time + compiled.time)[0].restrictions is not None


def test_every_restriction_field_is_known_to_the_compiler() -> None:
    names = {field.name for field in dataclasses.fields(TariffRestrictions)} - {"reservation"}
    assert names == set(SAMPLE_VALUES)


@pytest.mark.parametrize("name", sorted(SAMPLE_VALUES))
def test_any_restriction_but_the_reservation_kind_makes_an_element_restricted(name: str) -> None:
    assert _time_candidate_restricted(TariffRestrictions(**{name: SAMPLE_VALUES[name]}))


def test_a_reservation_kind_alone_or_empty_restrictions_leave_it_unrestricted() -> None:
    assert not _time_candidate_restricted(TariffRestrictions())
    assert not _time_candidate_restricted(TariffRestrictions(reservation=ReservationRestriction.RESERVATION))
