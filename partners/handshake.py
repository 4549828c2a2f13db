"""The credentials handshake (spec credentials.asciidoc), in both directions.

As **receiver** (the partner calls our credentials endpoint with token A, or with its own token once
registered): `accept_registration` (POST), `accept_update` (PUT) and `accept_unregistration` (DELETE) take
the request's session. They read the partner's versions and details with the token it sent *before*
writing anything, so a failed call (3001/3002/3003) leaves the registry as it was.

As **initiator** (the operator asks us to register toward a partner): `register_with`, `update_with` and
`unregister_with` take a unit of work, `uow()`: an async context manager that opens a session and commits
it when the block ends. They need several short transactions: while it handles our POST or PUT the partner
calls *us* back with the token we just issued, so that token must be committed before we call; and no
transaction stays open while we wait for the partner. A failed call undoes what the earlier step wrote.

Token rotation (PUT either way): the partner's new token for us replaces the old one at once; the token we
issued it before keeps working for `policy.rotation_grace` (0: stops at once), ocpi/ocpi#568. A failed
exchange keeps the old pair.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from ocpi.auth import is_valid_token
from ocpi.client import OcpiClient
from ocpi.errors import InvalidParameters, MethodNotAllowed, PartnerCallError
from ocpi.models.credentials import Credentials
from ocpi.types import utcnow
from partners.discovery import CREDENTIALS, Discovery, HandshakePolicy, discover
from partners.errors import HandshakeFailure, PartnerRefused, PartnerStateError, UrlRefused
from partners.registry import (
    check_credentials,
    claim_partner,
    claimable_partner,
    find_endpoint,
    find_partner,
    is_registered,
    mark_unregistered,
    our_credentials,
    release_partner,
    store_connection,
)
from partners.tables import Partner, PartnerStatus, TokenKind
from partners.tokens import issue_token, revoke_token, revoke_tokens
from partners.urlguard import check_url

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]

# --- as receiver ---------------------------------------------------------------------------------------


async def accept_registration(
    session: AsyncSession,
    http: httpx.AsyncClient,
    partner: Partner,
    kind: TokenKind,
    theirs: Credentials,
    policy: HandshakePolicy,
    *,
    correlation_id: str | None = None,
) -> Credentials:
    """POST: register the partner that holds token A; returns our credentials with its new token C."""
    if kind != TokenKind.REGISTRATION or is_registered(partner):
        raise MethodNotAllowed("Already registered: PUT updates the credentials, DELETE unregisters")
    check_credentials(theirs)
    discovery = await discover(
        http,
        theirs.url,
        theirs.token,
        base64_token=partner.base64_token,
        policy=policy,
        correlation_id=correlation_id,
    )
    assert partner.id is not None
    now = utcnow()
    if not await revoke_tokens(session, partner.id, TokenKind.REGISTRATION, now=now):
        raise MethodNotAllowed("Already registered by a concurrent request")
    partner.initiated_by_us = False
    await store_connection(session, partner, discovery, theirs, now=now)
    return our_credentials(await issue_token(session, partner, TokenKind.SERVER), policy)


async def accept_update(
    session: AsyncSession,
    http: httpx.AsyncClient,
    partner: Partner,
    kind: TokenKind,
    theirs: Credentials,
    policy: HandshakePolicy,
    *,
    correlation_id: str | None = None,
) -> Credentials:
    """PUT: re-read the partner's versions and endpoints with its new token, rotate the token we issued."""
    _require_registered(partner, kind)
    check_credentials(theirs)
    discovery = await discover(
        http,
        theirs.url,
        theirs.token,
        base64_token=partner.base64_token,
        policy=policy,
        correlation_id=correlation_id,
    )
    assert partner.id is not None
    now = utcnow()
    await revoke_tokens(session, partner.id, TokenKind.SERVER, grace=policy.rotation_grace, now=now)
    await store_connection(session, partner, discovery, theirs, now=now)
    return our_credentials(await issue_token(session, partner, TokenKind.SERVER), policy)


async def accept_unregistration(session: AsyncSession, partner: Partner, kind: TokenKind) -> None:
    """DELETE: both directions end; every token of theirs revoked, ours forgotten."""
    _require_registered(partner, kind)
    await mark_unregistered(session, partner, now=utcnow())


def _require_registered(partner: Partner, kind: TokenKind) -> None:
    if kind != TokenKind.SERVER or not is_registered(partner):
        raise MethodNotAllowed("Not registered: POST the credentials to register first")


# --- as initiator --------------------------------------------------------------------------------------


async def register_with(
    uow: UnitOfWork,
    http: httpx.AsyncClient,
    *,
    versions_url: str,
    token_a: str,
    name: str,
    base64_token: bool,
    policy: HandshakePolicy,
) -> int:
    """Register toward a partner given its versions URL and token A; returns our partner id."""
    if not is_valid_token(token_a):
        raise InvalidParameters("token: 1 to 64 printable ASCII characters without whitespace")
    async with uow() as session:
        await claimable_partner(session, name)  # fail before calling the partner when the name is taken
    discovery = await discover(http, versions_url, token_a, base64_token=base64_token, policy=policy)
    async with uow() as session:
        partner, previous = await claim_partner(session, name, now=utcnow())
        token_b = await issue_token(session, partner, TokenKind.SERVER)
        assert partner.id is not None
        partner_id = partner.id
    try:
        theirs = await _send_credentials(
            http, "POST", discovery, token_a, base64_token, our_credentials(token_b, policy), policy
        )
    except Exception:
        async with uow() as session:
            await release_partner(session, partner_id, previous)
        raise
    async with uow() as session:
        partner = await find_partner(session, partner_id)
        partner.base64_token, partner.initiated_by_us = base64_token, True
        await store_connection(session, partner, discovery, theirs, now=utcnow())
    return partner_id


