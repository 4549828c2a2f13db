"""The pricing output of 640 generated cases is exactly what it was before the kernel was optimised.

See `kernel_lock_cases` for the cases and how `golden/kernel_lock.json` was produced.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cdr_pricing import (
    Cdr,
    ChargingPeriod,
    Cost,
    PriceComponent,
    PricedCdr,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
    price_cdr,
)
from tests.cdr_pricing.kernel_lock_cases import LOCK_FILE, cases, outcome


def test_every_generated_case_prices_exactly_as_locked() -> None:
    locked = json.loads(LOCK_FILE.read_text(encoding="utf-8"))["outcomes"]
    generated = cases()
    assert len(generated) == len(locked)
    differing = [
        index
        for index, (case, expected) in enumerate(zip(generated, locked, strict=True))
        if outcome(*case) != expected
    ]
    assert not differing, f"{len(differing)} cases differ, first: {differing[:10]}"


def test_the_lock_covers_priced_and_rejected_cdrs() -> None:
    locked = json.loads(LOCK_FILE.read_text(encoding="utf-8"))["outcomes"]
    kinds = Counter("error" if "error" in item else "priced" for item in locked)
    assert kinds["priced"] >= 500 and kinds["error"] >= 10
    # Not all trivial: most priced cases cost something, and several are clamped by min/max price.
    totals = [item["total_cost"] for item in locked if "total_cost" in item]
    assert sum(1 for total in totals if total.split(" / ")[0].strip("0.") != "") >= 300


def _reservation_then_charging(*, with_duration_element: bool) -> PricedCdr:
    every_day = TariffRestrictions(
        day_of_week=frozenset(range(7)), reservation=ReservationRestriction.RESERVATION
    )
    elements = [TariffElement((PriceComponent(TariffDimension.TIME, Decimal("6.00")),), every_day)]
    energy = PriceComponent(TariffDimension.ENERGY, Decimal("0.30"))
    duration = TariffRestrictions(min_duration=0) if with_duration_element else None
    elements.append(TariffElement((energy,), duration))
    start = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
    periods = (
        ChargingPeriod(start, reservation_time=Decimal("0.5")),
        ChargingPeriod(start + timedelta(minutes=30), energy=Decimal(10)),
    )
    cdr = Cdr(start, start + timedelta(hours=1), periods)
    return price_cdr(cdr, Tariff("EUR", tuple(elements)), "Europe/Amsterdam")


def test_reservation_time_before_the_session_and_duration_restrictions_as_before() -> None:
    # Kept exactly as the kernel did before its optimisation: when any element of the tariff restricts
    # durations, a period before the session start (negative elapsed time) is priced by unrestricted
    # elements only; a restricted element that would otherwise price it (here: every day) does not.
    assert _reservation_then_charging(with_duration_element=False).total_reservation_cost == Cost(
        Decimal("3.00"), Decimal("3.00")
    )
    assert _reservation_then_charging(with_duration_element=True).total_reservation_cost is None
