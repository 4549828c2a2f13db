"""CDRs module (OCPI 2.2.1 section 10, mod_cdrs.asciidoc).

The spec defines `AuthMethod`, `CdrDimension(Type)`, `CdrToken` and `ChargingPeriod` here (10.4) and the
Session object reuses them; `ocpi.models.sessions` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from ocpi.models.common import GeoLocation, OcpiModel, Price
from ocpi.models.locations import ConnectorFormat, ConnectorType, PowerType
from ocpi.models.tariffs import Tariff
from ocpi.models.tokens import TokenType
from ocpi.types import (
    CiString2,
    CiString3,
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    DateTime,
    Number,
    String3,
    String10,
    String20,
    String45,
    String255,
    String512,
    String5000,
)

__all__ = [
    "AuthMethod",
    "Cdr",
    "CdrDimension",
    "CdrDimensionType",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "SignedData",
    "SignedValue",
]


class AuthMethod(StrEnum):
    """AuthMethod enum (10.4.1)."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """CdrDimensionType enum (10.4.3). CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER and STATE_OF_CHARGE
    are for Sessions only."""

    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class CdrDimension(OcpiModel):
    """CdrDimension class (10.4.2): kWh for energy, hours for times, A, kW, % as the type says."""

    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    """ChargingPeriod class (10.4.6): a period ends when the next one starts."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString36 | None = None


class CdrToken(OcpiModel):
    """CdrToken class (10.4.5): the token as recorded in a Session or CDR."""

    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: TokenType
    contract_id: CiString36


class CdrLocation(OcpiModel):
    """CdrLocation class (10.4.4). `evse_uid`, `evse_id` and `connector_id` may be `#NA` for a
    reservation that never became a charging session."""

    id: CiString36
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    """SignedValue class (10.4.8)."""

    nature: CiString32
    plain_data: String512
    signed_data: String5000


class SignedData(OcpiModel):
    """SignedData class (10.4.7), e.g. for the German Eichrecht."""

    encoding_method: CiString36
    encoding_method_version: int | None = None
    public_key: String512 | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: String512 | None = None


class Cdr(OcpiModel):
    """CDR object (10.3.1): a concluded charging session, sealed for billing.

    `id` may be up to 39 characters so a Credit CDR can append to the original id. A Credit CDR
    (`credit` true) must name the CDR it credits in `credit_reference_id`.
    """

    country_code: CiString2
    party_id: CiString3
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _credit_names_its_original(self) -> Cdr:
        if self.credit and self.credit_reference_id is None:
            raise ValueError("credit_reference_id is required for a Credit CDR")
        return self
