"""What pull sync does per module: the wire model an item must validate as, where a page is stored, what a
complete full pull sweeps, and whether the items' party must be one the partner speaks for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cdrs.pull import PulledCdr, store_pulled_cdrs
from emsp.ingest import hubclientinfo, locations, sessions, tariffs
from ocpi.models.hubclientinfo import ClientInfo
from ocpi.models.locations import Location
from ocpi.models.sessions import Session
from ocpi.models.tariffs import Tariff

Store = Callable[[AsyncSession, list[Any], int, str], Awaitable[None]]
Sweep = Callable[[AsyncSession, int, str, datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class PullSpec:
    module: str  # the OCPI module identifier of the partner's SENDER endpoint
    model: type[Any]
    store: Store
    sweep: Sweep | None  # None: a full pull does not mark unlisted objects gone
    owner_scoped: bool  # items must belong to a party the partner speaks for (CPO role)
    needs_date_from: bool = False  # the Sender requires `date_from` (Sessions, 9.2.1.1)

    def object_ref(self, item: Any) -> str:
        """The quarantine key of a stored item (as `partners.pull.describe_item` makes it)."""
        if self.module == "hubclientinfo":
            return f"{item.country_code}/{item.party_id}".upper()
        return f"{item.country_code}/{item.party_id}/{item.id}".upper()


async def _store_locations(session: AsyncSession, items: list[Any], partner_id: int, pull_id: str) -> None:
    await locations.store_locations(session, items, partner_id=partner_id, pull_id=pull_id)


async def _store_tariffs(session: AsyncSession, items: list[Any], partner_id: int, pull_id: str) -> None:
    await tariffs.store_tariffs(session, items, partner_id=partner_id, pull_id=pull_id)


async def _store_sessions(session: AsyncSession, items: list[Any], partner_id: int, pull_id: str) -> None:
    await sessions.store_sessions(session, items, partner_id=partner_id, pull_id=pull_id)


async def _store_client_infos(session: AsyncSession, items: list[Any], partner_id: int, pull_id: str) -> None:
    await hubclientinfo.store_client_infos(session, items, partner_id=partner_id, pull_id=pull_id)


SPECS: dict[str, PullSpec] = {
    spec.module: spec
    for spec in (
        PullSpec("locations", Location, _store_locations, locations.sweep_locations, owner_scoped=True),
        PullSpec("tariffs", Tariff, _store_tariffs, tariffs.sweep_tariffs, owner_scoped=True),
        # Sessions are never deleted (final status COMPLETED) and are listed by date: no sweep.
        PullSpec("sessions", Session, _store_sessions, None, owner_scoped=True, needs_date_from=True),
        PullSpec(
            "hubclientinfo",
            ClientInfo,
            _store_client_infos,
            hubclientinfo.sweep_client_infos,
            owner_scoped=False,
        ),
        # CDRs are final and never swept; they are priced after the page is stored (emsp.cdrs.pull).
        PullSpec("cdrs", PulledCdr, store_pulled_cdrs, None, owner_scoped=True),
    )
}
PULL_MODULES = tuple(SPECS)
