"""Commands module (OCPI 2.2.1 section 13, mod_commands.asciidoc).

The eMSP POSTs one of the five command objects to the CPO's `{commands_endpoint_url}{command}`; the CPO
answers with a `CommandResponse` and later POSTs the `CommandResult` to the given `response_url`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from ocpi.models.common import DisplayText, OcpiModel
from ocpi.models.tokens import Token
from ocpi.types import URL, CiString36, DateTime

__all__ = [
    "CancelReservation",
    "CommandResponse",
    "CommandResponseType",
    "CommandResult",
    "CommandResultType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
]


class CommandType(StrEnum):
    """CommandType enum (13.4.3)."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(StrEnum):
    """CommandResponseType enum (13.4.1): the CPO's direct answer to a command request."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    """CommandResultType enum (13.4.2): the Charge Point's result, sent asynchronously."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandResponse(OcpiModel):
    """CommandResponse object (13.3.2); `timeout` in seconds."""

    result: CommandResponseType
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """CommandResult object (13.3.3)."""

    result: CommandResultType
    message: list[DisplayText] | None = None


class CancelReservation(OcpiModel):
    """CancelReservation object (13.3.1)."""

    response_url: URL
    reservation_id: CiString36


class ReserveNow(OcpiModel):
    """ReserveNow object (13.3.4); `expiry_date` in UTC."""

    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(OcpiModel):
    """StartSession object (13.3.5). `evse_uid` is required when `connector_id` is set."""

    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None

    @model_validator(mode="after")
    def _connector_needs_evse(self) -> StartSession:
        if self.connector_id is not None and self.evse_uid is None:
            raise ValueError("evse_uid is required when connector_id is set")
        return self


class StopSession(OcpiModel):
    """StopSession object (13.3.6)."""

    response_url: URL
    session_id: CiString36


class UnlockConnector(OcpiModel):
    """UnlockConnector object (13.3.7)."""

    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
