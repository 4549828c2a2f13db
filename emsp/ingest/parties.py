"""The parties a partner speaks for: its `PartnerRole` rows (the roles of its credentials) and, for a hub,
the parties it reported through HubClientInfo (unless SUSPENDED or no longer listed). Used by the Receiver
endpoints' scoping (`emsp.ocpi_api.scoping`) and by pull sync (objects of other parties are set aside)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Integer, bindparam, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ci
from emsp.ingest.tables import HubClientInfo
from ocpi.models.hubclientinfo import ConnectionStatus
from partners.tables import PartnerRole

Party = tuple[str, str]
OWNER_ROLES: frozenset[str] = frozenset({"CPO"})
"""Locations, Tariffs, Sessions and CDRs are owned by CPOs: only CPO parties may push them."""


def _party_roles_statement() -> Any:
    roles_table = PartnerRole.__table__  # type: ignore[attr-defined]
    infos = HubClientInfo.__table__  # type: ignore[attr-defined]
    partner = bindparam("partner_id", type_=Integer)
    own = select(roles_table.c.country_code, roles_table.c.party_id, roles_table.c.role).where(
        roles_table.c.partner_id == partner
    )
    hub = select(infos.c.country_code, infos.c.party_id, infos.c.role).where(
        (infos.c.partner_id == partner)
        & infos.c.gone_at.is_(None)
        & (infos.c.status != ConnectionStatus.SUSPENDED.value)
    )
    return union_all(own, hub)


_PARTY_ROLES = _party_roles_statement()  # built once: this runs on every Receiver request


async def party_roles(session: AsyncSession, partner_id: int) -> frozenset[tuple[str, str, str]]:
    """(country_code, party_id, role), the codes upper-cased, of every party the partner speaks for."""
    rows = (await session.exec(_PARTY_ROLES, params={"partner_id": partner_id})).all()
    return frozenset((ci(cc), ci(pid), role) for cc, pid, role in rows)


def select_parties(
    roles_of: frozenset[tuple[str, str, str]], roles: Collection[str] | None = OWNER_ROLES
) -> frozenset[Party]:
    return frozenset((cc, pid) for cc, pid, role in roles_of if roles is None or role in roles)


async def parties_of(
    session: AsyncSession, partner_id: int, *, roles: Collection[str] | None = OWNER_ROLES
) -> frozenset[Party]:
    """The (country_code, party_id) pairs, upper-cased, the partner speaks for (in `roles`; None: any)."""
    return select_parties(await party_roles(session, partner_id), roles)


async def speaks_for(
    session: AsyncSession,
    partner_id: int,
    country_code: str,
    party_id: str,
    *,
    roles: Collection[str] | None = OWNER_ROLES,
) -> bool:
    """Whether the partner may push objects owned by `(country_code, party_id)`."""
    return (ci(country_code), ci(party_id)) in await parties_of(session, partner_id, roles=roles)
