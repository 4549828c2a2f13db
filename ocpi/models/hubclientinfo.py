"""HubClientInfo module (OCPI 2.2.1 section 15, mod_hub_client_info.asciidoc)."""

from __future__ import annotations

from enum import StrEnum

from ocpi.models.common import OcpiModel, Role
from ocpi.types import CiString2, CiString3, DateTime

__all__ = ["ClientInfo", "ConnectionStatus"]


class ConnectionStatus(StrEnum):
    """ConnectionStatus enum (15.5.1)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    """ClientInfo object (15.4.1): the connection status of one party behind a hub."""

    party_id: CiString3
    country_code: CiString2
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
