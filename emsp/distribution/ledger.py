"""The distribution ledger: which party, through which partner, should have which version of which token.

One row per (token, partner, target party): the party is the `OCPI-to-*` of the push (`addressing`): a
direct partner's own party, each CPO party behind a hub, or a hub's own party (broadcast) while it has
reported none. Writes happen in the caller's transaction (functions only `flush()`):

- `mark_token_changed` / `mark_tokens_changed`: a token changed → for every eligible target (a CONNECTED
  partner with a Tokens RECEIVER endpoint, each of its targets) the row wants the new version, PENDING,
  attempts reset, due now; a target not CONNECTED behind its hub gets it too, paused. A newer version
  supersedes whatever was pending (one row per target: coalescing). Bulk upsert.
- `backfill_partner`: a partner became CONNECTED → every token PENDING for each of its targets.
- `pause_partner` / `resume_partner`: keep a partner's rows but do not send (SUSPENDED, credentials
  refused); resume makes the paused rows of its CONNECTED targets due now.
- `pause_parties` / `catch_up_parties` / `drop_parties`: the same per target party, as a hub reports its
  parties (`emsp.distribution.sync`).
- `cancel_partner`: UNREGISTERED (credentials deleted: no more automated traffic) → its rows go.
- `retry_failed`: operator retry of FAILED rows in a scope (all, one partner's parties, some tokens).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ARRAY,
    Boolean,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import autoflush
from emsp.distribution.addressing import Target, targets_from_roles, targets_of
from emsp.distribution.tables import DeliveryStatus, PartnerDeliveryState, PauseReason, TokenDelivery
from ocpi.types import utcnow
from partners.delivery import Party
from partners.tables import Partner, PartnerEndpoint, PartnerRole, PartnerStatus

TOKENS_MODULE = "tokens"
RECEIVER = "RECEIVER"
_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_KEY = [_T.c.token_id, _T.c.partner_id, _T.c.to_country_code, _T.c.to_party_id]
_UPSERT_CHUNK = 2000


class TokenVersion(Protocol):
    id: int | None
    version: int


@dataclass(frozen=True)
class EligiblePartner:
    partner_id: int
    paused: bool


@dataclass(frozen=True)
class EligibleTarget:
    partner_id: int
    target: Target
    paused: bool  # the partner is paused, or the party is not CONNECTED behind its hub


def token_fingerprint(token: str | None) -> str | None:
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()


async def dialect_name(session: AsyncSession) -> str:
    return str((await session.connection()).dialect.name)


def dialect_insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _of_parties(partner_id: int, parties: Collection[Party]) -> Any:
    return and_(
        _T.c.partner_id == partner_id,
        tuple_(_T.c.to_country_code, _T.c.to_party_id).in_(sorted(set(parties))),
    )


# ------------------------------------------------------------------------------------------ eligibility


IS_TOKENS_RECEIVER = and_(
    col(PartnerEndpoint.identifier) == TOKENS_MODULE, col(PartnerEndpoint.role) == RECEIVER
)
"""A `partner_endpoints` row that is a Tokens RECEIVER endpoint: what makes a partner one we push to."""


def with_tokens_receiver() -> Any:
    return select(PartnerEndpoint.partner_id).where(IS_TOKENS_RECEIVER).scalar_subquery()


async def eligible_partners(session: AsyncSession) -> list[EligiblePartner]:
    """CONNECTED partners with a Tokens RECEIVER endpoint, and whether pushing to each is paused."""
    stmt = (
        select(col(Partner.id), col(PartnerDeliveryState.pause_reason))
        .outerjoin(PartnerDeliveryState, col(PartnerDeliveryState.partner_id) == col(Partner.id))
        .where(col(Partner.status) == PartnerStatus.CONNECTED, col(Partner.id).in_(with_tokens_receiver()))
        .order_by(col(Partner.id))
    )
    rows = (await session.exec(stmt)).all()
    return [EligiblePartner(partner_id=int(pid), paused=reason is not None) for pid, reason in rows]


_ELIGIBLE_TARGETS: Any = (  # built once: it runs on every token change
    select(
        col(Partner.id),
        col(PartnerDeliveryState.pause_reason),
        col(PartnerRole.role),
        col(PartnerRole.country_code),
        col(PartnerRole.party_id),
    )
    .outerjoin(PartnerDeliveryState, col(PartnerDeliveryState.partner_id) == col(Partner.id))
    .outerjoin(PartnerRole, col(PartnerRole.partner_id) == col(Partner.id))
    .where(col(Partner.status) == PartnerStatus.CONNECTED, col(Partner.id).in_(with_tokens_receiver()))
    .order_by(col(Partner.id), col(PartnerRole.id))
    .with_for_update(read=True, of=Partner.__table__)  # type: ignore[attr-defined]
)


async def eligible_targets(session: AsyncSession, connection: AsyncConnection) -> list[EligibleTarget]:
    """Every target of every eligible partner, and whether its rows are paused. One statement (partners,
    pause state and roles) unless a hub is among them (then its ClientInfo too): this runs on every token
    change. On PostgreSQL it takes a share lock on the partner rows: `emsp.distribution.sync.sync_partner`
    locks its partner for update, so a token change and a change of that partner's targets (a backfill of
    a new party) run one after the other, and neither misses the other's write."""
    # A Core statement on the session's connection (no ORM result machinery); pending ORM changes are
    # flushed first, as an ORM query would do, so partners changed in this transaction are seen.
    await autoflush(session)
    paused: dict[int, bool] = {}
    roles: dict[int, list[tuple[str, str, str]]] = {}
    for pid, reason, role, cc, party in (await connection.execute(_ELIGIBLE_TARGETS)).all():
        paused[int(pid)] = reason is not None
        if role is not None:
            roles.setdefault(int(pid), []).append((str(role), str(cc), str(party)))
    targets = await targets_from_roles(session, list(paused), roles)
    return [
        EligibleTarget(pid, t, is_paused or not t.connected)
        for pid, is_paused in paused.items()
        for t in targets.get(pid, [])
    ]


