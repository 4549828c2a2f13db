"""Credentials tokens a partner presents to us: issue, look up, revoke. Only SHA-256 digests are stored;
the lookup is by digest, so no token is ever compared character by character."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ocpi.auth import new_token
from partners.tables import Partner, PartnerToken, TokenKind


@dataclass(frozen=True)
class TokenMatch:
    """A live token found for a request: its partner, its kind, and the token itself (never shown)."""

    partner: Partner
    kind: TokenKind
    token: str = field(repr=False)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_token(session: AsyncSession, partner: Partner, kind: TokenKind) -> str:
    """A fresh token of `kind` for `partner`; returned in clear once, stored as a digest."""
    assert partner.id is not None
    token = new_token()
    session.add(PartnerToken(token_hash=hash_token(token), partner_id=partner.id, kind=kind))
    await session.flush()
    return token


async def find_by_token(session: AsyncSession, candidates: list[str], now: datetime) -> TokenMatch | None:
    """The partner and token kind for the first candidate that is a live token."""
    if not candidates:
        return None
    digests = {hash_token(c): c for c in candidates}
    rows = (
        await session.exec(
            select(PartnerToken, Partner)
            .join(Partner, col(Partner.id) == col(PartnerToken.partner_id))
            .where(col(PartnerToken.token_hash).in_(list(digests)))
        )
    ).all()
    by_digest = {tok.token_hash: (tok, partner) for tok, partner in rows}
    for digest, candidate in digests.items():
        if digest in by_digest:
            tok, partner = by_digest[digest]
            if tok.expires_at is not None and tok.expires_at <= now:
                continue
            return TokenMatch(partner=partner, kind=TokenKind(tok.kind), token=candidate)
    return None


async def revoke_tokens(
    session: AsyncSession,
    partner_id: int,
    kind: TokenKind | None = None,
    *,
    grace: timedelta | None = None,
    now: datetime | None = None,
    keep: str | None = None,
) -> int:
    """Revoke a partner's tokens (of one kind, or all) except `keep`; returns how many were revoked.

    With `grace` (and `now`), tokens expire that much later instead of at once; a token already expiring
    keeps its earlier expiry. With `now`, tokens whose expiry has passed are deleted first (not counted), so
    the count tells whether a live token was revoked: the handshake uses it to see a concurrent one.
    """
    scope = [col(PartnerToken.partner_id) == partner_id]
    if kind is not None:
        scope.append(col(PartnerToken.kind) == kind)
    if keep is not None:
        scope.append(col(PartnerToken.token_hash) != hash_token(keep))
    if now is not None:
        await session.exec(delete(PartnerToken).where(*scope, col(PartnerToken.expires_at) <= now))
    if grace and now is not None:
        stmt = update(PartnerToken).where(*scope, col(PartnerToken.expires_at).is_(None))
        result = await session.exec(stmt.values(expires_at=now + grace))
    else:
        result = await session.exec(delete(PartnerToken).where(*scope))
    return int(result.rowcount or 0)


async def revoke_token(session: AsyncSession, token: str) -> None:
    """Revoke one token (e.g. the one issued for an exchange that then failed)."""
    await session.exec(delete(PartnerToken).where(col(PartnerToken.token_hash) == hash_token(token)))
