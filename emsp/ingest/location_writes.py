"""The row-level writes under a Location: locking it, reading an EVSE for a write, writing an EVSE and moving
the Location's `last_updated`. The statements of this hot path (EVSE status updates) are built once with bind
parameters and reused: building SQLAlchemy expressions per request costs more than running them. Parameter
names never equal a column name (SQLAlchemy would take such a parameter as a SET value of an UPDATE)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, case, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.location_reads import EVSES, LOCATIONS, location_where
from emsp.ingest.upsert import dialect_name
from ocpi.errors import NotFound, UnknownLocation
from ocpi.types import format_datetime, utcnow
from partners.sqltypes import UTCDateTime


async def require_location(session: AsyncSession, key: ObjectKey) -> None:
    """The Location exists (else 2003), and is locked for this transaction (PostgreSQL): writes of one
    Location, its EVSEs and Connectors take their locks in the same order, Location first."""
    stmt = select(LOCATIONS.c.pk).where(location_where(key)).with_for_update()
    found = (await session.exec(stmt)).first()
    if found is None:
        raise UnknownLocation(f"Unknown Location {key}")


@dataclass(frozen=True, slots=True)
class StoredEvse:
    pk: int
    last_updated: datetime
    data: dict[str, Any]


_KEY = {"cc": bindparam("b_cc"), "pid": bindparam("b_pid"), "loc": bindparam("b_loc")}
_LOCATION_BY_KEY = (
    (LOCATIONS.c.country_code == _KEY["cc"])
    & (LOCATIONS.c.party_id == _KEY["pid"])
    & (LOCATIONS.c.location_id == _KEY["loc"])
)
_EVSE_FOR_WRITE = (
    select(LOCATIONS.c.pk, EVSES.c.pk, EVSES.c.last_updated, EVSES.c.data)
    .select_from(
        LOCATIONS.join(
            EVSES,
            (EVSES.c.country_code == LOCATIONS.c.country_code)
            & (EVSES.c.party_id == LOCATIONS.c.party_id)
            & (EVSES.c.location_id == LOCATIONS.c.location_id)
            & (EVSES.c.uid == bindparam("b_uid")),
        )
    )
    .where(_LOCATION_BY_KEY)
    .with_for_update()
)
_CHILD_UPDATED = bindparam("b_child_updated", type_=UTCDateTime())
_NOW = bindparam("b_now", type_=UTCDateTime())
_BUMP = (
    update(LOCATIONS)
    .where(_LOCATION_BY_KEY)
    .values(
        last_updated=case(
            (LOCATIONS.c.last_updated < _CHILD_UPDATED, _CHILD_UPDATED), else_=LOCATIONS.c.last_updated
        ),
        gone_at=None,
        received_at=_NOW,
        partner_id=bindparam("b_partner_id"),
    )
)
_EVSE_VALUES = {
    "data": bindparam("b_data", type_=JSON()),
    "last_updated": bindparam("b_new_last", type_=UTCDateTime()),
    "received_at": _NOW,
}
_WRITE = update(EVSES).where(EVSES.c.pk == bindparam("b_evse_pk")).values(**_EVSE_VALUES)
_WRITE_STATUS = (
    update(EVSES)
    .where(EVSES.c.pk == bindparam("b_evse_pk"))
    .values(**_EVSE_VALUES, status=bindparam("b_status"), evse_id=bindparam("b_evse_id"))
)
_WRITE_AND_BUMP = {
    False: _BUMP.add_cte(_WRITE.cte("evse_written")),
    True: _BUMP.add_cte(_WRITE_STATUS.cte("evse_written")),
}


def _key_params(key: ObjectKey) -> dict[str, Any]:
    return {"b_cc": key.country_code, "b_pid": key.party_id, "b_loc": key.id}


async def require_evse(session: AsyncSession, key: ObjectKey, evse_uid: str) -> StoredEvse:
    """The EVSE (404 when unknown; 2003 when its Location is), read and locked for this write together with
    its Location in one statement (`FOR UPDATE` over both rows, Location first: every write under a Location,
    and the Location's own upsert, lock the Location row first, so they cannot deadlock). Both rows being
    locked matters: under READ COMMITTED, a writer that waited for the lock gets the rows as the previous
    writer left them, so the out-of-order check and the merge never work on a stale EVSE."""
    params = dict(_key_params(key), b_uid=ci(evse_uid))
    found = (await session.exec(_EVSE_FOR_WRITE, params=params)).first()
    if found is None:
        await require_location(session, key)
        raise NotFound(f"Unknown EVSE {key}/{evse_uid}")
    return StoredEvse(pk=found[1], last_updated=found[2], data=dict(found[3]))


async def write_evse(
    session: AsyncSession,
    key: ObjectKey,
    evse: StoredEvse,
    data: dict[str, Any],
    last_updated: datetime,
    partner_id: int,
    *,
    status: str | None = None,
) -> None:
    """Write the EVSE and move its Location's `last_updated` (8.2.2.2/8.2.2.3): one statement on PostgreSQL
    (the EVSE UPDATE as a CTE of the Location UPDATE), two elsewhere."""
    new_last = max(evse.last_updated, last_updated)
    data = dict(data, last_updated=format_datetime(new_last))
    now = utcnow()
    write: dict[str, Any] = {"b_evse_pk": evse.pk, "b_data": data, "b_new_last": new_last, "b_now": now}
    with_status = status is not None
    if with_status:
        write.update(b_status=status, b_evse_id=data.get("evse_id"))
    bump = dict(_key_params(key), b_child_updated=last_updated, b_now=now, b_partner_id=partner_id)
    if dialect_name(session) == "postgresql":
        await session.exec(_WRITE_AND_BUMP[with_status], params={**write, **bump})
        return
    await session.exec(_WRITE_STATUS if with_status else _WRITE, params=write)
    await session.exec(_BUMP, params=bump)


async def bump_location(
    session: AsyncSession, key: ObjectKey, last_updated: datetime, partner_id: int
) -> None:
    """A child changed: the Location's `last_updated` moves to the child's (never backwards)."""
    params = dict(_key_params(key), b_child_updated=last_updated, b_now=utcnow(), b_partner_id=partner_id)
    await session.exec(_BUMP, params=params)
