"""Store and read Sessions (spec mod_sessions.asciidoc, Receiver interface 9.2.2).

- PUT replaces the whole Session, `charging_periods` included (an empty list removes them).
- PATCH replaces the fields it carries, except `charging_periods`, which are *appended* (9.2.2.3). A period
  identical to one already stored is not appended again, so a replayed PATCH does not duplicate periods.
- An older `last_updated` changes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.locations import Outcome
from emsp.ingest.tables import IngestedSession
from emsp.ingest.upsert import bulk_upsert, dedupe_newest
from emsp.ingest.validation import merge_patch, patch_changes, validate, validate_patch
from ocpi.errors import InvalidParameters, NotFound
from ocpi.models.sessions import Session, SessionPatch
from ocpi.types import format_datetime, utcnow

log = logging.getLogger("emsp.ingest.sessions")

SESSIONS = IngestedSession.__table__  # type: ignore[attr-defined]
KEY = ("country_code", "party_id", "session_id")


def session_row(item: Session, *, partner_id: int | None, now: datetime) -> dict[str, Any]:
    token = item.cdr_token
    return {
        "country_code": ci(item.country_code),
        "party_id": ci(item.party_id),
        "session_id": ci(item.id),
        "partner_id": partner_id,
        "last_updated": item.last_updated,
        "status": item.status.value,
        "start_date_time": item.start_date_time,
        "end_date_time": item.end_date_time,
        "kwh": item.kwh,
        "currency": item.currency,
        "total_cost_excl_vat": item.total_cost.excl_vat if item.total_cost else None,
        "total_cost_incl_vat": item.total_cost.incl_vat if item.total_cost else None,
        "token_uid": token.uid,
        "token_type": token.type.value,
        "contract_id": token.contract_id,
        "location_id": item.location_id,
        "evse_uid": item.evse_uid,
        "connector_id": item.connector_id,
        "data": item.to_json(),
        "created_at": now,
        "received_at": now,
    }


def _where(key: ObjectKey) -> Any:
    return (
        (SESSIONS.c.country_code == key.country_code)
        & (SESSIONS.c.party_id == key.party_id)
        & (SESSIONS.c.session_id == key.id)
    )


async def _stored(
    session: AsyncSession, key: ObjectKey, *, lock: bool = False
) -> tuple[datetime, dict[str, Any]] | None:
    stmt = select(SESSIONS.c.last_updated, SESSIONS.c.data).where(_where(key))
    row = (await session.exec(stmt.with_for_update() if lock else stmt)).first()
    return None if row is None else (row[0], dict(row[1]))


async def store_sessions(
    session: AsyncSession, items: list[Session], *, partner_id: int | None, pull_id: str | None = None
) -> None:
    """Bulk upsert of whole Sessions (a pulled page, or one PUT); a newer stored version wins."""
    now = utcnow()
    rows = []
    for item in items:
        row = session_row(item, partner_id=partner_id, now=now)
        row["last_pull_id"] = pull_id
        rows.append(row)
    rows = dedupe_newest(rows, KEY)
    always = ("last_pull_id",) if pull_id else ()
    await bulk_upsert(session, SESSIONS, rows, key=KEY, always=always, insert_only=("created_at",))


async def put_session(session: AsyncSession, item: Session, *, partner_id: int) -> Outcome:
    key = ObjectKey.of(item.country_code, item.party_id, item.id)
    stored = await _stored(session, key)
    if stored is not None and item.last_updated < stored[0]:
        _log_ignored(key, item.last_updated, stored[0])
        return Outcome.IGNORED
    await store_sessions(session, [item], partner_id=partner_id)
    return Outcome.CREATED if stored is None else Outcome.UPDATED


async def patch_session(
    session: AsyncSession, key: ObjectKey, body: dict[str, Any], *, partner_id: int
) -> Outcome:
    patch = validate_patch(SessionPatch, body)
    stored = await _stored(session, key, lock=True)  # PATCH reads, merges and writes: one at a time
    if stored is None:
        raise NotFound(f"Unknown Session {key}")
    stored_at, data = stored
    assert patch.last_updated is not None
    if patch.last_updated < stored_at:
        _log_ignored(key, patch.last_updated, stored_at)
        return Outcome.IGNORED
    changes = patch_changes(patch)
    changes.pop("charging_periods", None)
    merged = merge_patch(data, changes)
    periods = list(merged.get("charging_periods") or [])
    known = {_canonical(p) for p in periods}
    for period in patch.charging_periods or ():
        as_json = period.to_json()
        if _canonical(as_json) not in known:
            known.add(_canonical(as_json))
            periods.append(as_json)
    if periods:
        merged["charging_periods"] = periods
    item = validate(Session, merged)
    if ObjectKey.of(item.country_code, item.party_id, item.id) != key:
        raise InvalidParameters("A PATCH may not change country_code, party_id or id")
    await store_sessions(session, [item], partner_id=partner_id)
    return Outcome.UPDATED


async def get_session_json(session: AsyncSession, key: ObjectKey) -> dict[str, Any] | None:
    stored = await _stored(session, key)
    return None if stored is None else stored[1]


def _canonical(period: dict[str, Any]) -> str:
    return json.dumps(period, sort_keys=True, separators=(",", ":"))


def _log_ignored(key: ObjectKey, sent: datetime, stored: datetime) -> None:
    log.info(
        "ignored Session %s: last_updated %s is older than the stored %s",
        key,
        format_datetime(sent),
        format_datetime(stored),
    )
