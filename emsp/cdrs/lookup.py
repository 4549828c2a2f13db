"""What CDR pricing needs from ingest: the charging site's time zone and connector tariffs, and the tariff
version in force at a moment (compiled for pricing). Read-only, over the ingest tables (`emsp.ingest`)."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

import cdr_pricing
from emsp.ingest.keys import ci
from emsp.ingest.tables import IngestedEvse, IngestedLocation
from emsp.ingest.tariffs import TOMBSTONE, VERSIONS
from ocpi.types import to_utc

if TYPE_CHECKING:
    from emsp.cdrs.reads import PricingReads

LOCATIONS = IngestedLocation.__table__  # type: ignore[attr-defined]
EVSES = IngestedEvse.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ChargingSite:
    """The stored Location of a CDR: its IANA time zone and the tariff ids of the CDR's connector."""

    time_zone: str | None
    tariff_ids: tuple[str, ...]


def _connector_tariffs(evse: dict[str, Any] | None, connector_id: str) -> tuple[str, ...]:
    for connector in (evse or {}).get("connectors") or ():
        if ci(str(connector.get("id", ""))) == ci(connector_id):
            return tuple(str(t) for t in connector.get("tariff_ids") or ())
    return ()


_SITE = (
    select(LOCATIONS.c.time_zone, EVSES.c.data)
    .select_from(
        LOCATIONS.outerjoin(
            EVSES,
            and_(
                EVSES.c.country_code == LOCATIONS.c.country_code,
                EVSES.c.party_id == LOCATIONS.c.party_id,
                EVSES.c.location_id == LOCATIONS.c.location_id,
                EVSES.c.uid == bindparam("evse_uid"),
            ),
        )
    )
    .where(
        LOCATIONS.c.country_code == bindparam("cc"),
        LOCATIONS.c.party_id == bindparam("pid"),
        LOCATIONS.c.location_id == bindparam("location_id"),
    )
)


async def charging_site(
    session: AsyncSession,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
) -> ChargingSite | None:
    """One query: the Location's time zone and its EVSE (None when the Location is not stored)."""
    params = {
        "cc": ci(country_code),
        "pid": ci(party_id),
        "location_id": ci(location_id),
        "evse_uid": ci(evse_uid),
    }
    found = (await session.exec(_SITE, params=params)).first()  # type: ignore[call-overload]
    if found is None:
        return None
    return site_of(found[0], found[1], connector_id)


def site_of(time_zone: str | None, evse: dict[str, Any] | None, connector_id: str) -> ChargingSite:
    """The site of a stored Location (its time zone) and EVSE (None when not stored)."""
    return ChargingSite(time_zone=time_zone or None, tariff_ids=_connector_tariffs(evse, connector_id))


@dataclass(frozen=True)
class TariffInForce:
    """A version of a CPO tariff, compiled for pricing, and its JSON."""

    ref: str  # "CC/PID/ID vN"
    data: dict[str, Any]
    compiled: cdr_pricing.CompiledTariff


# The same rule as `emsp.ingest.tariffs.tariff_in_force` (the latest version whose valid_from <= at; none if
# it is a deletion or `at` is outside the tariff's start/end_date_time), as one prebuilt statement and with
# the compiled tariff cached by content: it runs for every CDR, and validating the stored JSON as a pydantic
# model each time cost more than the rest of the verification.
VERSION_AT = (
    select(VERSIONS.c.version, VERSIONS.c.data)
    .where(
        VERSIONS.c.country_code == bindparam("cc"),
        VERSIONS.c.party_id == bindparam("pid"),
        VERSIONS.c.tariff_id == bindparam("tariff_id"),
        VERSIONS.c.valid_from <= bindparam("at"),
    )
    .order_by(VERSIONS.c.valid_from.desc(), VERSIONS.c.version.desc())
    .limit(1)
)
_COMPILED: OrderedDict[str, cdr_pricing.CompiledTariff] = OrderedDict()
_COMPILED_MAX = 512


def compiled_tariff(data: dict[str, Any]) -> cdr_pricing.CompiledTariff:
    """`data` (an OCPI Tariff JSON) compiled for pricing, cached by its content; raises PricingError."""
    key = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    found = _COMPILED.get(key)
    if found is None:
        found = cdr_pricing.compile_tariff(cdr_pricing.tariff_from_ocpi(data))
        _COMPILED[key] = found
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return found


def _within(data: dict[str, Any], at: datetime) -> bool:
    start, end = data.get("start_date_time"), data.get("end_date_time")
    return (start is None or to_utc(start) <= at) and (end is None or at < to_utc(end))


def version_params(country_code: str, party_id: str, tariff_id: str, at: datetime) -> dict[str, Any]:
    return {"cc": ci(country_code), "pid": ci(party_id), "tariff_id": ci(tariff_id), "at": at}


async def tariff_in_force_at(
    reads: PricingReads, country_code: str, party_id: str, tariff_id: str, at: datetime
) -> TariffInForce | None:
    """The version of `tariff_id` in force at `at`, compiled; None when there is none (or it cannot be
    priced with: then it is as good as none)."""
    found = await reads.tariff_version(country_code, party_id, tariff_id, at)
    if found is None or found[1].get(TOMBSTONE) or not _within(found[1], at):
        return None
    version, data = found
    try:
        compiled = compiled_tariff(data)
    except cdr_pricing.PricingError:
        return None
    ref = f"{data.get('country_code')}/{data.get('party_id')}/{data.get('id')} v{version}"
    return TariffInForce(ref=ref, data=data, compiled=compiled)
