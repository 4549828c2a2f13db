"""The parties a hub speaks for, from its ClientInfo objects (spec mod_hub_client_info.asciidoc).

A hub reports only its own role in the credentials handshake; the CPOs behind it arrive as ClientInfo
(pushed to our Receiver, or pulled from the hub's Sender). Those parties, unless SUSPENDED ("will never
connect anymore") or no longer listed by a full pull, are parties the hub may push objects for.

They are also where our tokens go through that hub (`emsp.distribution.addressing`): every write here (a
pushed PUT, a pulled page, a sweep after a complete full pull) brings the hub's token delivery rows in line
in the same transaction (`emsp.distribution.sync.sync_partner_id`): a party CONNECTED gets its tokens, one
that is not is paused, one SUSPENDED or gone gets no more.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.sync import sync_partner_id
from emsp.ingest.keys import ci
from emsp.ingest.locations import Outcome
from emsp.ingest.tables import HubClientInfo
from emsp.ingest.upsert import bulk_upsert, dedupe_newest
from ocpi.models.hubclientinfo import ClientInfo
from ocpi.types import format_datetime, utcnow

log = logging.getLogger("emsp.ingest.hubclientinfo")

CLIENT_INFOS = HubClientInfo.__table__  # type: ignore[attr-defined]
KEY = ("partner_id", "country_code", "party_id")


def _row(info: ClientInfo, partner_id: int, now: datetime, pull_id: str | None) -> dict[str, Any]:
    return {
        "partner_id": partner_id,
        "country_code": ci(info.country_code),
        "party_id": ci(info.party_id),
        "role": info.role.value,
        "status": info.status.value,
        "last_updated": info.last_updated,
        "data": info.to_json(),
        "received_at": now,
        "gone_at": None,
        "last_pull_id": pull_id,
    }


def _where(partner_id: int, country_code: str, party_id: str) -> Any:
    return (
        (CLIENT_INFOS.c.partner_id == partner_id)
        & (CLIENT_INFOS.c.country_code == ci(country_code))
        & (CLIENT_INFOS.c.party_id == ci(party_id))
    )


async def store_client_infos(
    session: AsyncSession, infos: list[ClientInfo], *, partner_id: int, pull_id: str | None = None
) -> None:
    rows = dedupe_newest([_row(info, partner_id, utcnow(), pull_id) for info in infos], KEY)
    always = ("last_pull_id", "gone_at") if pull_id else ()
    await bulk_upsert(session, CLIENT_INFOS, rows, key=KEY, always=always)
    await _deliveries_follow(session, partner_id)


async def _deliveries_follow(session: AsyncSession, partner_id: int) -> None:
    """The hub's token delivery rows follow its parties, in this transaction."""
    done = await sync_partner_id(session, partner_id)
    if done != "none":
        log.info("token deliveries of hub partner %s after its ClientInfo: %s", partner_id, done)


async def put_client_info(session: AsyncSession, info: ClientInfo, *, partner_id: int) -> Outcome:
    found = (
        await session.exec(
            select(CLIENT_INFOS.c.last_updated).where(_where(partner_id, info.country_code, info.party_id))
        )
    ).first()
    if found is not None and info.last_updated < found[0]:
        log.info(
            "ignored ClientInfo %s/%s: last_updated %s is older than the stored %s",
            info.country_code,
            info.party_id,
            format_datetime(info.last_updated),
            format_datetime(found[0]),
        )
        return Outcome.IGNORED
    await store_client_infos(session, [info], partner_id=partner_id)
    return Outcome.CREATED if found is None else Outcome.UPDATED


async def get_client_info_json(
    session: AsyncSession, partner_id: int, country_code: str, party_id: str
) -> dict[str, Any] | None:
    found = (
        await session.exec(
            select(CLIENT_INFOS.c.data).where(
                _where(partner_id, country_code, party_id) & CLIENT_INFOS.c.gone_at.is_(None)
            )
        )
    ).first()
    return None if found is None else dict(found[0])


async def sweep_client_infos(
    session: AsyncSession, partner_id: int, pull_id: str, started_at: datetime
) -> int:
    result = await session.exec(
        update(CLIENT_INFOS)
        .where(
            (CLIENT_INFOS.c.partner_id == partner_id)
            & CLIENT_INFOS.c.gone_at.is_(None)
            & ((CLIENT_INFOS.c.last_pull_id != pull_id) | CLIENT_INFOS.c.last_pull_id.is_(None))
            & (CLIENT_INFOS.c.received_at < started_at)
        )
        .values(gone_at=utcnow())
    )
    swept = int(result.rowcount or 0)
    if swept:
        await _deliveries_follow(session, partner_id)
    return swept
