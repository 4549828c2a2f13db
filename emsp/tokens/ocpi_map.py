"""A stored token as the OCPI Token object (spec mod_tokens.asciidoc 12.3.2): the one mapping, used by our
Tokens sender endpoints and by the distribution worker.

`to_ocpi` takes a `Token` row or any object with the same attribute names (a SQLAlchemy `Row` of the
token's columns, as the hot paths read them) and returns a JSON-ready dict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from emsp.tokens.tables import TokenStatus
from ocpi.types import format_datetime, utcnow


class TokenLike(Protocol):
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    visual_number: str | None
    issuer: str
    group_id: str | None
    whitelist: str
    language: str | None
    default_profile_type: str | None
    energy_contract_supplier_name: str | None
    energy_contract_id: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    status: str
    last_updated: datetime


def is_valid(token: TokenLike, now: datetime | None = None) -> bool:
    """OCPI `valid`: ACTIVE and inside `[valid_from, valid_until)`."""
    if token.status != TokenStatus.ACTIVE:
        return False
    now = now or utcnow()
    if token.valid_from is not None and now < token.valid_from:
        return False
    return token.valid_until is None or now < token.valid_until


def to_ocpi(token: TokenLike, now: datetime | None = None) -> dict[str, Any]:
    """The OCPI Token: every required field, and the optional ones that are set."""
    data: dict[str, Any] = {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }
    if token.visual_number is not None:
        data["visual_number"] = token.visual_number
    data["issuer"] = token.issuer
    if token.group_id is not None:
        data["group_id"] = token.group_id
    data["valid"] = is_valid(token, now)
    data["whitelist"] = token.whitelist
    if token.language is not None:
        data["language"] = token.language
    if token.default_profile_type is not None:
        data["default_profile_type"] = token.default_profile_type
    if token.energy_contract_supplier_name is not None:
        contract = {"supplier_name": token.energy_contract_supplier_name}
        if token.energy_contract_id is not None:
            contract["contract_id"] = token.energy_contract_id
        data["energy_contract"] = contract
    data["last_updated"] = _stamp(token.last_updated)
    return data


def _stamp(value: datetime) -> str:
    """`ocpi.types.format_datetime` for the aware UTC datetimes the database gives back (a list page
    formats a thousand of them); anything else goes through the general function."""
    if value.tzinfo is not UTC:
        return format_datetime(value)
    text = value.isoformat(timespec="seconds")[:19]
    return f"{text}.{value.microsecond // 1000:03d}Z" if value.microsecond else text + "Z"
