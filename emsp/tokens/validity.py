"""Changes that time makes: `valid_until` passing (EXPIRED) and `valid_from` arriving (the token becomes
valid, so it is republished with a new `last_updated`). Run by the scheduler every minute; tests call the
functions directly.

Several nodes may run the job at once: rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
each token changes once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import session_scope
from emsp.node import Node
from emsp.tokens.service import apply_changes, precise_now, record_change
from emsp.tokens.tables import Token, TokenAction, TokenStatus

SYSTEM_ACTOR = "system"
_BATCH = 500


async def expire_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Mark EXPIRED (valid=false) every ACTIVE token whose `valid_until` has passed. Returns how many."""
    now = precise_now(now)
    done = 0
    while True:
        stmt = (
            select(Token)
            .where(col(Token.status) == TokenStatus.ACTIVE, col(Token.valid_until) <= now)
            .order_by(col(Token.id))
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
        tokens = list((await session.exec(stmt)).all())
        if not tokens:
            return done
        for token in tokens:
            changes = apply_changes(token, {"status": TokenStatus.EXPIRED})
            await record_change(session, token, SYSTEM_ACTOR, TokenAction.EXPIRE, changes, now)
        done += len(tokens)


async def start_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Republish every ACTIVE token whose `valid_from` arrived after its last change: its OCPI `valid`
    turned true, and receivers learn it from the new `last_updated`. Returns how many."""
    now = precise_now(now)
    done = 0
    while True:
        stmt = (
            select(Token)
            .where(
                col(Token.status) == TokenStatus.ACTIVE,
                col(Token.valid_from) <= now,
                col(Token.valid_from) > col(Token.last_updated),
                or_(col(Token.valid_until).is_(None), col(Token.valid_until) > now),
            )
            .order_by(col(Token.id))
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
        tokens = list((await session.exec(stmt)).all())
        if not tokens:
            return done
        for token in tokens:
            changes = {"valid": [False, True]}
            await record_change(session, token, SYSTEM_ACTOR, TokenAction.VALIDITY_START, changes, now)
        done += len(tokens)


async def validity_job(node: Node) -> None:
    """The scheduled entry point: one unit of work, then the two plain functions."""
    async with session_scope(node.sessionmaker) as session:
        await expire_due(session)
        await start_due(session)
