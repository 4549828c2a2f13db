"""Every TariffRestriction, evaluated at the start of each period in the Location's local time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cdr_pricing import PricedCdr, cdr_from_ocpi, price_cdr, tariff_from_ocpi
from tests.cdr_pricing.pricing_testkit import component, element, local, make_cdr, make_tariff

AMS = "Europe/Amsterdam"


def price(tariff: dict[str, Any], cdr: dict[str, Any], zone: str = AMS) -> PricedCdr:
    return price_cdr(cdr_from_ocpi(cdr), tariff_from_ocpi(tariff), zone)


def elements_used(priced: PricedCdr, dimension: str = "ENERGY") -> list[int | None]:
    """Per period, the index of the element that priced `dimension` (None: nothing did)."""
    used: list[int | None] = []
    for period in priced.periods:
        match = [
            a.element_index
            for a in period.applied
            if a.dimension == dimension and a.cost_component != "RESERVATION"
        ]
        used.append(match[0] if match else None)
    return used


def hourly_energy(start: str, hours: int, zone: str = AMS) -> dict[str, Any]:
    """One period per hour from local `start`, 1 kWh each."""
    return make_cdr(local(start, zone), [(60 * h, {"ENERGY": 1}) for h in range(hours)], 60 * hours)


NIGHT = make_tariff(
    element(component("ENERGY", "0.10"), start_time="22:00", end_time="06:00"),
    element(component("ENERGY", "0.30")),
)


def test_time_window_wrapping_midnight() -> None:
    priced = price(NIGHT, hourly_energy("2024-06-03T20:00:00", 12))  # 20:00 .. 07:00
    #                        20 21 22 23 00 01 02 03 04 05 06 07
    assert elements_used(priced) == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert priced.total_energy_cost is not None
    assert priced.total_energy_cost.excl_vat == Decimal("2.00")  # 8 x 0.10 + 4 x 0.30


def test_end_time_midnight_means_end_of_day() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.10"), start_time="20:00", end_time="00:00"),
        element(component("ENERGY", "0.30")),
    )
    cdr = make_cdr(local("2024-06-03T23:59:00"), [(0, {"ENERGY": 1}), (1, {"ENERGY": 1})], 2)
    assert elements_used(price(tariff, cdr)) == [0, 1]


def test_start_time_inclusive_end_time_exclusive_and_one_sided_windows() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.10"), end_time="07:00"),
        element(component("ENERGY", "0.20"), start_time="19:00"),
        element(component("ENERGY", "0.30")),
    )
    cdr = make_cdr(
        local("2024-06-03T06:59:00"),
        [(0, {"ENERGY": 1}), (1, {"ENERGY": 1}), (12 * 60, {"ENERGY": 1}), (12 * 60 + 1, {"ENERGY": 1})],
        12 * 60 + 2,
    )  # 06:59, 07:00, 18:59, 19:00
    assert elements_used(price(tariff, cdr)) == [0, 2, 2, 1]


def test_equal_start_and_end_time_is_the_whole_day() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.10"), start_time="10:00", end_time="10:00"))
    assert elements_used(price(tariff, hourly_energy("2024-06-03T08:00:00", 4))) == [0, 0, 0, 0]


def test_day_of_week() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.10"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("ENERGY", "0.30")),
    )
    cdr = make_cdr(local("2024-06-07T23:00:00"), [(0, {"ENERGY": 1}), (60, {"ENERGY": 1})], 120)  # Fri 23:00
    assert elements_used(price(tariff, cdr)) == [1, 0]


def test_day_of_week_of_a_wrapping_window_is_the_day_it_starts() -> None:
    # 22:00-06:00 on FRIDAY covers Friday night into Saturday morning, not Friday early morning
    # (tandemdrive/ocpi-tariffs#64).
    tariff = make_tariff(
        element(component("ENERGY", "0.10"), start_time="22:00", end_time="06:00", day_of_week=["FRIDAY"]),
        element(component("ENERGY", "0.30")),
    )
    friday_early = make_cdr(local("2024-06-07T02:00:00"), [(0, {"ENERGY": 1})], 60)
    friday_late = make_cdr(local("2024-06-07T23:00:00"), [(0, {"ENERGY": 1})], 60)
    saturday_early = make_cdr(local("2024-06-08T02:00:00"), [(0, {"ENERGY": 1})], 60)
    saturday_late = make_cdr(local("2024-06-08T23:00:00"), [(0, {"ENERGY": 1})], 60)
    assert elements_used(price(tariff, friday_early)) == [1]
    assert elements_used(price(tariff, friday_late)) == [0]
    assert elements_used(price(tariff, saturday_early)) == [0]
    assert elements_used(price(tariff, saturday_late)) == [1]


def test_start_date_inclusive_end_date_exclusive_in_local_time() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.10"), start_date="2025-01-01", end_date="2025-01-02"),
        element(component("ENERGY", "0.30")),
    )
    # 2024-12-31 23:30 local is 22:30Z; 2025-01-01 23:30 local is still 1 January locally.
    cdr = make_cdr(
        local("2024-12-31T23:30:00"),
        [(0, {"ENERGY": 1}), (30, {"ENERGY": 1}), (24 * 60, {"ENERGY": 1}), (24 * 60 + 30, {"ENERGY": 1})],
        25 * 60,
    )
    assert elements_used(price(tariff, cdr)) == [1, 0, 0, 1]


def test_min_and_max_kwh_use_the_energy_charged_before_the_period() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.20"), max_kwh=10),
        element(component("ENERGY", "0.40"), min_kwh=10),
    )
    cdr = make_cdr(
        local("2024-06-03T10:00:00"), [(0, {"ENERGY": 6}), (30, {"ENERGY": 4}), (60, {"ENERGY": 6})], 90
    )
    priced = price(tariff, cdr)
    assert elements_used(priced) == [0, 0, 1]  # before: 0, 6, 10 kWh
    assert priced.total_energy_cost is not None
    assert priced.total_energy_cost.excl_vat == Decimal("4.40")


@pytest.mark.parametrize(
    ("dims", "expected"),
    [
        ({"MAX_CURRENT": 16}, 0),
        ({"MAX_CURRENT": 32}, 2),  # max_current is exclusive
        ({"MIN_CURRENT": 32}, 1),  # min_current is inclusive
        ({"MIN_CURRENT": 40, "MAX_CURRENT": 63}, 1),
        ({"CURRENT": 20}, 0),  # the average stands in for min and max
        ({"CURRENT": 48}, 1),
        ({}, 2),  # no current known: neither restriction holds, the fallback prices
    ],
)
def test_min_and_max_current(dims: dict[str, float], expected: int) -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.20"), max_current=32),
        element(component("ENERGY", "0.40"), min_current=32),
        element(component("ENERGY", "0.50")),
    )
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 1, **dims})], 60)
    assert elements_used(price(tariff, cdr)) == [expected]


@pytest.mark.parametrize(
    ("dims", "expected"),
    [
        ({"MAX_POWER": 11}, 0),
        ({"MAX_POWER": 22}, 2),
        ({"MIN_POWER": 50}, 1),
        ({"POWER": 7.4}, 0),
        ({"MIN_POWER": 30, "MAX_POWER": 60}, 1),
        ({}, 2),
    ],
)
def test_min_and_max_power(dims: dict[str, float], expected: int) -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.20"), max_power=22),
        element(component("ENERGY", "0.40"), min_power=22),
        element(component("ENERGY", "0.50")),
    )
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(0, {"ENERGY": 1, **dims})], 60)
    assert elements_used(price(tariff, cdr)) == [expected]


def test_min_duration_inclusive_and_max_duration_exclusive() -> None:
    tariff = make_tariff(
        element(component("TIME", "0"), max_duration=1800),
        element(component("TIME", "6.00"), min_duration=1800, max_duration=3600),
        element(component("TIME", "12.00")),
    )
    cdr = make_cdr(
        local("2024-06-03T10:00:00"), [(0, {"ENERGY": 1}), (30, {"ENERGY": 1}), (60, {"ENERGY": 1})], 90
    )
    priced = price(tariff, cdr)
    assert elements_used(priced, "TIME") == [0, 1, 2]
    assert priced.total_time_cost is not None
    assert priced.total_time_cost.excl_vat == Decimal("9.00")  # 0 + 0.5 h x 6 + 0.5 h x 12


def test_reservation_elements_price_only_reservation_time() -> None:
    tariff = make_tariff(
        element(component("TIME", "5.00"), component("FLAT", "1.00"), reservation="RESERVATION"),
        element(component("TIME", "2.00"), component("FLAT", "0.50")),
    )
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(0, {"RESERVATION_TIME": 0.5}), (30, {"TIME": 1})], 90)
    priced = price(tariff, cdr)
    assert priced.total_reservation_cost is not None and priced.total_reservation_cost.excl_vat == Decimal(
        "3.50"
    )
    assert priced.total_time_cost is not None and priced.total_time_cost.excl_vat == Decimal("2.00")
    assert priced.total_fixed_cost is not None and priced.total_fixed_cost.excl_vat == Decimal("0.50")
    assert not priced.reservation_expired


def test_reservation_time_without_reservation_elements_is_free_and_expiry_can_be_forced() -> None:
    tariff = make_tariff(element(component("TIME", "2.00")))
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(0, {"RESERVATION_TIME": 1})], 60)
    priced = price(tariff, cdr)
    assert priced.total_reservation_cost is None and priced.total_time_cost is None
    assert priced.total_cost.excl_vat == 0
    assert priced.reservation_expired

    both = make_tariff(
        element(component("TIME", "6.00"), reservation="RESERVATION_EXPIRES"),
        element(component("TIME", "3.00"), reservation="RESERVATION"),
    )
    forced = price_cdr(cdr_from_ocpi(cdr, reservation_expired=False), tariff_from_ocpi(both), AMS)
    assert forced.total_reservation_cost is not None and forced.total_reservation_cost.excl_vat == Decimal(
        "3.00"
    )


def test_flat_is_charged_once_from_the_first_element_that_matches() -> None:
    tariff = make_tariff(
        element(component("FLAT", "1.00"), start_time="12:00", end_time="13:00"),
        element(component("FLAT", "2.00"), start_time="11:00", end_time="12:00"),
        element(component("ENERGY", "0.25")),
    )
    cdr = make_cdr(local("2024-06-03T10:00:00"), [(60 * h, {"ENERGY": 1}) for h in range(4)], 240)
    priced = price(tariff, cdr)
    assert priced.total_fixed_cost is not None and priced.total_fixed_cost.excl_vat == Decimal("2.00")
    assert [p.applied[-1].dimension for p in priced.periods].count("FLAT") == 1


def test_the_time_zone_decides_which_element_applies() -> None:
    cdr = make_cdr(local("2024-06-03T23:00:00", "UTC"), [(0, {"ENERGY": 1})], 60)
    assert elements_used(price(NIGHT, cdr, "UTC")) == [0]
    assert elements_used(price(NIGHT, cdr, "America/New_York")) == [1]  # 19:00 there
    assert elements_used(price(NIGHT, cdr, "Asia/Kolkata")) == [0]  # 04:30 there


class TestDaylightSavingTime:
    """Europe/Amsterdam: 2024-03-31 02:00 CET -> 03:00 CEST; 2024-10-27 03:00 CEST -> 02:00 CET."""

    WINDOW = make_tariff(
        element(component("TIME", "6.00"), start_time="02:00", end_time="03:00"),
        element(component("TIME", "1.00")),
    )

    def test_spring_forward_skips_the_window_and_bills_real_time(self) -> None:
        start = local("2024-03-31T01:30:00")  # 00:30Z
        cdr = make_cdr(start, [(0, {"ENERGY": 1}), (30, {"ENERGY": 1}), (60, {"ENERGY": 1})], 120)
        priced = price(self.WINDOW, cdr)
        # 00:30Z = 01:30 CET, 01:00Z = 03:00 CEST, 01:30Z = 03:30 CEST: 02:00-03:00 never happens that night.
        assert elements_used(priced, "TIME") == [1, 1, 1]
        assert priced.billed_time_seconds == 7200  # two real hours, though the wall clock moved three
        assert priced.total_time_cost is not None and priced.total_time_cost.excl_vat == Decimal("2.00")

    def test_fall_back_runs_the_window_twice(self) -> None:
        start = local("2024-10-27T01:00:00")  # 23:00Z on the 26th, CEST
        cdr = make_cdr(start, [(60 * h, {"ENERGY": 1}) for h in range(4)], 240)
        priced = price(self.WINDOW, cdr)
        # 23:00Z 01:00 CEST, 00:00Z 02:00 CEST, 01:00Z 02:00 CET (again), 02:00Z 03:00 CET
        assert elements_used(priced, "TIME") == [1, 0, 0, 1]
        assert priced.total_time_cost is not None and priced.total_time_cost.excl_vat == Decimal("14.00")

    def test_durations_are_real_elapsed_time(self) -> None:
        tariff = make_tariff(
            element(component("ENERGY", "0"), max_duration=3600), element(component("ENERGY", "1"))
        )
        start = local("2024-03-31T01:30:00")
        cdr = make_cdr(start, [(0, {"ENERGY": 1}), (59, {"ENERGY": 1}), (60, {"ENERGY": 1})], 90)
        assert elements_used(price(tariff, cdr)) == [0, 0, 1]

    def test_a_session_on_the_day_of_the_change_after_it_uses_summer_time(self) -> None:
        # 2024-03-31 10:00 CEST is 08:00Z; the UTC day holds the transition, so no offset is memoised for it.
        tariff = make_tariff(
            element(component("ENERGY", "0.10"), start_time="10:00", end_time="11:00"),
            element(component("ENERGY", "0.30")),
        )
        cdr = make_cdr(
            local("2024-03-31T09:30:00"), [(0, {"ENERGY": 1}), (30, {"ENERGY": 1}), (90, {"ENERGY": 1})], 120
        )
        assert elements_used(price(tariff, cdr)) == [1, 0, 1]  # 09:30, 10:00, 11:00 CEST

    def test_a_multi_day_session_across_the_change_reads_each_period_in_its_own_offset(self) -> None:
        tariff = make_tariff(
            element(component("ENERGY", "0.10"), start_time="06:00", end_time="12:00"),
            element(component("ENERGY", "0.30")),
        )
        start = local("2024-03-30T00:00:00")  # CET; every 6 real hours for two days
        cdr = make_cdr(start, [(360 * k, {"ENERGY": 1}) for k in range(8)], 48 * 60)
        # local: 30th 00,06,12,18 (CET); 31st 00 CET, 07,13,19 CEST (02:00 -> 03:00 in between)
        assert elements_used(price(tariff, cdr)) == [1, 0, 1, 1, 1, 0, 1, 1]

    def test_the_same_instant_in_many_sessions_prices_the_same(self) -> None:
        # The per-day offset memo must not change any answer: price one CDR before and after it is warm.
        cdr = make_cdr(local("2024-10-27T02:30:00"), [(0, {"ENERGY": 1}), (60, {"ENERGY": 1})], 120)
        first = price(self.WINDOW, cdr)
        assert price(self.WINDOW, cdr) == first
