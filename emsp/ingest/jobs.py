"""When pulls run: the scheduled job (every few minutes it runs the pulls that are due), and the operator's
trigger (admin API, CLI). Both end in `emsp.ingest.sync.sync_module`.

A (partner, module) pull is due `EMSP_PULL_INTERVAL_HOURS` after the last complete one, shifted by a jitter
of up to `EMSP_PULL_JITTER_MINUTES` (stable per partner, module and cycle: splay without flapping); it is a
full pull when the last complete full pull is older than `EMSP_PULL_FULL_INTERVAL_HOURS`. After a failed
pull the next try waits min(interval, 30 minutes). A hub's ClientInfo is pulled before its other modules.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import session_scope
from emsp.ingest.pull_specs import PULL_MODULES
from emsp.ingest.sync import Progress, SyncOptions, SyncOutcome, load_checkpoint, sync_module
from emsp.node import Node
from emsp.settings import Settings
from ocpi.types import utcnow
from partners.pull import PullPolicy
from partners.tables import Partner, PartnerEndpoint, PartnerStatus

log = logging.getLogger("emsp.ingest.jobs")

FAILURE_RETRY = timedelta(minutes=30)


def options_from(settings: Settings) -> SyncOptions:
    own = settings.parties[0]
    return SyncOptions(
        our_party=(own.country_code, own.party_id),
        page_limit=settings.pull_page_limit,
        policy=PullPolicy(
            max_attempts=settings.pull_max_attempts,
            backoff_initial=settings.pull_backoff_initial_seconds,
            backoff_max=settings.pull_backoff_max_seconds,
        ),
        sessions_lookback=timedelta(days=settings.pull_sessions_lookback_days),
        stale_crawl=timedelta(hours=settings.pull_stale_crawl_hours),
    )


async def pull_targets(
    session: AsyncSession, modules: Sequence[str], partner_ref: str | None = None
) -> list[tuple[Partner, str]]:
    """(partner, module) pairs: CONNECTED partners having a SENDER endpoint for the module; a hub's
    `hubclientinfo` first. `partner_ref` (name or id) limits it to one partner."""
    endpoints = PartnerEndpoint.__table__  # type: ignore[attr-defined]
    stmt = (
        select(Partner, endpoints.c.identifier)
        .join(endpoints, endpoints.c.partner_id == Partner.id)
        .where((Partner.status == PartnerStatus.CONNECTED) & (endpoints.c.role == "SENDER"))
        .order_by(Partner.id)
    )
    if partner_ref is not None:
        stmt = stmt.where(
            (Partner.id == int(partner_ref)) if partner_ref.isdigit() else (Partner.name == partner_ref)
        )
    targets = [(p, ident) for p, ident in (await session.exec(stmt)).all() if ident in modules]
    rank = {m: (0 if m == "hubclientinfo" else i + 1) for i, m in enumerate(modules)}
    targets.sort(key=lambda t: (t[0].id or 0, rank[t[1]]))
    return targets


def is_due(
    settings: Settings,
    partner_id: int,
    module: str,
    *,
    last_completed: datetime | None,
    last_error: datetime | None,
    now: datetime,
) -> bool:
    if last_error is not None and (last_completed is None or last_error > last_completed):
        interval = timedelta(hours=settings.pull_interval_hours)
        return now >= last_error + min(interval, FAILURE_RETRY)
    if last_completed is None:
        return True
    cycle = random.Random(f"{partner_id}:{module}:{last_completed.isoformat()}")  # noqa: S311 - splay
    jitter = timedelta(minutes=cycle.uniform(0, settings.pull_jitter_minutes))
    return now >= last_completed + timedelta(hours=settings.pull_interval_hours) + jitter


def is_full_due(settings: Settings, last_full: datetime | None, now: datetime) -> bool:
    return last_full is None or now >= last_full + timedelta(hours=settings.pull_full_interval_hours)


async def run_due_pulls(
    session: AsyncSession, http: httpx.AsyncClient, settings: Settings, *, now: datetime | None = None
) -> list[SyncOutcome]:
    """Every pull that is due, one after the other (a thin job calls this)."""
    now = now or utcnow()
    modules = [m for m in settings.pull_modules if m in PULL_MODULES and m != "hubclientinfo"]
    modules.append("hubclientinfo")  # a hub's parties: always kept in sync, and first
    outcomes = []
    for partner, module in await pull_targets(session, modules):
        assert partner.id is not None
        cp = await load_checkpoint(session, partner.id, module)
        last_completed = cp.last_completed_at if cp else None
        last_error = cp.last_error_at if cp else None
        if not is_due(
            settings, partner.id, module, last_completed=last_completed, last_error=last_error, now=now
        ):
            continue
        full = is_full_due(settings, cp.last_full_completed_at if cp else None, now)
        try:
            outcomes.append(
                await sync_module(session, http, partner, module, options_from(settings), full=full)
            )
        except Exception:  # one partner's failure must not stop the others
            log.exception("pull %s from %s failed", module, partner.name)
            await session.rollback()
    for outcome in outcomes:
        log.info("pull %s from %s: %s", outcome.module, outcome.partner, outcome.to_json())
    return outcomes


async def pull_job(node: Node) -> None:
    """The scheduled entry point: a session, then `run_due_pulls`."""
    async with session_scope(node.sessionmaker) as session:
        await run_due_pulls(session, node.http, node.settings)


async def sync_now(
    session: AsyncSession,
    http: httpx.AsyncClient,
    settings: Settings,
    module: str,
    *,
    partner_ref: str | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> list[SyncOutcome]:
    """The operator's trigger: pull `module` now from one partner (name or id) or from every partner that
    offers it."""
    outcomes = []
    for partner, _ in await pull_targets(session, [module], partner_ref):
        outcomes.append(
            await sync_module(
                session, http, partner, module, options_from(settings), full=full, progress=progress
            )
        )
    return outcomes
