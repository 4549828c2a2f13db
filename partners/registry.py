"""The partner registry: who the partners are, their state, the roles (parties) they speak for and their
endpoints, and the one place that maps those rows to and from the wire models (`Credentials`,
`CredentialsRole`, `Endpoint`).

States: PLANNED (invited, token A issued, or our registration toward it under way) → CONNECTED (credentials
exchanged) ⇄ SUSPENDED (by the operator; its token is refused on functional modules) → UNREGISTERED
(credentials deleted by either side; every token revoked, nothing more is sent). An UNREGISTERED or PLANNED
partner can be invited or registered again under the same name.

Functions only `flush()`; the caller owns the transaction. Outputs of `describe_*` never contain a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ocpi.auth import is_valid_token
from ocpi.errors import InvalidParameters
from ocpi.models.common import BusinessDetails, Role
from ocpi.models.credentials import Credentials, CredentialsRole
from ocpi.models.versions import Endpoint, InterfaceRole
from ocpi.types import format_datetime
from partners.discovery import Discovery, HandshakePolicy
from partners.errors import PartnerNotFound, PartnerStateError
from partners.tables import Partner, PartnerEndpoint, PartnerRole, PartnerStatus, TokenKind
from partners.tokens import issue_token, revoke_tokens

REGISTERED = frozenset({PartnerStatus.CONNECTED, PartnerStatus.SUSPENDED})


def is_registered(partner: Partner) -> bool:
    """Credentials have been exchanged and not deleted (spec: "registered" for the 405 rules)."""
    return partner.status in REGISTERED


# --- lookups -----------------------------------------------------------------------------------------


async def find_partner(session: AsyncSession, ref: str | int) -> Partner:
    """A partner by id (an int or a string of digits) or by name; `PartnerNotFound` otherwise."""
    partner = None
    if isinstance(ref, int) or ref.isdigit():
        partner = await session.get(Partner, int(ref))
    if partner is None and isinstance(ref, str):
        partner = (await session.exec(select(Partner).where(Partner.name == ref))).first()
    if partner is None:
        raise PartnerNotFound(f"No partner {ref!r}")
    return partner


async def list_partners(session: AsyncSession) -> list[Partner]:
    return list((await session.exec(select(Partner).order_by(col(Partner.id)))).all())


async def partner_roles(session: AsyncSession, partner_id: int) -> list[CredentialsRole]:
    rows = (await session.exec(_roles_query([partner_id]))).all()
    return [role_to_wire(row) for row in rows]


async def partner_endpoints(session: AsyncSession, partner_id: int) -> list[Endpoint]:
    rows = (await session.exec(_endpoints_query(partner_id))).all()
    return [Endpoint(identifier=r.identifier, role=InterfaceRole(r.role), url=r.url) for r in rows]


async def find_endpoint(
    session: AsyncSession, partner_id: int, identifier: str, role: str | None = None
) -> str | None:
    """The URL of a partner's endpoint (e.g. `tokens`, `RECEIVER`; any role when None), or None."""
    query = _endpoints_query(partner_id).where(PartnerEndpoint.identifier == identifier)
    if role is not None:
        query = query.where(PartnerEndpoint.role == role)
    row = (await session.exec(query)).first()
    return None if row is None else row.url


# --- lifecycle -----------------------------------------------------------------------------------------


async def create_invitation(
    session: AsyncSession, name: str, *, base64_token: bool = True, now: datetime
) -> tuple[Partner, str]:
    """A PLANNED partner (new, or an earlier one of that name) and its token A; older tokens revoked."""
    partner, _previous = await claim_partner(session, name, now=now)
    assert partner.id is not None
    partner.base64_token, partner.updated_at = base64_token, now
    await revoke_tokens(session, partner.id)
    return partner, await issue_token(session, partner, TokenKind.REGISTRATION)


async def claim_partner(session: AsyncSession, name: str, *, now: datetime) -> tuple[Partner, str | None]:
    """The PLANNED row a registration works on, and its status before (None: the row is new).

    A registered partner of that name is a `PartnerStateError`; a PLANNED or UNREGISTERED one is reused.
    """
    partner = await claimable_partner(session, name)
    previous = None if partner is None else partner.status
    partner = partner or Partner(name=name, created_at=now, updated_at=now)
    partner.status, partner.status_reason = PartnerStatus.PLANNED, None
    session.add(partner)
    await session.flush()
    return partner, previous


async def claimable_partner(session: AsyncSession, name: str) -> Partner | None:
    """The partner of that name if it may be registered again (None: no such name); a registered one is a
    `PartnerStateError`."""
    partner = (await session.exec(select(Partner).where(Partner.name == name))).first()
    if partner is not None and is_registered(partner):
        raise PartnerStateError(f"Partner {name!r} is registered ({partner.status}); unregister it first")
    return partner


