"""ChargingProfiles module (OCPI 2.2.1 section 14, mod_charging_profiles.asciidoc).

The Sender (eMSP/SCSP) PUTs a `SetChargingProfile`, GETs or DELETEs on the CPO's Receiver interface and
gets a `ChargingProfileResponse`; the CPO later POSTs the matching result object to the `response_url`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.models.common import OcpiModel
from ocpi.types import URL, DateTime, Number

__all__ = [
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResponseType",
    "ChargingProfileResult",
    "ChargingProfileResultType",
    "ChargingRateUnit",
    "ClearProfileResult",
    "SetChargingProfile",
]

OneDecimal = Annotated[Number, Field(decimal_places=1)]
"""A `number` with at most one digit fraction, e.g. 8.1 (14.6.3, 14.6.4)."""


class ChargingRateUnit(StrEnum):
    """ChargingRateUnit enum (14.6.2): W for total power, A for current per phase."""

    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    """ChargingProfileResponseType enum (14.6.5): the CPO's direct answer."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    """ChargingProfileResultType enum (14.6.6): the EVSE's result, sent asynchronously."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingProfilePeriod(OcpiModel):
    """ChargingProfilePeriod class (14.6.4): `start_period` in seconds from the profile start; `limit`
    in the profile's unit, at most one decimal."""

    start_period: int
    limit: OneDecimal


class ChargingProfile(OcpiModel):
    """ChargingProfile class (14.6.3); `duration` in seconds, `min_charging_rate` at most one decimal."""

    start_date_time: DateTime | None = None
    duration: int | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: OneDecimal | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    """ActiveChargingProfile class (14.6.1): times in the profile are relative to `start_date_time`."""

    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    """SetChargingProfile object (14.5.5): the body of the PUT on the Receiver interface."""

    charging_profile: ChargingProfile
    response_url: URL


class ChargingProfileResponse(OcpiModel):
    """ChargingProfileResponse object (14.5.1); `timeout` in seconds."""

    result: ChargingProfileResponseType
    timeout: int


class ActiveChargingProfileResult(OcpiModel):
    """ActiveChargingProfileResult object (14.5.2): result of a GET; `profile` when ACCEPTED."""

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    """ChargingProfileResult object (14.5.3): result of a PUT (SetChargingProfile)."""

    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    """ClearProfileResult object (14.5.4): result of a DELETE."""

    result: ChargingProfileResultType
