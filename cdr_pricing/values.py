"""Immutable input values: a Tariff and a CDR as the pricing engine sees them.

These are not the wire models. `from_ocpi` maps JSON dicts or the `ocpi.models` pydantic objects to them
once, at the edge; the engine never touches pydantic. Units follow the spec: energy in kWh, time volumes
of a CDR in hours, `step_size` in Wh or seconds, VAT in percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "BoundPrice",
    "Cdr",
    "ChargingPeriod",
    "DayOfWeek",
    "PriceComponent",
    "ReservationRestriction",
    "Tariff",
    "TariffDimension",
    "TariffElement",
    "TariffRestrictions",
]


class TariffDimension(StrEnum):
    """TariffDimensionType (mod_tariffs 11.4.5): what a PriceComponent prices."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class ReservationRestriction(StrEnum):
    """ReservationRestrictionType (mod_tariffs 11.4.3)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class DayOfWeek(StrEnum):
    """DayOfWeek (mod_tariffs 11.4.1); `iso_index` is Python's `date.weekday()` (Monday = 0)."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_index(self) -> int:
        return _DAY_INDEX[self]


_DAY_INDEX = {day: index for index, day in enumerate(DayOfWeek)}


@dataclass(frozen=True, slots=True)
class BoundPrice:
    """A spec `Price` used as `Tariff.min_price` / `max_price`; `incl_vat` is optional in 2.2.1."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """PriceComponent (mod_tariffs 11.4.2): price per unit excl. VAT, VAT percent or None, step_size."""

    type: TariffDimension
    price: Decimal
    vat: Decimal | None = None
    step_size: int = 1


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """TariffRestrictions (mod_tariffs 11.4.6). Times and dates are the Location's local time.

    `day_of_week` holds `date.weekday()` numbers (Monday = 0); an empty set means every day.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[int] = frozenset()
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    """TariffElement (mod_tariffs 11.4.4)."""

    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """Tariff (mod_tariffs 11.3.1): the parts pricing needs."""

    currency: str
    elements: tuple[TariffElement, ...]
    id: str | None = None
    country_code: str | None = None
    party_id: str | None = None
    min_price: BoundPrice | None = None
    max_price: BoundPrice | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """ChargingPeriod (mod_cdrs 10.4.6) with its CdrDimensions as named fields.

    `start_date_time` is UTC. Volumes: `energy` kWh; `time`, `parking_time`, `reservation_time` hours;
    currents A; powers kW. A dimension the CPO did not send is None. Session-only dimensions
    (STATE_OF_CHARGE, ENERGY_IMPORT/EXPORT) play no part in pricing and are not kept.
    """

    start_date_time: datetime
    energy: Decimal | None = None
    time: Decimal | None = None
    parking_time: Decimal | None = None
    reservation_time: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    power: Decimal | None = None
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class Cdr:
    """The parts of a CDR (mod_cdrs 10.3.1) that pricing needs. Times are UTC.

    `reservation_expired`: None lets the engine decide (a CDR whose every period is reservation time is
    an expired reservation); True or False overrides that.
    """

    start_date_time: datetime
    end_date_time: datetime
    charging_periods: tuple[ChargingPeriod, ...]
    currency: str | None = None
    id: str | None = None
    total_energy: Decimal | None = None
    reservation_expired: bool | None = field(default=None)
