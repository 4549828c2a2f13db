"""Bringing a partner's ledger rows in line with its state and, for a hub, with the parties it reports.

`sync_partner` runs in the caller's transaction wherever that state changes: the credentials handshake
(both directions, `emsp.ocpi_api.credentials`, `emsp.registration`), suspend / resume, and every stored
HubClientInfo (pushed or pulled, `emsp.ingest.hubclientinfo`). The worker runs `sync_partners` at start
and every `EMSP_DISTRIBUTION_SYNC_SECONDS` as well, so nothing depends on a caller remembering to.

Partner: UNREGISTERED (or CONNECTED without a Tokens RECEIVER endpoint) → rows cancelled; not CONNECTED →
paused (rows kept); CONNECTED again → every token PENDING (backfill); paused for refused credentials →
resumed once its client token changed.

Targets (`addressing`), per party of a CONNECTED partner:

- a target with no rows yet (a party seen for the first time, a new direct partner) → every token;
  a target missing some tokens → those tokens;
- a party not CONNECTED behind its hub (OFFLINE, PLANNED) → its rows paused: nothing is sent toward it,
  token changes still mark its rows;
- a party CONNECTED again → catch-up: its paused rows not acknowledged at the wanted version are due now;
- rows addressed to a party that is no target any more → dropped (SUSPENDED, no longer listed after a
  complete full pull; and the broadcast rows of a hub that now reports its parties: every token then goes
  to each party in its own row, since nobody can tell which party the broadcast reached).

On PostgreSQL `sync_partner` locks the partner row for update, and token changes hold the rows of the
partners they mark for share (`ledger.eligible_targets`): a backfill and a concurrent token change cannot
miss each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, inspect, or_, select
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.addressing import Target, targets_of
from emsp.distribution.ledger import (
    IS_TOKENS_RECEIVER,
    backfill_partner,
    backfill_target,
    cancel_partner,
    catch_up_parties,
    drop_parties,
    party_counts,
    pause_parties,
    pause_partner,
    resume_partner,
    token_fingerprint,
    with_tokens_receiver,
)
from emsp.distribution.tables import PartnerDeliveryState, PauseReason, TokenDelivery
from ocpi.types import utcnow
from partners.tables import Partner, PartnerEndpoint, PartnerStatus

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_P = Partner.__table__  # type: ignore[attr-defined]


async def _has_tokens_endpoint(session: AsyncSession, partner_id: int) -> bool:
    stmt = (
        select(func.count())
        .select_from(PartnerEndpoint)
        .where(col(PartnerEndpoint.partner_id) == partner_id, IS_TOKENS_RECEIVER)
    )
    return int((await session.exec(stmt)).scalar_one()) > 0


async def _has_rows(session: AsyncSession, partner_id: int) -> bool:
    stmt = select(_T.c.id).where(_T.c.partner_id == partner_id).limit(1)
    return (await session.exec(stmt)).first() is not None


async def _lock(session: AsyncSession, partner_id: int) -> None:
    """PostgreSQL: the partner row for update, against token changes marking it meanwhile (they hold it for
    share: `ledger.eligible_targets`); a backfill then reads every token change committed before it, and a
    token change after it sees the new targets. SQLite runs one writer at a time anyway."""
    await session.exec(select(_P.c.id).where(_P.c.id == partner_id).with_for_update())


async def sync_partner(
    session: AsyncSession, partner: Partner, *, now: datetime | None = None, token_count: int | None = None
) -> str:
    """Bring one partner's rows in line; returns what was done (for logs and tests): "none", or some of
    "cancelled", "paused", "backfilled", "resumed", "caught up", "dropped", comma-separated. `token_count`:
    how many tokens there are, when the caller counted them already (`sync_partners`, once per round)."""
    assert partner.id is not None
    now = now or utcnow()
    await _lock(session, partner.id)
    state = await session.get(PartnerDeliveryState, partner.id)
    has_endpoint = await _has_tokens_endpoint(session, partner.id)
    if partner.status == PartnerStatus.UNREGISTERED or (
        partner.status == PartnerStatus.CONNECTED and not has_endpoint
    ):
        removed = await cancel_partner(session, partner.id)
        return "cancelled" if removed or state is not None else "none"
    if partner.status != PartnerStatus.CONNECTED or not partner.client_token:
        if state is not None and state.pause_reason == PauseReason.PARTNER_STATUS:
            return "none"
        if state is None and not has_endpoint and not await _has_rows(session, partner.id):
            return "none"  # never received tokens (a registration under way): nothing to pause
        await pause_partner(
            session, partner.id, PauseReason.PARTNER_STATUS, f"partner is {partner.status}", now=now
        )
        return "paused"
    targets = (await targets_of(session, [partner.id]))[partner.id]
    actions: list[str] = []
    paused = state is not None and state.pause_reason is not None
    if state is not None and state.pause_reason == PauseReason.PARTNER_STATUS:
        await backfill_partner(session, partner.id, targets=targets, now=now)
        actions.append("backfilled")
        paused = False
    elif state is not None and state.pause_reason == PauseReason.CREDENTIALS:
        if state.token_fingerprint != token_fingerprint(partner.client_token):
            await resume_partner(session, partner.id, targets=targets, now=now)
            actions.append("resumed")
            paused = False
    actions += await align_targets(
        session, partner.id, targets, partner_paused=paused, now=now, token_count=token_count
    )
    return ", ".join(dict.fromkeys(actions)) or "none"


async def align_targets(
    session: AsyncSession,
    partner_id: int,
    targets: list[Target],
    *,
    partner_paused: bool,
    now: datetime,
    token_count: int | None = None,
) -> list[str]:
    """The partner's rows per target party in line with its targets (see the module docstring)."""
    counts = await party_counts(session, partner_id)
    tokens = await count_tokens(session) if token_count is None else token_count
    wanted = {t.party for t in targets}
    actions: list[str] = []
    stale = [party for party in counts if party not in wanted]
    if stale and await drop_parties(session, partner_id, stale):
        actions.append("dropped")
    to_pause, to_catch_up = [], []
    for target in targets:
        rows, paused_rows = counts.get(target.party, (0, 0))
        hold = partner_paused or not target.connected
        if rows < tokens:
            await backfill_target(session, partner_id, target, paused=hold, now=now, only_missing=True)
            actions.append("backfilled")
        if hold and paused_rows < rows:
            to_pause.append(target.party)
        elif not hold and paused_rows > 0:
            to_catch_up.append(target.party)
    if to_pause and await pause_parties(session, partner_id, to_pause, now=now):
        actions.append("paused")
    if to_catch_up and await catch_up_parties(session, partner_id, to_catch_up, now=now):
        actions.append("caught up")
    return actions