async def update_with(
    uow: UnitOfWork, http: httpx.AsyncClient, ref: str | int, policy: HandshakePolicy
) -> int:
    """PUT our new credentials to a registered partner: a new token for it, a new one from it."""
    async with uow() as session:
        link = _Link.of(await find_partner(session, ref))
    if link.versions_url is None or link.client_token is None:
        raise PartnerStateError(f"Partner {link.name!r} is not registered ({link.status})")
    discovery = await discover(
        http, link.versions_url, link.client_token, base64_token=link.base64_token, policy=policy
    )
    async with uow() as session:
        new_token = await issue_token(session, await find_partner(session, link.id), TokenKind.SERVER)
    try:
        theirs = await _send_credentials(
            http,
            "PUT",
            discovery,
            link.client_token,
            link.base64_token,
            our_credentials(new_token, policy),
            policy,
        )
    except Exception:
        async with uow() as session:
            await revoke_token(session, new_token)
        raise
    async with uow() as session:
        partner = await find_partner(session, link.id)
        still_registered = is_registered(partner)  # it may have unregistered while we were updating
        if still_registered:
            now = utcnow()
            await revoke_tokens(
                session, link.id, TokenKind.SERVER, grace=policy.rotation_grace, now=now, keep=new_token
            )
            await store_connection(session, partner, discovery, theirs, now=now)
        else:
            await revoke_token(session, new_token)
    if not still_registered:
        raise PartnerStateError(f"Partner {link.name!r} unregistered during the update")
    return link.id


@dataclass(frozen=True)
class Unregistration:
    partner_id: int
    notified: bool  # the partner answered our DELETE with success
    error: str | None  # why it was not notified


async def unregister_with(
    uow: UnitOfWork, http: httpx.AsyncClient, ref: str | int, policy: HandshakePolicy
) -> Unregistration:
    """DELETE our credentials at the partner if we can, then end both directions here whatever it said."""
    async with uow() as session:
        partner = await find_partner(session, ref)
        if partner.status == PartnerStatus.UNREGISTERED:
            raise PartnerStateError(f"Partner {partner.name!r} is already unregistered")
        link = _Link.of(partner)
        url = await find_endpoint(session, link.id, CREDENTIALS)
    error: str | None = "not registered: nothing to tell the partner"
    if link.client_token is not None and url is not None:
        error = await _delete_credentials(http, url, link, policy)
    async with uow() as session:
        await mark_unregistered(session, await find_partner(session, link.id), now=utcnow())
    return Unregistration(partner_id=link.id, notified=error is None, error=error)


@dataclass(frozen=True)
class _Link:
    """What the initiator needs of a partner between transactions."""

    id: int
    name: str
    status: str
    versions_url: str | None
    client_token: str | None
    base64_token: bool

    @classmethod
    def of(cls, partner: Partner) -> _Link:
        assert partner.id is not None
        registered = is_registered(partner)
        return cls(
            id=partner.id,
            name=partner.name,
            status=partner.status,
            versions_url=partner.versions_url if registered else None,
            client_token=partner.client_token if registered else None,
            base64_token=partner.base64_token,
        )


async def _send_credentials(
    http: httpx.AsyncClient,
    method: str,
    discovery: Discovery,
    token: str,
    base64_token: bool,
    ours: Credentials,
    policy: HandshakePolicy,
) -> Credentials:
    """POST or PUT our credentials to the partner's credentials endpoint; its credentials in return."""
    url = discovery.credentials_url
    await check_url(url, policy.url_policy)
    client = OcpiClient(http, token=token, base64_token=base64_token)
    try:
        result = await client.request(method, url, json=ours.to_json(), routing=False)
    except PartnerCallError as exc:
        raise PartnerRefused.from_call(f"{method} credentials failed", exc) from None
    try:
        theirs = Credentials.model_validate(result.data)
        check_credentials(theirs)
    except (ValidationError, InvalidParameters):
        raise PartnerRefused(
            f"{method} credentials: the partner's answer is not a valid Credentials object",
            partner_http_status=result.http_status,
            partner_ocpi_status=result.ocpi_status,
        ) from None
    return theirs


async def _delete_credentials(
    http: httpx.AsyncClient, url: str, link: _Link, policy: HandshakePolicy
) -> str | None:
    """DELETE our credentials at the partner; None on success, else what went wrong."""
    assert link.client_token is not None
    client = OcpiClient(http, token=link.client_token, base64_token=link.base64_token)
    try:
        await check_url(url, policy.url_policy)
        await client.delete(url, routing=False)
    except UrlRefused as exc:
        return exc.status_message
    except PartnerCallError as exc:
        return f"DELETE credentials failed: {exc.message}"
    return None


__all__ = [
    "Discovery",
    "HandshakeFailure",
    "HandshakePolicy",
    "UnitOfWork",
    "Unregistration",
    "accept_registration",
    "accept_unregistration",
    "accept_update",
    "register_with",
    "unregister_with",
    "update_with",
]