# ------------------------------------------------------------------------------------------ token changes


async def mark_token_changed(
    session: AsyncSession, token: TokenVersion, *, now: datetime | None = None
) -> int:
    """Called by `emsp.tokens` in the same transaction as every token change, after the flush."""
    return await mark_tokens_changed(session, [token], now=now)


async def mark_tokens_changed(
    session: AsyncSession, tokens: Sequence[TokenVersion], *, now: datetime | None = None
) -> int:
    """Every eligible target wants each token's current `version`; returns the rows written. One upsert
    per 2,000 rows, its statement built once (`_PG_MARKING`; SQLite: an executemany of one-row upserts)."""
    connection = await session.connection()
    targets = await eligible_targets(session, connection)
    if not targets or not tokens:
        return 0
    now = now or utcnow()
    pairs = [(token, each) for token in tokens for each in targets]
    if connection.dialect.name == "postgresql":
        for start in range(0, len(pairs), _UPSERT_CHUNK):
            chunk = pairs[start : start + _UPSERT_CHUNK]
            params = {
                "token_id": [token.id for token, _ in chunk],
                "partner_id": [each.partner_id for _, each in chunk],
                "to_country_code": [each.target.country_code for _, each in chunk],
                "to_party_id": [each.target.party_id for _, each in chunk],
                "wanted_version": [token.version for token, _ in chunk],
                "paused": [each.paused for _, each in chunk],
                "now": now,
            }
            await connection.execute(_PG_MARKING, params)
        return len(pairs)
    rows = [
        {
            "token_id": token.id,
            "partner_id": each.partner_id,
            "to_country_code": each.target.country_code,
            "to_party_id": each.target.party_id,
            "wanted_version": token.version,
            "status": DeliveryStatus.PENDING.value,
            "paused": each.paused,
            "attempts": 0,
            "attempt_seq": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for token, each in pairs
    ]
    for start in range(0, len(rows), _UPSERT_CHUNK):
        await connection.execute(_SQLITE_MARKING, rows[start : start + _UPSERT_CHUNK])
    return len(rows)


def _superseding_values(excluded: Any) -> dict[str, Any]:
    """What a newer change does to an existing row: wants the new version, PENDING now, attempts reset.
    A lease in progress is left alone: its outcome sees `wanted_version` moved and keeps the row PENDING."""
    return {
        "wanted_version": excluded.wanted_version,
        "status": DeliveryStatus.PENDING.value,
        "paused": excluded.paused,
        "attempts": 0,
        "next_attempt_at": excluded.next_attempt_at,
        "updated_at": excluded.updated_at,
    }


_BACKFILL_COLUMNS = [
    "token_id",
    "partner_id",
    "to_country_code",
    "to_party_id",
    "wanted_version",
    "status",
    "paused",
    "attempts",
    "attempt_seq",
    "next_attempt_at",
    "updated_at",
]


def _unless_newer_wanted(insert: Any) -> Any:
    """The upsert of `mark_tokens_changed`: the row wants the new version, PENDING, attempts reset, due
    now, unless it already wants a newer one."""
    return insert.on_conflict_do_update(
        index_elements=_KEY,
        set_=_superseding_values(insert.excluded),
        where=_T.c.wanted_version <= insert.excluded.wanted_version,
    )


def _pg_marking() -> Any:
    """One INSERT ... SELECT FROM unnest(one array per column): one statement whatever the row count, as a
    multi-row VALUES would be, but compiled once (a multi-row VALUES is compiled again on every change)."""
    arrays = {
        "token_id": Integer,
        "partner_id": Integer,
        "to_country_code": String,
        "to_party_id": String,
        "wanted_version": Integer,
        "paused": Boolean,
    }
    rows = (
        func.unnest(*[bindparam(name, type_=ARRAY(kind)) for name, kind in arrays.items()])
        .table_valued(*arrays)
        .render_derived()
    )
    now = bindparam("now", type_=_T.c.updated_at.type)
    source = select(
        rows.c.token_id,
        rows.c.partner_id,
        rows.c.to_country_code,
        rows.c.to_party_id,
        rows.c.wanted_version,
        literal(DeliveryStatus.PENDING.value),
        rows.c.paused,
        literal(0),
        literal(0),
        now,
        now,
    )
    return _unless_newer_wanted(postgresql.insert(_T).from_select(_BACKFILL_COLUMNS, source))


_PG_MARKING = _pg_marking()
_SQLITE_MARKING = _unless_newer_wanted(sqlite.insert(_T))  # one row, run as an executemany


async def backfill_target(
    session: AsyncSession,
    partner_id: int,
    target: Target,
    *,
    paused: bool,
    now: datetime,
    only_missing: bool = False,
) -> int:
    """Every token PENDING for one target (INSERT ... SELECT upsert); with `only_missing`, only the tokens
    that have no row for it yet. Returns the rows written."""
    from emsp.tokens.tables import Token

    source = select(
        col(Token.id),
        literal(partner_id),
        literal(target.country_code),
        literal(target.party_id),
        col(Token.version),
        literal(DeliveryStatus.PENDING.value),
        true() if paused else false(),
        literal(0),
        literal(0),
        literal(now, type_=_T.c.next_attempt_at.type),
        literal(now, type_=_T.c.updated_at.type),
    ).where(true())  # `WHERE true`: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT
    stmt = dialect_insert(await dialect_name(session))(_T).from_select(_BACKFILL_COLUMNS, source)
    if only_missing:
        stmt = stmt.on_conflict_do_nothing(index_elements=_KEY)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=_KEY, set_=_superseding_values(stmt.excluded))
    result = await (await session.connection()).execute(stmt)
    return int(result.rowcount or 0)


