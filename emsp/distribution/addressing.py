"""Where a partner's token pushes are addressed: the parties of its ledger rows (`OCPI-to-*`).

- A direct partner (no HUB role): one target, the party `partners.delivery.pick_to_party` picks of its
  roles (its CPO role, else its first).
- A hub (a partner with a HUB role): one target per CPO party the hub reported through HubClientInfo
  (`hub_client_infos`, role CPO) that is still listed (`gone_at` unset) and not SUSPENDED. A CONNECTED party
  is pushed to; an OFFLINE or PLANNED one keeps its rows paused (`PauseReason.NOT_CONNECTED`), spec
  mod_hub_client_info.asciidoc: "No requests can be send". A SUSPENDED party ("will never connect anymore")
  and one a complete full pull no longer lists are no target: their rows are dropped.
- A hub that has never reported a CPO party: one target, the hub's own party (a broadcast push,
  transport_and_format.asciidoc "Broadcast Push"). Once it reports one, its targets are the parties it
  reports, even when every one of them is SUSPENDED or gone later.

Codes are compared and sent upper-cased (CiString).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ci
from emsp.ingest.tables import HubClientInfo
from ocpi.models.hubclientinfo import ConnectionStatus
from partners.delivery import Party, pick_to_party
from partners.tables import PartnerRole

HUB_ROLE = "HUB"
TOKEN_RECEIVING_ROLE = "CPO"  # the Tokens Receiver interface is the CPO's (mod_tokens.asciidoc)
_ROLES = PartnerRole.__table__  # type: ignore[attr-defined]
_INFOS = HubClientInfo.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Target:
    """One party a partner's rows are addressed to."""

    country_code: str
    party_id: str
    connected: bool = True  # False: its rows are kept but paused (NOT_CONNECTED)
    client_status: str | None = None  # its HubClientInfo status, for a party behind a hub
    broadcast: bool = False  # the hub's own party: the hub forwards to every CPO it connects

    @property
    def party(self) -> Party:
        return self.country_code, self.party_id


@dataclass(frozen=True)
class ReportedParty:
    """A CPO party a hub reports (still listed), whatever its status."""

    country_code: str
    party_id: str
    status: str


async def partner_roles(
    session: AsyncSession, partner_ids: Collection[int]
) -> dict[int, list[tuple[str, str, str]]]:
    """(role, country_code, party_id) of each partner's credentials roles, in the order stored."""
    if not partner_ids:
        return {}
    stmt = (
        select(_ROLES.c.partner_id, _ROLES.c.role, _ROLES.c.country_code, _ROLES.c.party_id)
        .where(_ROLES.c.partner_id.in_(sorted(set(partner_ids))))
        .order_by(_ROLES.c.id)
    )
    by_partner: dict[int, list[tuple[str, str, str]]] = {}
    for pid, role, cc, party in (await session.exec(stmt)).all():
        by_partner.setdefault(int(pid), []).append((str(role), str(cc), str(party)))
    return by_partner


async def reported_parties(
    session: AsyncSession, partner_ids: Collection[int]
) -> tuple[dict[int, list[ReportedParty]], set[int]]:
    """Per hub, the CPO parties it lists now (any status, by code); and the hubs that ever reported one."""
    if not partner_ids:
        return {}, set()
    stmt = (
        select(
            _INFOS.c.partner_id, _INFOS.c.country_code, _INFOS.c.party_id, _INFOS.c.status, _INFOS.c.gone_at
        )
        .where(_INFOS.c.partner_id.in_(sorted(set(partner_ids))), _INFOS.c.role == TOKEN_RECEIVING_ROLE)
        .order_by(_INFOS.c.country_code, _INFOS.c.party_id)
    )
    listed: dict[int, list[ReportedParty]] = {}
    ever: set[int] = set()
    for pid, cc, party, status, gone_at in (await session.exec(stmt)).all():
        ever.add(int(pid))
        if gone_at is None:
            listed.setdefault(int(pid), []).append(ReportedParty(ci(cc), ci(party), str(status)))
    return listed, ever


def is_hub(roles: list[tuple[str, str, str]]) -> bool:
    return any(role == HUB_ROLE for role, _, _ in roles)


async def targets_of(session: AsyncSession, partner_ids: Collection[int]) -> dict[int, list[Target]]:
    """The targets of each partner (see the module docstring); a partner without roles has none."""
    return await targets_from_roles(session, partner_ids, await partner_roles(session, partner_ids))


async def targets_from_roles(
    session: AsyncSession, partner_ids: Collection[int], roles: dict[int, list[tuple[str, str, str]]]
) -> dict[int, list[Target]]:
    """`targets_of` with the partners' roles already read (the HubClientInfo table is read for hubs only)."""
    hubs = [pid for pid, of in roles.items() if is_hub(of)]
    listed, ever = await reported_parties(session, hubs)
    result: dict[int, list[Target]] = {}
    for pid in partner_ids:
        own = pick_to_party(roles.get(pid, []))
        if own is None:
            result[pid] = []
        elif pid not in ever:
            result[pid] = [Target(ci(own[0]), ci(own[1]), broadcast=pid in hubs)]
        else:
            result[pid] = [
                Target(p.country_code, p.party_id, p.status == ConnectionStatus.CONNECTED, p.status)
                for p in listed.get(pid, [])
                if p.status != ConnectionStatus.SUSPENDED
            ]
    return result
