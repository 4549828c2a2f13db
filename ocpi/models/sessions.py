"""Sessions module (OCPI 2.2.1 section 9, mod_sessions.asciidoc).

`ChargingPeriod`, `CdrDimension`, `CdrDimensionType`, `AuthMethod` and `CdrToken` are defined by the CDRs
module (10.4) and `ProfileType` next to the Token that uses it; they are re-exported here.
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.models.cdrs import AuthMethod, CdrDimension, CdrDimensionType, CdrToken, ChargingPeriod
from ocpi.models.common import OcpiModel, Price
from ocpi.models.tokens import ProfileType
from ocpi.types import CiString2, CiString3, CiString36, DateTime, Number, String3, String255

__all__ = [
    "AuthMethod",
    "CdrDimension",
    "CdrDimensionType",
    "CdrToken",
    "ChargingPeriod",
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionPatch",
    "SessionStatus",
]


class SessionStatus(StrEnum):
    """SessionStatus enum (9.4.3)."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class ChargingPreferencesResponse(StrEnum):
    """ChargingPreferencesResponse enum (9.4.1): the answer to a PUT of ChargingPreferences."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ChargingPreferences(OcpiModel):
    """ChargingPreferences object (9.3.2). `discharge_allowed` means false when absent."""

    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None


class Session(OcpiModel):
    """Session object (9.3.1). `evse_uid` and `connector_id` may be `#NA` for a reservation."""

    country_code: CiString2
    party_id: CiString3
    id: CiString36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionPatch(OcpiModel):
    """A PATCH body for a Session (9.2.2.3): any subset of the Session fields.

    Unlike other lists, `charging_periods` in a Session PATCH are to be *added* to the stored ones.
    """

    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: Number | None = None
    cdr_token: CdrToken | None = None
    auth_method: AuthMethod | None = None
    authorization_reference: CiString36 | None = None
    location_id: CiString36 | None = None
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus | None = None
    last_updated: DateTime | None = None
