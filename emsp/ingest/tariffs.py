"""Tariffs with their version history, and the version in force at a moment (spec mod_tariffs.asciidoc).

- A PUT that changes a Tariff adds a version valid from its `last_updated`; one that only repeats it (same
  content, whatever its `last_updated`) adds none. A PUT with the same `last_updated` as the current version
  but other content corrects that version in place. An older `last_updated` changes nothing.
- DELETE (and a full pull no longer listing the Tariff) marks it deleted and adds a tombstone version valid
  from the moment we learnt it; the history stays. A later PUT brings it back as a new version.
- `tariff_in_force(session, cc, pid, tariff_id, at)` answers "which version applied at `at`" for CDR pricing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.locations import Outcome
from emsp.ingest.tables import IngestedTariff, TariffVersion
from ocpi.models.tariffs import Tariff
from ocpi.types import format_datetime, utcnow

log = logging.getLogger("emsp.ingest.tariffs")

TARIFFS = IngestedTariff.__table__  # type: ignore[attr-defined]
VERSIONS = TariffVersion.__table__  # type: ignore[attr-defined]
TOMBSTONE = "deleted"  # the `data` key marking a deletion version


@dataclass(frozen=True, slots=True)
class TariffInForce:
    """The version of a Tariff that applied at a moment."""

    version: int
    valid_from: datetime
    tariff: Tariff
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Stored:
    pk: int
    last_updated: datetime
    version: int
    data: dict[str, Any]
    deleted_at: datetime | None


def _where(table: Any, key: ObjectKey) -> Any:
    return (
        (table.c.country_code == key.country_code)
        & (table.c.party_id == key.party_id)
        & (table.c.tariff_id == key.id)
    )


def _content(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "last_updated"}


def _columns(tariff: Tariff, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "last_updated": tariff.last_updated,
        "currency": tariff.currency,
        "type": tariff.type.value if tariff.type is not None else None,
        "start_date_time": tariff.start_date_time,
        "end_date_time": tariff.end_date_time,
        "data": data,
    }


async def _stored(session: AsyncSession, key: ObjectKey, *, lock: bool = False) -> _Stored | None:
    stmt = select(
        TARIFFS.c.pk, TARIFFS.c.last_updated, TARIFFS.c.version, TARIFFS.c.data, TARIFFS.c.deleted_at
    ).where(_where(TARIFFS, key))
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.exec(stmt)).first()
    return None if row is None else _Stored(row[0], row[1], row[2], dict(row[3]), row[4])


async def put_tariff(
    session: AsyncSession, tariff: Tariff, *, partner_id: int | None, pull_id: str | None = None
) -> Outcome:
    """Create or replace a Tariff (a PUT, or one pulled item)."""
    key = ObjectKey.of(tariff.country_code, tariff.party_id, tariff.id)
    now = utcnow()
    data = tariff.to_json()
    stored = await _stored(session, key, lock=True)
    seen = {"last_pull_id": pull_id} if pull_id else {}
    if stored is None:
        await session.exec(
            insert(TARIFFS).values(
                country_code=key.country_code,
                party_id=key.party_id,
                tariff_id=key.id,
                partner_id=partner_id,
                version=1,
                created_at=now,
                received_at=now,
                last_pull_id=pull_id,
                **_columns(tariff, data),
            )
        )
        await _add_version(session, key, 1, tariff.last_updated, data, partner_id, now)
        return Outcome.CREATED
    if tariff.last_updated < stored.last_updated:
        log.info(
            "ignored Tariff %s: last_updated %s is older than the stored %s",
            key,
            format_datetime(tariff.last_updated),
            format_datetime(stored.last_updated),
        )
        if pull_id:  # still listed by the partner: not to be swept
            await session.exec(update(TARIFFS).where(TARIFFS.c.pk == stored.pk).values(**seen))
        return Outcome.IGNORED
    version = stored.version
    if stored.deleted_at is not None or _content(data) != _content(stored.data):
        if tariff.last_updated == stored.last_updated and stored.deleted_at is None:
            await session.exec(  # a correction of the current version
                update(VERSIONS)
                .where(_where(VERSIONS, key) & (VERSIONS.c.version == version))
                .values(data=data)
            )
        else:
            version += 1
            valid_from = tariff.last_updated
            if stored.deleted_at is not None:  # back after a deletion: not before the tombstone
                valid_from = max(valid_from, stored.deleted_at)
            await _add_version(session, key, version, valid_from, data, partner_id, now)
    await session.exec(
        update(TARIFFS)
        .where(TARIFFS.c.pk == stored.pk)
        .values(
            partner_id=partner_id,
            version=version,
            received_at=now,
            deleted_at=None,
            **seen,
            **_columns(tariff, data),
        )
    )
    return Outcome.UPDATED


async def delete_tariff(session: AsyncSession, key: ObjectKey) -> bool:
    """Mark a Tariff deleted (history kept). False when we never had it; a repeat is a success."""
    stored = await _stored(session, key, lock=True)
    if stored is None:
        return False
    if stored.deleted_at is None:
        await _mark_deleted(session, key, stored)
    return True


async def _mark_deleted(session: AsyncSession, key: ObjectKey, stored: _Stored) -> None:
    now = utcnow()
    await _add_version(session, key, stored.version + 1, now, {TOMBSTONE: True}, None, now)
    await session.exec(
        update(TARIFFS)
        .where(TARIFFS.c.pk == stored.pk)
        .values(deleted_at=now, version=stored.version + 1, received_at=now)
    )


async def _add_version(
    session: AsyncSession,
    key: ObjectKey,
    version: int,
    valid_from: datetime,
    data: dict[str, Any],
    partner_id: int | None,
    now: datetime,
) -> None:
    await session.exec(
        insert(VERSIONS).values(
            country_code=key.country_code,
            party_id=key.party_id,
            tariff_id=key.id,
            version=version,
            valid_from=valid_from,
            partner_id=partner_id,
            data=data,
            received_at=now,
        )
    )


async def store_tariffs(
    session: AsyncSession, tariffs: list[Tariff], *, partner_id: int, pull_id: str | None = None
) -> None:
    """A pulled page: each Tariff as a PUT (tariffs are few; each may add a version)."""
    for tariff in tariffs:
        await put_tariff(session, tariff, partner_id=partner_id, pull_id=pull_id)


async def sweep_tariffs(session: AsyncSession, partner_id: int, pull_id: str, started_at: datetime) -> int:
    """After a complete full pull: delete (with a tombstone version) this partner's Tariffs the crawl did not
    list and that were not written since it began."""
    rows = (
        await session.exec(
            select(TARIFFS.c.country_code, TARIFFS.c.party_id, TARIFFS.c.tariff_id).where(
                (TARIFFS.c.partner_id == partner_id)
                & TARIFFS.c.deleted_at.is_(None)
                & ((TARIFFS.c.last_pull_id != pull_id) | TARIFFS.c.last_pull_id.is_(None))
                & (TARIFFS.c.received_at < started_at)
            )
        )
    ).all()
    for cc, pid, tariff_id in rows:
        key = ObjectKey(cc, pid, tariff_id)
        stored = await _stored(session, key, lock=True)
        if stored is not None and stored.deleted_at is None:
            await _mark_deleted(session, key, stored)
    return len(rows)


async def get_tariff_json(
    session: AsyncSession, key: ObjectKey, *, include_deleted: bool = False
) -> dict[str, Any] | None:
    stored = await _stored(session, key)
    if stored is None or (stored.deleted_at is not None and not include_deleted):
        return None
    return stored.data


async def tariff_versions(session: AsyncSession, key: ObjectKey) -> list[dict[str, Any]]:
    """Every version, oldest first: `{version, valid_from, deleted, data}`."""
    rows = (
        await session.exec(
            select(VERSIONS.c.version, VERSIONS.c.valid_from, VERSIONS.c.data, VERSIONS.c.received_at)
            .where(_where(VERSIONS, key))
            .order_by(VERSIONS.c.version)
        )
    ).all()
    return [
        {
            "version": version,
            "valid_from": format_datetime(valid_from),
            "deleted": bool(data.get(TOMBSTONE)),
            "received_at": format_datetime(received_at),
            "data": None if data.get(TOMBSTONE) else data,
        }
        for version, valid_from, data, received_at in rows
    ]


async def tariff_in_force(
    session: AsyncSession,
    country_code: str,
    party_id: str,
    tariff_id: str,
    at: datetime,
    *,
    fallback_to_first: bool = False,
) -> TariffInForce | None:
    """The version of Tariff `(country_code, party_id, tariff_id)` that applied at `at` (aware datetime).

    That is the latest version whose `valid_from` (its `last_updated`) is <= `at`. None when: no version is
    that old (unless `fallback_to_first`, which then uses the oldest version: a Tariff first received after
    the session began), the version is a deletion, or `at` lies outside the Tariff's own
    `start_date_time`/`end_date_time`.
    """
    key = ObjectKey(ci(country_code), ci(party_id), ci(tariff_id))
    base = select(VERSIONS.c.version, VERSIONS.c.valid_from, VERSIONS.c.data).where(_where(VERSIONS, key))
    row = (
        await session.exec(
            base.where(VERSIONS.c.valid_from <= at).order_by(
                VERSIONS.c.valid_from.desc(), VERSIONS.c.version.desc()
            )
        )
    ).first()
    if row is None and fallback_to_first:
        row = (await session.exec(base.order_by(VERSIONS.c.version))).first()
    if row is None or row[2].get(TOMBSTONE):
        return None
    tariff = Tariff.model_validate(row[2])
    if tariff.start_date_time is not None and at < tariff.start_date_time:
        return None
    if tariff.end_date_time is not None and at >= tariff.end_date_time:
        return None
    return TariffInForce(version=row[0], valid_from=row[1], tariff=tariff, data=dict(row[2]))
