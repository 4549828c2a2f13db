"""Versions module (OCPI 2.2.1 section 6, version_information_endpoint.asciidoc).

`VersionNumber` and `ModuleID` are open: the spec allows custom module identifiers (6.2.5.1) and a peer
may list versions newer than this one. A known value parses into the enum, any other string stays a
plain `str`, so one unknown entry never makes a whole versions list unreadable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.models.common import OcpiModel
from ocpi.types import URL

__all__ = [
    "Endpoint",
    "InterfaceRole",
    "ModuleID",
    "Version",
    "VersionDetails",
    "VersionNumber",
]


class VersionNumber(StrEnum):
    """VersionNumber enum (6.2.5)."""

    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"


class ModuleID(StrEnum):
    """ModuleID enum (6.2.4); custom identifiers are allowed (6.2.5.1)."""

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    """InterfaceRole enum (6.2.3)."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


_OpenVersionNumber = Annotated[VersionNumber | str, Field(union_mode="left_to_right")]
_OpenModuleID = Annotated[ModuleID | str, Field(union_mode="left_to_right")]


class Version(OcpiModel):
    """Version class (6.1.2): one entry of the version information endpoint."""

    version: _OpenVersionNumber
    url: URL


class Endpoint(OcpiModel):
    """Endpoint class (6.2.2)."""

    identifier: _OpenModuleID
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    """Data of the version details endpoint (6.2.1)."""

    version: _OpenVersionNumber
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
