"""Admin API for the tokens we issue (`/admin/v1/tokens`): create, list, show (with history and
distribution), edit, block, unblock, deactivate, credit hold and release (real-time authorization answers
NO_CREDIT while held; `emsp.tokens.service.hold_credit`). The history records the admin key's name as
the actor.

`{token}` in a path is a token id, or a uid (`?type=` picks among tokens sharing a uid; `uid:<uid>` forces
a uid made of digits). Errors: bad input 400 (nothing stored), unknown token 404, a uniqueness clash or a
state that forbids the change (deactivated token) 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emsp.deps import AdminKeyDep, DbSession, NodeDep
from emsp.tokens import service
from emsp.tokens.queries import TokenFilter, list_tokens
from emsp.tokens.schemas import (
    BlockRequest,
    CreditHoldRequest,
    CreditReleaseRequest,
    DeactivateRequest,
    TokenCreate,
    TokenEdit,
)
from emsp.tokens.tables import Token, TokenStatus
from emsp.tokens.views import token_details, token_view
from ocpi.models.tokens import TokenType
from ocpi.types import to_utc, utcnow

router = APIRouter(prefix="/tokens", tags=["admin: tokens"])

TypeQuery = Annotated[TokenType | None, Query(alias="type", description="Disambiguates a uid")]


async def _find(session: DbSession, token: str, token_type: TokenType | None) -> Token:
    return await service.find_token(session, token, None if token_type is None else token_type.value)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


@router.post("", status_code=201)
async def create_token(
    body: TokenCreate, session: DbSession, node: NodeDep, key: AdminKeyDep
) -> dict[str, Any]:
    """A new token, issued under one of our parties (default: the first)."""
    token = await service.create_token(session, body, parties=node.settings.parties, actor=key.name)
    return await token_details(session, token)


@router.get("")
async def get_tokens(
    session: DbSession,
    _key: AdminKeyDep,
    token_type: Annotated[TokenType | None, Query(alias="type")] = None,
    status: TokenStatus | None = None,
    contract_id: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of the uid or visual number")] = None,
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    valid_from_after: datetime | None = None,
    valid_from_before: datetime | None = None,
    valid_until_after: datetime | None = None,
    valid_until_before: datetime | None = None,
    credit_hold: bool | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Tokens matching every given filter (ranges inclusive), by id, with the total for paging."""
    filters = TokenFilter(
        type=None if token_type is None else token_type.value,
        status=None if status is None else status.value,
        contract_id=contract_id,
        q=q,
        country_code=country_code,
        party_id=party_id,
        valid_from_after=_utc(valid_from_after),
        valid_from_before=_utc(valid_from_before),
        valid_until_after=_utc(valid_until_after),
        valid_until_before=_utc(valid_until_before),
        credit_hold=credit_hold,
    )
    total, tokens = await list_tokens(session, filters, offset=offset, limit=limit)
    now = utcnow()
    return {
        "items": [token_view(t, now) for t in tokens],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


@router.get("/{token}")
async def get_token(
    token: str, session: DbSession, _key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    """The token, its OCPI form, its history and its per-partner distribution."""
    return await token_details(session, await _find(session, token, token_type))


@router.patch("/{token}")
async def edit_token(
    token: str, body: TokenEdit, session: DbSession, key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    """Change some fields; an explicit null clears an optional one. Refused for a deactivated token."""
    found = await _find(session, token, token_type)
    edited = await service.edit_token(session, found, body, actor=key.name)
    return await token_details(session, edited)


@router.post("/{token}/block")
async def block_token(
    token: str, body: BlockRequest, session: DbSession, key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    found = await _find(session, token, token_type)
    return await token_details(session, await service.block_token(session, found, body, actor=key.name))


@router.post("/{token}/unblock")
async def unblock_token(
    token: str, session: DbSession, key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    found = await _find(session, token, token_type)
    return await token_details(session, await service.unblock_token(session, found, actor=key.name))


@router.post("/{token}/deactivate")
async def deactivate_token(
    token: str,
    session: DbSession,
    key: AdminKeyDep,
    body: DeactivateRequest | None = None,
    token_type: TypeQuery = None,
) -> dict[str, Any]:
    """Deactivate for good (valid=false everywhere; tokens are never deleted)."""
    found = await _find(session, token, token_type)
    done = await service.deactivate_token(session, found, body, actor=key.name)
    return await token_details(session, done)


@router.post("/{token}/credit-hold")
async def hold_credit(
    token: str, body: CreditHoldRequest, session: DbSession, key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    """Put the token on credit hold: real-time authorization answers NO_CREDIT until released (BLOCKED,
    EXPIRED and not valid answer first). The OCPI Token sent to partners is unchanged (`valid` stays true)."""
    found = await _find(session, token, token_type)
    return await token_details(session, await service.hold_credit(session, found, body, actor=key.name))


@router.post("/{token}/credit-release")
async def release_credit(
    token: str,
    session: DbSession,
    key: AdminKeyDep,
    body: CreditReleaseRequest | None = None,
    token_type: TypeQuery = None,
) -> dict[str, Any]:
    """End the credit hold (an optional reason is kept in the history)."""
    found = await _find(session, token, token_type)
    return await token_details(session, await service.release_credit(session, found, body, actor=key.name))
