"""Partner registration as the node does it: the handshake policy read from the settings, units of work on
the node's database, and the operator's use cases, shared by the admin API and the CLI so both behave the
same. Every result is JSON-ready; only `invite` returns a token (token A, shown once). Registering,
rotating, unregistering, suspending and resuming bring the partner's token delivery rows in line in the
transaction that changes its state (`unit_of_work`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import session_scope
from emsp.distribution.sync import following_partners
from emsp.node import Node
from emsp.settings import Settings
from ocpi.models.common import BusinessDetails, Role
from ocpi.models.credentials import CredentialsRole
from ocpi.types import utcnow
from partners import registry
from partners.discovery import HandshakePolicy
from partners.handshake import UnitOfWork, register_with, unregister_with, update_with
from partners.urlguard import UrlPolicy


def our_roles(settings: Settings) -> tuple[CredentialsRole, ...]:
    """Our CredentialsRoles: one EMSP role per party we are."""
    return tuple(
        CredentialsRole(
            role=Role.EMSP,
            party_id=party.party_id,
            country_code=party.country_code,
            business_details=BusinessDetails(name=party.name, website=party.website),
        )
        for party in settings.parties
    )


def handshake_policy(settings: Settings) -> HandshakePolicy:
    return HandshakePolicy(
        versions_url=settings.versions_url,
        roles=our_roles(settings),
        url_policy=UrlPolicy(allow_http=settings.allow_http_urls, allow_private=settings.allow_private_urls),
        rotation_grace=timedelta(seconds=settings.token_rotation_grace_seconds),
    )


def unit_of_work(node: Node) -> UnitOfWork:
    """One transaction per `async with uow() as session:` block, committed when it ends. Before it commits,
    the token delivery rows of every partner the block loaded or added follow that partner's new state
    (`emsp.distribution.sync`): a partner the handshake just made CONNECTED gets every token at once."""
    return lambda: _syncing_transaction(node)


@asynccontextmanager
async def _syncing_transaction(node: Node) -> AsyncIterator[AsyncSession]:
    async with session_scope(node.sessionmaker) as session, following_partners(session):
        yield session


def default_name(versions_url: str) -> str:
    """A partner registered without a name is named after the host (and port) of its versions URL."""
    return (urlsplit(versions_url).netloc.rpartition("@")[2] or versions_url)[:100]


async def invite(node: Node, name: str, *, raw_token: bool = False) -> dict[str, Any]:
    """A PLANNED partner and its token A, to hand over out of band with our versions URL."""
    async with session_scope(node.sessionmaker) as session:
        partner, token_a = await registry.create_invitation(
            session, name, base64_token=not raw_token, now=utcnow()
        )
        view = await registry.describe_partner(session, partner)
    return {"partner": view, "versions_url": node.settings.versions_url, "token_a": token_a}


async def register(
    node: Node, *, versions_url: str, token: str, name: str | None = None, raw_token: bool = False
) -> dict[str, Any]:
    """Register toward a partner given its versions URL and its token A."""
    partner_id = await register_with(
        unit_of_work(node),
        node.http,
        versions_url=versions_url,
        token_a=token,
        name=name or default_name(versions_url),
        base64_token=not raw_token,
        policy=handshake_policy(node.settings),
    )
    return await show(node, partner_id)


async def rotate(node: Node, ref: str) -> dict[str, Any]:
    """Update the credentials toward a registered partner: new tokens both ways."""
    partner_id = await update_with(unit_of_work(node), node.http, ref, handshake_policy(node.settings))
    return await show(node, partner_id)


async def unregister(node: Node, ref: str) -> dict[str, Any]:
    """Tell the partner (DELETE) if we can, then end both directions."""
    outcome = await unregister_with(unit_of_work(node), node.http, ref, handshake_policy(node.settings))
    return {
        "partner": await show(node, outcome.partner_id),
        "partner_notified": outcome.notified,
        "partner_error": outcome.error,
    }


async def show(node: Node, ref: str | int) -> dict[str, Any]:
    async with session_scope(node.sessionmaker) as session:
        return await registry.describe_partner(session, await registry.find_partner(session, ref))


async def list_all(node: Node) -> list[dict[str, Any]]:
    async with session_scope(node.sessionmaker) as session:
        return await registry.describe_partners(session)


async def suspend(node: Node, ref: str, reason: str | None) -> dict[str, Any]:
    async with _syncing_transaction(node) as session:
        partner = await registry.find_partner(session, ref)
        await registry.suspend(session, partner, reason, now=utcnow())
        return await registry.describe_partner(session, partner)


async def resume(node: Node, ref: str) -> dict[str, Any]:
    async with _syncing_transaction(node) as session:
        partner = await registry.find_partner(session, ref)
        await registry.resume(session, partner, now=utcnow())
        return await registry.describe_partner(session, partner)