async def release_partner(session: AsyncSession, partner_id: int, previous_status: str | None) -> None:
    """Undo `claim_partner` after a failed registration: drop the new row, or revoke the tokens issued
    since and put the old status back."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        return
    if previous_status is None:
        await session.delete(partner)
    else:
        await revoke_tokens(session, partner_id, TokenKind.SERVER)
        partner.status = previous_status
        session.add(partner)
    await session.flush()


async def store_connection(
    session: AsyncSession, partner: Partner, discovery: Discovery, theirs: Credentials, *, now: datetime
) -> None:
    """Record a completed exchange: their token for us, versions, endpoints and roles; token A revoked."""
    assert partner.id is not None
    partner.client_token = theirs.token
    partner.versions_url = discovery.versions_url
    partner.version, partner.version_details_url = discovery.version, discovery.details_url
    if not is_registered(partner):
        partner.status, partner.registered_at = PartnerStatus.CONNECTED, now
    partner.updated_at = now
    session.add(partner)
    await revoke_tokens(session, partner.id, TokenKind.REGISTRATION)
    await session.exec(delete(PartnerRole).where(col(PartnerRole.partner_id) == partner.id))
    await session.exec(delete(PartnerEndpoint).where(col(PartnerEndpoint.partner_id) == partner.id))
    session.add_all(role_from_wire(partner.id, role) for role in theirs.roles)
    session.add_all(
        PartnerEndpoint(partner_id=partner.id, identifier=str(e.identifier), role=str(e.role), url=str(e.url))
        for e in discovery.endpoints
    )
    await session.flush()


async def mark_unregistered(session: AsyncSession, partner: Partner, *, now: datetime) -> None:
    """Both directions end: every token of theirs revoked, ours forgotten (nothing more is sent)."""
    assert partner.id is not None
    await revoke_tokens(session, partner.id)
    partner.status, partner.status_reason = PartnerStatus.UNREGISTERED, None
    partner.client_token, partner.updated_at = None, now
    session.add(partner)
    await session.flush()


async def suspend(session: AsyncSession, partner: Partner, reason: str | None, *, now: datetime) -> None:
    if partner.status == PartnerStatus.UNREGISTERED:
        raise PartnerStateError(f"Partner {partner.name!r} is unregistered")
    partner.status, partner.status_reason, partner.updated_at = PartnerStatus.SUSPENDED, reason, now
    session.add(partner)
    await session.flush()


async def resume(session: AsyncSession, partner: Partner, *, now: datetime) -> None:
    if partner.status != PartnerStatus.SUSPENDED:
        raise PartnerStateError(f"Partner {partner.name!r} is not suspended ({partner.status})")
    connected = partner.client_token is not None
    partner.status = PartnerStatus.CONNECTED if connected else PartnerStatus.PLANNED
    partner.status_reason, partner.updated_at = None, now
    session.add(partner)
    await session.flush()


# --- wire mapping --------------------------------------------------------------------------------------


def our_credentials(token: str, policy: HandshakePolicy) -> Credentials:
    return Credentials(token=token, url=policy.versions_url, roles=list(policy.roles))


def check_credentials(theirs: Credentials) -> None:
    """What the model cannot say: a spec token (printable, no whitespace) and unique roles (7.3.1)."""
    if not is_valid_token(theirs.token):
        raise InvalidParameters("token: 1 to 64 printable ASCII characters without whitespace")
    keys = [(r.role, r.country_code.upper(), r.party_id.upper()) for r in theirs.roles]
    if len(set(keys)) != len(keys):
        raise InvalidParameters("roles: each (role, country_code, party_id) must be unique")


def role_to_wire(row: PartnerRole) -> CredentialsRole:
    return CredentialsRole(
        role=Role(row.role),
        party_id=row.party_id,
        country_code=row.country_code,
        business_details=BusinessDetails(name=row.business_name or "", website=row.website),
    )


def role_from_wire(partner_id: int, role: CredentialsRole) -> PartnerRole:
    return PartnerRole(
        partner_id=partner_id,
        role=str(role.role),
        country_code=role.country_code,
        party_id=role.party_id,
        business_name=role.business_details.name,
        website=role.business_details.website,
    )


# --- views (never a token) -----------------------------------------------------------------------------


async def describe_partner(session: AsyncSession, partner: Partner) -> dict[str, Any]:
    """The operator's view of one partner: state, timestamps, roles and endpoints."""
    assert partner.id is not None
    view = _summary(partner, (await session.exec(_roles_query([partner.id]))).all())
    endpoints = (await session.exec(_endpoints_query(partner.id))).all()
    view["endpoints"] = [{"identifier": e.identifier, "role": e.role, "url": e.url} for e in endpoints]
    return view


async def describe_partners(session: AsyncSession) -> list[dict[str, Any]]:
    partners = await list_partners(session)
    roles = (await session.exec(_roles_query([p.id for p in partners if p.id is not None]))).all()
    by_partner: dict[int, list[PartnerRole]] = {}
    for role in roles:
        by_partner.setdefault(role.partner_id, []).append(role)
    return [_summary(p, by_partner.get(p.id or 0, [])) for p in partners]


def _summary(partner: Partner, roles: Any) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else format_datetime(value)

    return {
        "id": partner.id,
        "name": partner.name,
        "status": partner.status,
        "status_reason": partner.status_reason,
        "version": partner.version,
        "versions_url": partner.versions_url,
        "initiated_by_us": partner.initiated_by_us,
        "base64_token": partner.base64_token,
        "created_at": when(partner.created_at),
        "updated_at": when(partner.updated_at),
        "registered_at": when(partner.registered_at),
        "roles": [
            {
                "role": r.role,
                "country_code": r.country_code,
                "party_id": r.party_id,
                "name": r.business_name,
                "website": r.website,
            }
            for r in roles
        ],
    }


def _roles_query(partner_ids: list[int]) -> Any:
    return (
        select(PartnerRole)
        .where(col(PartnerRole.partner_id).in_(partner_ids))
        .order_by(col(PartnerRole.partner_id), col(PartnerRole.id))
    )


def _endpoints_query(partner_id: int) -> Any:
    return (
        select(PartnerEndpoint)
        .where(PartnerEndpoint.partner_id == partner_id)
        .order_by(col(PartnerEndpoint.id))
    )
