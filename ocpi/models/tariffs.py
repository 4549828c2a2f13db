"""Tariffs module (OCPI 2.2.1 section 11, mod_tariffs.asciidoc).

Prices, VAT percentages and restriction quantities are `Number` (Decimal); `step_size` is an int.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from ocpi.models.common import DisplayText, EnergyMix, OcpiModel, Price
from ocpi.types import URL, CiString2, CiString3, CiString36, DateTime, Number, String3

__all__ = [
    "DayOfWeek",
    "PriceComponent",
    "ReservationRestrictionType",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffPatch",
    "TariffRestrictions",
    "TariffType",
]

TimeOfDay = Annotated[str, StringConstraints(max_length=5, pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
"""`string(5)` local `hh:mm`, regex `([0-1][0-9]|2[0-3]):[0-5][0-9]` (11.4.6)."""

LocalDate = Annotated[
    str,
    StringConstraints(max_length=10, pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
]
"""`string(10)` local `YYYY-MM-DD`, regex of 11.4.6."""


class DayOfWeek(StrEnum):
    """DayOfWeek enum (11.4.1)."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """ReservationRestrictionType enum (11.4.3)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffDimensionType(StrEnum):
    """TariffDimensionType enum (11.4.5); `step_size` multipliers: ENERGY 1 Wh, (PARKING_)TIME 1 s."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    """TariffType enum (11.4.7)."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class PriceComponent(OcpiModel):
    """PriceComponent class (11.4.2): price per unit excl. VAT; `vat` absent means no VAT applies
    (which differs from 0 %)."""

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: int


class TariffRestrictions(OcpiModel):
    """TariffRestrictions class (11.4.6): when a TariffElement is active; all set fields must match.

    `end_time` before `start_time` wraps past midnight; `00:00` as `end_time` means end of day.
    """

    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    """TariffElement class (11.4.4)."""

    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    """Tariff object (11.3.1)."""

    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: String3
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class TariffPatch(OcpiModel):
    """Any subset of the Tariff fields.

    2.2.1 defines no PATCH for Tariffs (the Receiver has GET, PUT, DELETE; 11.2.2); this partial model is
    for tolerant handling of partial Tariff bodies.
    """

    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None
    currency: String3 | None = None
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)] | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime | None = None
