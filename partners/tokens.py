"""Credentials tokens a partner presents to us: issue, look up, revoke. Only SHA-256 digests are stored;
the lookup is by digest, so no token is ever compared character by character."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ocpi.auth import new_token
from partners.tables import Partner, PartnerToken, TokenKind


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_token(session: AsyncSession, partner: Partner, kind: TokenKind) -> str:
    """A fresh token of `kind` for `partner`; returned in clear once, stored as a digest."""
    assert partner.id is not None
    token = new_token()
    session.add(PartnerToken(token_hash=hash_token(token), partner_id=partner.id, kind=kind))
    await session.flush()
    return token


async def find_by_token(
    session: AsyncSession, candidates: list[str], now: datetime
) -> tuple[Partner, TokenKind] | None:
    """The partner and token kind for the first candidate that is a live token."""
    if not candidates:
        return None
    digests = [hash_token(c) for c in candidates]
    rows = (
        await session.exec(
            select(PartnerToken, Partner)
            .join(Partner, col(Partner.id) == col(PartnerToken.partner_id))
            .where(col(PartnerToken.token_hash).in_(digests))
        )
    ).all()
    by_digest = {tok.token_hash: (tok, partner) for tok, partner in rows}
    for digest in digests:
        if digest in by_digest:
            tok, partner = by_digest[digest]
            if tok.expires_at is not None and tok.expires_at <= now:
                continue
            return partner, TokenKind(tok.kind)
    return None


async def revoke_tokens(
    session: AsyncSession, partner_id: int, kind: TokenKind | None = None, *, grace: timedelta | None = None,
    now: datetime | None = None,
) -> None:
    """Revoke a partner's tokens (of one kind, or all); with `grace`, they expire that much later instead."""
    if grace and now is not None:
        stmt = update(PartnerToken).where(col(PartnerToken.partner_id) == partner_id)
        if kind is not None:
            stmt = stmt.where(col(PartnerToken.kind) == kind)
        await session.exec(stmt.values(expires_at=now + grace))  # type: ignore[call-overload]
        return
    dstmt = delete(PartnerToken).where(col(PartnerToken.partner_id) == partner_id)
    if kind is not None:
        dstmt = dstmt.where(col(PartnerToken.kind) == kind)
    await session.exec(dstmt)  # type: ignore[call-overload]