async def sync_partner_id(session: AsyncSession, partner_id: int, *, now: datetime | None = None) -> str:
    """`sync_partner` by id (the HubClientInfo store knows only the partner's id)."""
    partner = await session.get(Partner, partner_id)
    return "none" if partner is None else await sync_partner(session, partner, now=now)


async def sync_partners(session: AsyncSession, *, now: datetime | None = None) -> dict[int, str]:
    """`sync_partner` for every partner that has rows, a pause state or a Tokens RECEIVER endpoint."""
    with_rows = select(_T.c.partner_id).distinct().scalar_subquery()
    with_state = select(PartnerDeliveryState.partner_id).scalar_subquery()
    stmt = sm_select(Partner).where(
        or_(
            col(Partner.id).in_(with_tokens_receiver()),
            col(Partner.id).in_(with_rows),
            col(Partner.id).in_(with_state),
        )
    )
    partners = list((await session.exec(stmt.order_by(col(Partner.id)))).all())
    tokens = await count_tokens(session)  # syncing adds delivery rows, never tokens: once per round
    synced = [p for p in partners if p.id is not None]
    return {p.id: await sync_partner(session, p, now=now, token_count=tokens) for p in synced}


async def count_tokens(session: AsyncSession) -> int:
    from emsp.tokens.tables import Token

    return int((await session.exec(select(func.count()).select_from(Token))).scalar_one())


@asynccontextmanager
async def following_partners(session: AsyncSession) -> AsyncIterator[None]:
    """Every partner loaded or added in `session` inside the block gets `sync_partner` when the block ends
    without error, in the same transaction: the handshake's units of work use it
    (`emsp.registration.unit_of_work`), since the partner changes inside `partners.handshake`."""
    seen: dict[int, Partner] = {}

    def remember(_session: Any, instance: Any) -> None:
        if isinstance(instance, Partner):
            seen[id(instance)] = instance

    events = ("loaded_as_persistent", "transient_to_pending")
    for name in events:
        event.listen(session.sync_session, name, remember)
    try:
        yield
    finally:
        for name in events:
            event.remove(session.sync_session, name, remember)
    for partner in seen.values():
        state = inspect(partner)
        if partner.id is not None and state.persistent:
            await sync_partner(session, partner)
