"""How the admin API and the CLI show a token and its history (JSON-ready dicts)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.tokens.ocpi_map import is_valid, to_ocpi
from emsp.tokens.service import history
from emsp.tokens.tables import Token, TokenHistory
from ocpi.types import format_datetime, utcnow


def _dt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def token_view(token: Token, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    energy = None
    if token.energy_contract_supplier_name is not None:
        energy = {
            "supplier_name": token.energy_contract_supplier_name,
            "contract_id": token.energy_contract_id,
        }
    return {
        "id": token.id,
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
        "visual_number": token.visual_number,
        "issuer": token.issuer,
        "group_id": token.group_id,
        "whitelist": token.whitelist,
        "language": token.language,
        "default_profile_type": token.default_profile_type,
        "energy_contract": energy,
        "valid_from": _dt(token.valid_from),
        "valid_until": _dt(token.valid_until),
        "status": token.status,
        "block_reason": token.block_reason,
        "credit_hold": token.credit_hold,
        "credit_hold_reason": token.credit_hold_reason,
        "valid": is_valid(token, now),
        "allowed_locations": None if token.allowed_locations is None else json.loads(token.allowed_locations),
        "version": token.version,
        "last_updated": _dt(token.last_updated),
        "created_at": _dt(token.created_at),
    }


def history_view(entry: TokenHistory) -> dict[str, Any]:
    return {
        "version": entry.version,
        "at": _dt(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "changes": json.loads(entry.changes),
    }


def details_view(
    token: Token,
    entries: list[TokenHistory],
    distribution: list[dict[str, Any]] | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    return token_view(token, now) | {
        "ocpi": to_ocpi(token, now),
        "history": [history_view(e) for e in entries],
        "distribution": distribution,
    }


async def distribution_of(session: AsyncSession, token_id: int) -> list[dict[str, Any]] | None:
    """Hook for the token's per-partner distribution (which partner has which version, last outcome).

    Filled by `emsp.distribution` when it offers `emsp.distribution.queries.token_distribution(session,
    token_id) -> list[dict]`; None until then.
    """
    try:
        from emsp.distribution.queries import token_distribution  # type: ignore[import-not-found]
    except ImportError:
        return None
    result: list[dict[str, Any]] = await token_distribution(session, token_id)
    return result


async def token_details(session: AsyncSession, token: Token) -> dict[str, Any]:
    """The token, its OCPI form, its history and its distribution."""
    assert token.id is not None
    entries = await history(session, token.id)
    return details_view(token, entries, await distribution_of(session, token.id))
