"""Pull sync of one module from one partner: the checkpoint, the crawl (`partners.pull.crawl`) and the sink
that stores each page. Spec: each module's Sender "GET List" and transport_and_format.asciidoc "Pagination".

- Incremental: `date_from` = the checkpoint's watermark (the newest `last_updated` a complete pull saw;
  inclusive, so the edge object comes again and is upserted idempotently). No watermark yet: a full pull.
- Full: no `date_from` (Sessions: `EMSP_PULL_SESSIONS_LOOKBACK_DAYS` back); after a *complete* crawl,
  objects of this partner the crawl did not list and nobody wrote since it began are marked gone
  (Locations `gone_at`, Tariffs deleted with a tombstone version, ClientInfo `gone_at`; Sessions never).
- Each page is one transaction: its objects upserted, invalid or foreign-party items quarantined, and the
  checkpoint's cursor moved to the next page, then committed. No transaction is open during an HTTP call.
  A crawl that stops (partner error, crash) resumes from the cursor with the same crawl id, so the sweep
  at its end still sees every page.
- One crawl per (partner, module) at a time: a PostgreSQL advisory lock across nodes (held on its own
  connection), an asyncio lock within a process (SQLite).

`sync_module` takes a session and commits per page (its unit of work is a page, not the call).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.parties import parties_of
from emsp.ingest.pull_specs import SPECS, PullSpec
from emsp.ingest.quarantine import record_rejected, resolve
from emsp.ingest.tables import PullCheckpoint
from emsp.ingest.upsert import dialect_name
from ocpi.client import OcpiClient, with_query
from ocpi.pagination import PageParams
from ocpi.types import utcnow
from partners.pull import CrawlResult, PulledPage, PullPolicy, RejectItem, crawl
from partners.tables import Partner, PartnerEndpoint, PartnerRole, PartnerStatus

log = logging.getLogger("emsp.ingest.sync")

CHECKPOINTS = PullCheckpoint.__table__  # type: ignore[attr-defined]
Party = tuple[str, str]
_local_locks: dict[tuple[int, str], asyncio.Lock] = {}


@dataclass(frozen=True)
class SyncOptions:
    """The policy of a pull, from settings (`emsp.ingest.jobs.options_from`)."""

    our_party: Party
    page_limit: int = 500
    policy: PullPolicy = field(default_factory=PullPolicy)
    sessions_lookback: timedelta = timedelta(days=30)
    stale_crawl: timedelta = timedelta(hours=48)


@dataclass
class SyncOutcome:
    partner: str
    module: str
    status: str  # complete | incomplete | skipped | busy
    full: bool = False
    resumed: bool = False
    pages: int = 0
    items: int = 0
    rejected: int = 0
    swept: int = 0
    total_count: int | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[SyncOutcome], None]


async def sync_module(
    session: AsyncSession,
    http: httpx.AsyncClient,
    partner: Partner,
    module: str,
    options: SyncOptions,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncOutcome:
    """Pull `module` from `partner` (incremental unless `full`), resuming an interrupted crawl."""
    spec = SPECS[module]
    assert partner.id is not None
    outcome = SyncOutcome(partner=partner.name, module=module, status="skipped", full=full)
    url = await _sender_url(session, partner.id, module)
    if partner.status != PartnerStatus.CONNECTED or not partner.client_token:
        outcome.message = f"partner is {partner.status}, not CONNECTED"
        return outcome
    if url is None:
        outcome.message = f"partner has no {module} SENDER endpoint"
        return outcome
    async with _crawl_lock(session, partner.id, module) as locked:
        if not locked:
            outcome.status, outcome.message = (
                "busy",
                "another pull of this module from this partner is running",
            )
            return outcome
        return await _run(session, http, partner, spec, url, options, outcome, full, progress)


async def _run(
    session: AsyncSession,
    http: httpx.AsyncClient,
    partner: Partner,
    spec: PullSpec,
    url: str,
    options: SyncOptions,
    outcome: SyncOutcome,
    full: bool,
    progress: Progress | None,
) -> SyncOutcome:
    assert partner.id is not None
    now = utcnow()
    checkpoint = await _checkpoint(session, partner.id, spec.module)
    if _resumable(checkpoint, full, now, options):
        outcome.resumed, outcome.full = True, checkpoint.crawl_full
        start_url = checkpoint.cursor_url or url
        log.info(
            "pull %s from %s: resuming crawl %s at %s",
            spec.module,
            partner.name,
            checkpoint.crawl_id,
            start_url,
        )
    else:
        outcome.full = full or checkpoint.watermark is None
        start_url = _first_url(spec, url, checkpoint, outcome.full, now, options)
        await _begin(session, checkpoint, outcome.full, start_url, now)
    parties = await parties_of(session, partner.id) if spec.owner_scoped else None
    client = OcpiClient(
        http,
        token=partner.client_token or "",
        base64_token=partner.base64_token,
        from_party=options.our_party,
        to_party=await _their_party(session, partner.id),
    )
    sink = _Sink(session, spec, partner.id, checkpoint, outcome, progress)
    await session.commit()  # the crawl's start is recorded; no transaction open across HTTP calls
    result = await crawl(
        client,
        start_url,
        parse=_parser(spec, parties),
        sink=sink,
        policy=options.policy,
        previous_total=checkpoint.crawl_total if outcome.resumed else None,
    )
    outcome.status = "complete" if result.complete else "incomplete"
    if result.error is not None:
        outcome.message = result.error.message
    return outcome


class _Sink:
    """Stores one page per transaction and moves the checkpoint with it."""

    def __init__(
        self,
        session: AsyncSession,
        spec: PullSpec,
        partner_id: int,
        checkpoint: PullCheckpoint,
        outcome: SyncOutcome,
        progress: Progress | None,
    ) -> None:
        self.session, self.spec, self.partner_id = session, spec, partner_id
        self.checkpoint, self.outcome, self.progress = checkpoint, outcome, progress
        assert checkpoint.crawl_id is not None and checkpoint.crawl_started_at is not None
        self.crawl_id: str = checkpoint.crawl_id
        self.started_at: datetime = checkpoint.crawl_started_at

    async def store_page(self, page: PulledPage[Any]) -> None:
        session, spec = self.session, self.spec
        try:
            if page.items:
                await spec.store(session, page.items, self.partner_id, self.crawl_id)
                await resolve(session, self.partner_id, spec.module, [spec.object_ref(i) for i in page.items])
            await record_rejected(
                session, self.partner_id, spec.module, page.rejected, request_id=page.request_id
            )
            newest = max((i.last_updated for i in page.items), default=None)
            old = self.checkpoint
            changes = {
                "crawl_max_last_updated": _later(old.crawl_max_last_updated, newest),
                "cursor_url": page.next_url or page.url,
                "crawl_total": page.total_count,
                "crawl_pages": old.crawl_pages + 1,
                "crawl_items": old.crawl_items + len(page.items),
                "crawl_invalid": old.crawl_invalid + len(page.rejected),
                "updated_at": utcnow(),
            }
            await save_checkpoint(session, old, **changes)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        for name, value in changes.items():  # the checkpoint moves only once the page is stored
            setattr(self.checkpoint, name, value)
        cp = self.checkpoint
        out = self.outcome
        out.pages, out.items, out.rejected = cp.crawl_pages, cp.crawl_items, cp.crawl_invalid
        out.total_count = page.total_count
        if self.progress is not None:
            self.progress(out)

    async def finish(self, result: CrawlResult) -> None:
        cp, now = self.checkpoint, utcnow()
        swept = 0
        if cp.crawl_full and self.spec.sweep is not None:
            swept = await self.spec.sweep(self.session, self.partner_id, self.crawl_id, self.started_at)
            log.info("pull %s from partner %s: %d no longer listed", self.spec.module, self.partner_id, swept)
            cp.last_full_completed_at = now
        cp.watermark = _later(cp.watermark, cp.crawl_max_last_updated)
        cp.last_completed_at, cp.last_items, cp.last_swept = now, cp.crawl_items, swept
        cp.crawl_id = cp.cursor_url = None
        cp.last_error = cp.last_error_at = None
        cp.updated_at = now
        await self._save()
        await self.session.commit()
        self.outcome.swept = swept

    async def fail(self, result: CrawlResult) -> None:
        cp = self.checkpoint
        cp.last_error = (result.error.message if result.error else "failed")[:1000]
        cp.last_error_at = cp.updated_at = utcnow()
        await self._save()
        await self.session.commit()

    async def _save(self) -> None:
        await save_checkpoint(self.session, self.checkpoint)


# --- helpers --------------------------------------------------------------------------------------------


def _parser(spec: PullSpec, parties: frozenset[Party] | None) -> Callable[[Any], Any]:
    model = spec.model

    def parse(raw: Any) -> Any:
        item = model.model_validate(raw)
        if parties is not None and (item.country_code.upper(), item.party_id.upper()) not in parties:
            raise RejectItem(
                f"party {item.country_code}/{item.party_id} is not one this partner speaks for (OCPI 4.1.6)"
            )
        return item

    return parse


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _resumable(cp: PullCheckpoint, full: bool, now: datetime, options: SyncOptions) -> bool:
    if cp.crawl_id is None or cp.cursor_url is None or cp.crawl_started_at is None:
        return False
    if now - cp.crawl_started_at > options.stale_crawl:
        return False
    return cp.crawl_full or not full  # an interrupted full crawl also serves an incremental request


def _first_url(
    spec: PullSpec, url: str, cp: PullCheckpoint, full: bool, now: datetime, options: SyncOptions
) -> str:
    date_from = None if full else cp.watermark
    if spec.needs_date_from and date_from is None:
        date_from = now - options.sessions_lookback
    return with_query(url, PageParams(date_from=date_from, limit=options.page_limit))


async def _begin(
    session: AsyncSession, cp: PullCheckpoint, full: bool, start_url: str, now: datetime
) -> None:
    cp.crawl_id, cp.crawl_full, cp.crawl_started_at = str(uuid.uuid4()), full, now
    cp.cursor_url, cp.crawl_max_last_updated, cp.crawl_total = start_url, None, None
    cp.crawl_pages = cp.crawl_items = cp.crawl_invalid = 0
    cp.updated_at = now
    await save_checkpoint(session, cp)


async def save_checkpoint(session: AsyncSession, cp: PullCheckpoint, **changes: Any) -> None:
    """Write the checkpoint's columns (with `changes` applied to what is written, not to `cp`)."""
    values = {c.name: getattr(cp, c.name) for c in CHECKPOINTS.columns if c.name != "pk"}
    values.update(changes)
    await session.exec(update(CHECKPOINTS).where(CHECKPOINTS.c.pk == cp.pk).values(**values))


