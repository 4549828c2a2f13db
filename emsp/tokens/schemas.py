"""What an operator may give when creating or editing a token (admin API and CLI share these).

Unknown fields are refused, so a typo never passes silently. DateTimes without a zone are UTC.
"""

from __future__ import annotations

from typing import Annotated, Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ocpi.models.tokens import ProfileType, TokenType, WhitelistType
from ocpi.types import CiString2, CiString3, DateTime, String64

_PRINTABLE = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
Uid = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=_PRINTABLE)]
"""Token uid: CiString(36), printable ASCII, no surrounding spaces."""
CiId36 = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=_PRINTABLE)]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnergyContractInput(_Input):
    supplier_name: Text64
    contract_id: String64 | None = None


class LocationRule(_Input):
    """One place the token may charge: a location, and optionally only some of its EVSEs."""

    location_id: CiId36
    evse_uids: Annotated[list[CiId36], Field(min_length=1)] | None = None


def _check_language(value: str | None) -> str | None:
    if value is None:
        return None
    if pycountry.languages.get(alpha_2=value.lower()) is None:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code")
    return value.lower()


def _check_rules(value: list[LocationRule] | None) -> list[LocationRule] | None:
    if value is not None and not value:
        raise ValueError("give at least one location, or null for no restriction")
    return value


class _TokenFields(_Input):
    contract_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    visual_number: String64 | None = None
    issuer: Text64 | None = None
    group_id: CiId36 | None = None
    whitelist: WhitelistType | None = None
    language: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContractInput | None = None
    valid_from: DateTime | None = None
    valid_until: DateTime | None = None
    allowed_locations: list[LocationRule] | None = Field(
        default=None,
        description="Real-time authorization allow-list; null: the token may charge anywhere.",
    )

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return _check_language(value)

    @field_validator("allowed_locations")
    @classmethod
    def _rules(cls, value: list[LocationRule] | None) -> list[LocationRule] | None:
        return _check_rules(value)


class TokenCreate(_TokenFields):
    """A new token. `country_code`/`party_id` default to our first party; `uid` is generated for app and
    ad hoc tokens when absent; `contract_id` is generated when absent; `issuer` defaults to the party's name;
    `whitelist` defaults to NEVER for APP_USER/AD_HOC_USER (spec recommendation) and ALLOWED otherwise."""

    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    uid: Uid | None = None
    type: TokenType = TokenType.RFID


class TokenEdit(_TokenFields):
    """The fields to change; an explicit null clears an optional field. `uid`, `type` and the issuing
    party cannot be changed (create another token instead)."""

    def changed(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class BlockRequest(_Input):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class DeactivateRequest(_Input):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class CreditHoldRequest(_Input):
    """Why the token is put on credit hold (kept on the token and in its history)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CreditReleaseRequest(_Input):
    """An optional reason for ending a credit hold (kept in the history)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