async def backfill_partner(
    session: AsyncSession,
    partner_id: int,
    *,
    targets: Sequence[Target],
    now: datetime | None = None,
    only_missing: bool = False,
) -> int:
    """Every token PENDING for each of the partner's targets (it just became CONNECTED), paused for a
    target not CONNECTED behind its hub. Clears the partner's pause. Returns the rows written."""
    now = now or utcnow()
    await _set_pause_state(session, partner_id, None, None, None, now)
    written = 0
    for target in targets:
        written += await backfill_target(
            session, partner_id, target, paused=not target.connected, now=now, only_missing=only_missing
        )
    connected = [t.party for t in targets if t.connected]
    if connected:
        await _unpause_rows(session, partner_id, connected, now, catch_up=False)
    return written


# ------------------------------------------------------------------------------------------ partner state


async def _set_pause_state(
    session: AsyncSession,
    partner_id: int,
    reason: str | None,
    message: str | None,
    fingerprint: str | None,
    now: datetime,
) -> None:
    state = await session.get(PartnerDeliveryState, partner_id)
    if state is None:
        if reason is None:
            return
        state = PartnerDeliveryState(partner_id=partner_id)
    state.pause_reason = reason
    state.pause_message = None if message is None else message[:500]
    state.paused_at = now if reason is not None else None
    state.token_fingerprint = fingerprint
    state.updated_at = now
    session.add(state)
    await session.flush()