async def load_checkpoint(session: AsyncSession, partner_id: int, module: str) -> PullCheckpoint | None:
    """The checkpoint of (partner, module), detached from the session (the sync writes it with UPDATEs)."""
    stmt = select(PullCheckpoint).where(
        (CHECKPOINTS.c.partner_id == partner_id) & (CHECKPOINTS.c.module == module)
    )
    found = (await session.exec(stmt)).first()
    if found is None:
        return None
    session.expunge(found[0])
    return found[0]


async def _checkpoint(session: AsyncSession, partner_id: int, module: str) -> PullCheckpoint:
    found = await load_checkpoint(session, partner_id, module)
    if found is not None:
        return found
    checkpoint = PullCheckpoint(partner_id=partner_id, module=module)
    session.add(checkpoint)
    await session.flush()
    session.expunge(checkpoint)
    return checkpoint


async def _sender_url(session: AsyncSession, partner_id: int, module: str) -> str | None:
    table = PartnerEndpoint.__table__  # type: ignore[attr-defined]
    row = (
        await session.exec(
            select(table.c.url).where(
                (table.c.partner_id == partner_id)
                & (table.c.identifier == module)
                & (table.c.role == "SENDER")
            )
        )
    ).first()
    return None if row is None else str(row[0])


async def _their_party(session: AsyncSession, partner_id: int) -> Party | None:
    """The `OCPI-to-*` of a GET All: the hub itself (4.1.8.5), else the partner's CPO party."""
    table = PartnerRole.__table__  # type: ignore[attr-defined]
    rows = (
        await session.exec(
            select(table.c.role, table.c.country_code, table.c.party_id).where(
                table.c.partner_id == partner_id
            )
        )
    ).all()
    for wanted in ("HUB", "CPO"):
        for role, cc, pid in rows:
            if role == wanted:
                return cc, pid
    return (rows[0][1], rows[0][2]) if rows else None


@asynccontextmanager
async def _crawl_lock(session: AsyncSession, partner_id: int, module: str) -> AsyncIterator[bool]:
    local = _local_locks.setdefault((partner_id, module), asyncio.Lock())
    if local.locked():
        yield False
        return
    async with local:
        if dialect_name(session) != "postgresql":
            yield True
            return
        key = advisory_key(f"emsp.pull:{partner_id}:{module}")
        engine = session.bind
        async with engine.connect() as conn:  # type: ignore[union-attr]
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar())
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    await conn.commit()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_try_advisory_lock`."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


__all__ = ["SyncOptions", "SyncOutcome", "advisory_key", "load_checkpoint", "sync_module"]
