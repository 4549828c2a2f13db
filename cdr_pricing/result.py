"""What pricing returns: per-component totals, the cost lines behind them, and per-period explanations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from cdr_pricing.money import EXACT, Cost
from cdr_pricing.values import ChargingPeriod, TariffDimension

__all__ = [
    "AppliedComponent",
    "AppliedRow",
    "ComponentFacts",
    "CostComponent",
    "CostLine",
    "LineRow",
    "PricedCdr",
    "PricedPeriod",
]

_SECONDS_PER_HOUR = Decimal(3600)


class CostComponent(StrEnum):
    """The CDR cost fields (mod_cdrs 10.3.1) a priced component adds to.

    FIXED: FLAT of non-reservation elements (`total_fixed_cost`). RESERVATION: FLAT and TIME of
    elements with a `reservation` restriction (`total_reservation_cost`). ENERGY, TIME, PARKING_TIME:
    `total_energy_cost`, `total_time_cost`, `total_parking_cost`.
    """

    FIXED = "FIXED"
    RESERVATION = "RESERVATION"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"


class AppliedComponent(NamedTuple):
    """A price component that priced (part of) a charging period, for explanations.

    `element_index` is the 0-based index of the TariffElement in `Tariff.elements`. Volumes are kWh for
    ENERGY, seconds for TIME / PARKING_TIME / reservation time, 1 for FLAT; `billed_volume` includes the
    step_size rounding (only the last period of a dimension differs from `volume`).
    """

    cost_component: CostComponent
    dimension: TariffDimension
    element_index: int
    price: Decimal
    vat: Decimal | None
    step_size: int
    volume: Decimal
    billed_volume: Decimal

    @property
    def exact_cost_excl_vat(self) -> Decimal:
        """price x billed volume (per hour for time dimensions), not rounded."""
        amount = EXACT.multiply(self.price, self.billed_volume)
        if self.dimension in (TariffDimension.TIME, TariffDimension.PARKING_TIME):
            return EXACT.divide(amount, _SECONDS_PER_HOUR)
        return amount


class PricedPeriod(NamedTuple):
    """One charging period (UTC bounds) and the components that priced it (empty: nothing to pay)."""

    start_date_time: datetime
    end_date_time: datetime
    applied: tuple[AppliedComponent, ...]


class CostLine(NamedTuple):
    """All priced volume of one cost component at one VAT rate, rounded once (see the package policy)."""

    cost_component: CostComponent
    vat: Decimal | None
    exact_excl_vat: Decimal
    cost: Cost


ComponentFacts = tuple[CostComponent, TariffDimension, int, Decimal, Decimal | None, int]
"""The first six fields of an `AppliedComponent`: cost component, dimension, element index, price, vat,
step_size."""

AppliedRow = tuple[int, ComponentFacts, Decimal, Decimal]
"""(period index, component facts, volume, billed volume): how `PricedCdr` stores its explanations."""

LineRow = tuple[CostComponent, Decimal | None, Decimal, Decimal, Decimal]
"""(cost component, vat, exact excl-VAT amount, rounded excl, rounded incl): a `CostLine`, flat."""


class PricedCdr(NamedTuple):
    """A CDR priced under one Tariff (an immutable NamedTuple: built once per CDR on the hot path).

    Each `total_*_cost` is None when no price component of that kind applied. `total_cost` is the sum
    of the component totals plus `price_limit_adjustment`, which is the (negative or positive) change made
    by the Tariff's `max_price` / `min_price`, or None when neither changed the total. Billed volumes
    include step_size. `periods` explains, per charging period, which element and component priced it;
    `periods` and `lines` are built on demand from the flat `applied_rows` and `line_rows`.
    """

    currency: str
    total_cost: Cost
    total_fixed_cost: Cost | None
    total_reservation_cost: Cost | None
    total_energy_cost: Cost | None
    total_time_cost: Cost | None
    total_parking_cost: Cost | None
    price_limit_adjustment: Cost | None
    line_rows: tuple[LineRow, ...]
    billed_energy_kwh: Decimal
    billed_time_seconds: Decimal
    billed_parking_seconds: Decimal
    billed_reservation_seconds: Decimal
    reservation_expired: bool
    charging_periods: tuple[ChargingPeriod, ...]
    end_date_time: datetime
    applied_rows: tuple[AppliedRow, ...]

    @property
    def lines(self) -> tuple[CostLine, ...]:
        """The cost lines: one per cost component and VAT rate, in CostComponent order, then by VAT."""
        return tuple(
            CostLine(kind, vat, exact, Cost(excl, incl)) for kind, vat, exact, excl, incl in self.line_rows
        )

    @property
    def periods(self) -> tuple[PricedPeriod, ...]:
        """Per charging period (UTC bounds), the components that priced it, in the order applied."""
        grouped: list[list[AppliedComponent]] = [[] for _ in self.charging_periods]
        for period, facts, volume, billed in self.applied_rows:
            grouped[period].append(AppliedComponent(*facts, volume, billed))
        starts = [period.start_date_time for period in self.charging_periods]
        ends = (*starts[1:], self.end_date_time)
        return tuple(
            PricedPeriod(start, end, tuple(applied))
            for start, end, applied in zip(starts, ends, grouped, strict=True)
        )

    def component_totals(self) -> dict[CostComponent, Cost | None]:
        """The five component totals keyed by `CostComponent`."""
        return {
            CostComponent.FIXED: self.total_fixed_cost,
            CostComponent.RESERVATION: self.total_reservation_cost,
            CostComponent.ENERGY: self.total_energy_cost,
            CostComponent.TIME: self.total_time_cost,
            CostComponent.PARKING_TIME: self.total_parking_cost,
        }