async def pause_partner(
    session: AsyncSession,
    partner_id: int,
    reason: PauseReason,
    message: str | None = None,
    *,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> int:
    """Stop pushing to a partner but keep its rows (and keep marking them on changes). `fingerprint`: of the
    client token the partner refused (a new token resumes it, see `emsp.distribution.sync`)."""
    now = now or utcnow()
    await _set_pause_state(session, partner_id, reason.value, message, fingerprint, now)
    result = await session.exec(
        update(_T)
        .where(_T.c.partner_id == partner_id, _T.c.paused == false())
        .values(paused=True, updated_at=now)
    )
    return int(result.rowcount or 0)


async def resume_partner(
    session: AsyncSession,
    partner_id: int,
    *,
    targets: Sequence[Target] | None = None,
    now: datetime | None = None,
) -> int:
    """Push again: clears the pause; the paused PENDING rows of its CONNECTED targets are due now with
    their attempts reset (rows of a party not CONNECTED behind a hub stay paused)."""
    now = now or utcnow()
    if targets is None:
        targets = (await targets_of(session, [partner_id]))[partner_id]
    await _set_pause_state(session, partner_id, None, None, None, now)
    connected = [t.party for t in targets if t.connected]
    return await _unpause_rows(session, partner_id, connected, now, catch_up=False) if connected else 0


async def _unpause_rows(
    session: AsyncSession, partner_id: int, parties: Collection[Party], now: datetime, *, catch_up: bool
) -> int:
    """Unpause the rows addressed to `parties`: PENDING ones due now, attempts reset. With `catch_up` (a
    party became CONNECTED) FAILED ones too: every token whose acknowledged version is not the wanted one."""
    waiting = [DeliveryStatus.PENDING.value] + ([DeliveryStatus.FAILED.value] if catch_up else [])
    again = _T.c.status.in_(waiting)
    result = await session.exec(
        update(_T)
        .where(_of_parties(partner_id, parties), _T.c.paused == true())
        .values(
            paused=False,
            status=case((again, DeliveryStatus.PENDING.value), else_=_T.c.status),
            attempts=case((again, 0), else_=_T.c.attempts),
            next_attempt_at=case((again, now), else_=_T.c.next_attempt_at),
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)


async def pause_parties(
    session: AsyncSession, partner_id: int, parties: Collection[Party], *, now: datetime | None = None
) -> int:
    """Keep the rows addressed to `parties` but send nothing toward them (NOT_CONNECTED behind a hub)."""
    result = await session.exec(
        update(_T)
        .where(_of_parties(partner_id, parties), _T.c.paused == false())
        .values(paused=True, updated_at=now or utcnow())
    )
    return int(result.rowcount or 0)


async def catch_up_parties(
    session: AsyncSession, partner_id: int, parties: Collection[Party], *, now: datetime | None = None
) -> int:
    """Parties that became CONNECTED behind a hub: their paused rows not acknowledged at the wanted version
    are due now (the worker sends each token's current state, so nothing stale goes out)."""
    return await _unpause_rows(session, partner_id, parties, now or utcnow(), catch_up=True)


async def drop_parties(session: AsyncSession, partner_id: int, parties: Collection[Party]) -> int:
    """Rows addressed to parties that are no target any more (SUSPENDED, no longer listed, a broadcast
    replaced by the hub's parties, roles changed) go, with their attempt logs."""
    result = await session.exec(delete(_T).where(_of_parties(partner_id, parties)))
    return int(result.rowcount or 0)


async def cancel_partner(session: AsyncSession, partner_id: int) -> int:
    """No more automated traffic to the partner (UNREGISTERED): its rows and pause state go."""
    result = await session.exec(delete(_T).where(_T.c.partner_id == partner_id))
    await session.exec(delete(PartnerDeliveryState).where(col(PartnerDeliveryState.partner_id) == partner_id))
    return int(result.rowcount or 0)


async def party_counts(session: AsyncSession, partner_id: int) -> dict[Party, tuple[int, int]]:
    """Per target party of the partner's rows: (rows, paused rows)."""
    stmt = (
        select(
            _T.c.to_country_code,
            _T.c.to_party_id,
            func.count(),
            func.sum(case((_T.c.paused == true(), 1), else_=0)),
        )
        .where(_T.c.partner_id == partner_id)
        .group_by(_T.c.to_country_code, _T.c.to_party_id)
    )
    return {(cc, pid): (int(n), int(paused or 0)) for cc, pid, n, paused in (await session.exec(stmt)).all()}


# ------------------------------------------------------------------------------------------ operator actions


async def retry_failed(
    session: AsyncSession,
    *,
    partner_ids: Iterable[int] | None = None,
    token_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> int:
    """FAILED rows in the scope (a partner: all its target parties) become PENDING, due now, attempts
    reset; returns how many. A partner paused because it refused our credentials is resumed too when it is
    in the scope (the operator fixed it). Rows of a party not CONNECTED stay paused until it connects."""
    now = now or utcnow()
    conditions = [_T.c.status == DeliveryStatus.FAILED.value]
    partners = None if partner_ids is None else sorted(set(partner_ids))
    if partners is not None:
        conditions.append(_T.c.partner_id.in_(partners))
    if token_ids is not None:
        conditions.append(_T.c.token_id.in_(sorted(set(token_ids))))
    result = await session.exec(
        update(_T)
        .where(and_(*conditions))
        .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, updated_at=now)
    )
    if token_ids is None:
        stmt = sm_select(PartnerDeliveryState).where(
            col(PartnerDeliveryState.pause_reason) == PauseReason.CREDENTIALS
        )
        if partners is not None:
            stmt = stmt.where(col(PartnerDeliveryState.partner_id).in_(partners))
        for state in (await session.exec(stmt)).all():
            await resume_partner(session, state.partner_id, now=now)
    return int(result.rowcount or 0)


async def mark_pending(
    session: AsyncSession, delivery_ids: Sequence[int], *, now: datetime | None = None
) -> int:
    """Rows to send again (reconciliation found the partner's copy differs): PENDING with the token's
    current version, due now."""
    if not delivery_ids:
        return 0
    from emsp.tokens.tables import Token

    now = now or utcnow()
    current = select(Token.version).where(col(Token.id) == _T.c.token_id).scalar_subquery()
    result = await session.exec(
        update(_T)
        .where(_T.c.id.in_(list(delivery_ids)))
        .values(
            wanted_version=current,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)
