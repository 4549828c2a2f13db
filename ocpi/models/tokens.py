"""Tokens module (OCPI 2.2.1 section 12, mod_tokens.asciidoc).

`ProfileType` (9.4.2) is defined here rather than in `sessions` because `Token.default_profile_type`
needs it and Sessions depend on Tokens (through `CdrToken`), not the other way round.
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.models.common import DisplayText, OcpiModel
from ocpi.types import CiString2, CiString3, CiString36, DateTime, String2, String64

__all__ = [
    "AllowedType",
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "ProfileType",
    "Token",
    "TokenPatch",
    "TokenType",
    "WhitelistType",
]


class TokenType(StrEnum):
    """TokenType enum (12.4.4)."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """WhitelistType enum (12.4.5)."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(StrEnum):
    """AllowedType enum (12.4.1): the outcome of a real-time authorization."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class ProfileType(StrEnum):
    """ProfileType enum (9.4.2): the driver's smart charging preference."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class EnergyContract(OcpiModel):
    """EnergyContract class (12.4.2)."""

    supplier_name: String64
    contract_id: String64 | None = None


class LocationReferences(OcpiModel):
    """LocationReferences class (12.4.3), the optional body of a real-time authorization request.

    2.2.1 has no `connector_ids` here any more (2.2 had); it is ignored if a peer still sends it.
    """

    location_id: CiString36
    evse_uids: list[CiString36] | None = None


class Token(OcpiModel):
    """Token object (12.3.2). `uid` and `type` together identify a token within the eMSP."""

    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: TokenType
    contract_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    group_id: CiString36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenPatch(OcpiModel):
    """A PATCH body for a Token (12.2.1.3): any subset of the Token fields.

    The spec requires `last_updated` in every PATCH; it is optional here so the receiving endpoint can
    answer that omission itself.
    """

    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    uid: CiString36 | None = None
    type: TokenType | None = None
    contract_id: CiString36 | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime | None = None


class AuthorizationInfo(OcpiModel):
    """AuthorizationInfo object (12.3.1): the answer to a real-time authorization (POST .../authorize)."""

    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
