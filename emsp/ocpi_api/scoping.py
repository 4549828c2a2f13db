"""Who may push what: party scoping and routing headers for the Receiver endpoints of client-owned objects
(Locations, Tariffs, Sessions, CDRs). Spec transport_and_format.asciidoc 4.1.5 (Client Owned Object Push)
and 4.1.8 (Message Routing); module parameter tables: the URL's country_code/party_id "SHALL be the same
value as" the pushed object's.

The parties a partner speaks for are its `PartnerRole` rows (the roles of its credentials) and, for a hub,
the parties it reported through HubClientInfo (unless SUSPENDED or swept). For CPO-owned objects only CPO
parties count (`OWNER_ROLES`).

Answers (our choices where the spec leaves room):

    URL country_code/party_id not a party of the caller     HTTP 404, OCPI 2000 (4.1.5: "allowed to
    body country_code/party_id not a party of the caller    respond with HTTP 404"; hides whether the
    OCPI-from-* not a party of the caller                   object exists; nothing is stored)
    body party differs from the URL party (both the caller's), HTTP 400, OCPI 2001 (4.1.5.1 Errors)
    body id differs from the URL id
    OCPI-to-* not one of our parties, or a header pair      HTTP 400, OCPI 2001
    given halfway

Responses carry the request's routing headers swapped (`to` = the request's `from`; `from` = the request's
`to`, or our first party for an open routing request that named no `to`).

Use: a route takes `ctx: Receiving` (authenticates, checks the routing headers), calls
`await ctx.scope(cc, pid, object_id)` for the URL and `await ctx.check_body(key, cc, pid, id)` for the
body, and answers with `ctx.respond(...)` / `ctx.written(outcome)`; `ctx.run(work)` renders an OCPI error
with the routing headers and rolls back whatever the request wrote.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import session_scope
from emsp.deps import Caller, DbSession, ModuleCaller, NodeDep, module_caller
from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.locations import Outcome
from emsp.ingest.parties import OWNER_ROLES, Party, parties_of, party_roles, select_parties, speaks_for
from emsp.node import Node
from emsp.ocpi_api.responses import ocpi_response
from emsp.settings import OwnParty
from ocpi import headers as h
from ocpi.errors import InvalidParameters, NotFound, OcpiError

log = logging.getLogger("emsp.ocpi_api.scoping")

__all__ = [
    "OWNER_ROLES",
    "Party",
    "PartyNotAllowed",
    "Receiving",
    "ReceivingDep",
    "check_routing",
    "ensure_body_object",
    "ensure_party",
    "parties_of",
    "read_json",
    "speaks_for",
]

MAX_BODY_BYTES = 5 * 1024 * 1024


class PartyNotAllowed(NotFound):
    """A country_code/party_id the authenticated partner may not speak for (HTTP 404, OCPI 2000)."""

    default_message = "Party not among those the credentials speak for"


# --- parties --------------------------------------------------------------------------------------------


async def ensure_party(
    session: AsyncSession,
    caller: Caller,
    country_code: str,
    party_id: str,
    *,
    roles: Collection[str] | None = OWNER_ROLES,
    where: str = "URL",
    known: frozenset[tuple[str, str, str]] | None = None,
) -> None:
    """`PartyNotAllowed` unless the caller speaks for the party. `known`: the caller's `party_roles`, when
    already read in this request."""
    if known is None:
        allowed = await speaks_for(session, caller.partner_id, country_code, party_id, roles=roles)
    else:
        allowed = (ci(country_code), ci(party_id)) in select_parties(known, roles)
    if not allowed:
        log.warning(
            "partner %s refused: %s party %s/%s is not one it speaks for",
            caller.partner_id,
            where,
            country_code,
            party_id,
        )
        raise PartyNotAllowed(
            f"{country_code}/{party_id} ({where}) is not a party these credentials may speak for"
        )


async def ensure_body_object(
    session: AsyncSession,
    caller: Caller,
    key: ObjectKey,
    country_code: str | None,
    party_id: str | None,
    object_id: str | None,
    *,
    id_name: str = "id",
    roles: Collection[str] | None = OWNER_ROLES,
    known: frozenset[tuple[str, str, str]] | None = None,
) -> None:
    """The body's country_code/party_id/id (None: absent, as in a PATCH) against the URL's `key`."""
    body_cc = key.country_code if country_code is None else ci(country_code)
    body_pid = key.party_id if party_id is None else ci(party_id)
    if (body_cc, body_pid) != (key.country_code, key.party_id):
        await ensure_party(session, caller, body_cc, body_pid, roles=roles, where="body", known=known)
        raise InvalidParameters(
            f"country_code/party_id in the body ({body_cc}/{body_pid}) differ from the URL "
            f"({key.country_code}/{key.party_id})"
        )
    if object_id is not None and ci(object_id) != key.id:
        raise InvalidParameters(f"{id_name} in the body ({object_id!r}) differs from the URL ({key.id!r})")


# --- routing headers ------------------------------------------------------------------------------------


def _header_pair(request: Request, cc_name: str, pid_name: str) -> Party | None:
    cc = (request.headers.get(cc_name) or "").strip()
    pid = (request.headers.get(pid_name) or "").strip()
    if not cc and not pid:
        return None
    if not cc or not pid or len(cc) > 2 or len(pid) > 3 or not (cc + pid).isascii():
        raise InvalidParameters(f"{cc_name} and {pid_name} must be given together (CiString 2 and 3)")
    return ci(cc), ci(pid)


def parse_routing(request: Request, ours: Sequence[OwnParty]) -> tuple[dict[str, str], Party | None]:
    """The request's routing headers (4.1.8) read and checked on their own: (the response's routing headers,
    swapped; the OCPI-from-* party, for the caller to check it speaks for it). `InvalidParameters` when a
    pair is given halfway or OCPI-to-* is not one of our parties."""
    sender = _header_pair(request, h.FROM_COUNTRY_CODE, h.FROM_PARTY_ID)
    receiver = _header_pair(request, h.TO_COUNTRY_CODE, h.TO_PARTY_ID)
    if sender is None and receiver is None:
        return {}, None
    our_parties = [(ci(p.country_code), ci(p.party_id)) for p in ours]
    if receiver is not None and receiver not in our_parties:
        raise InvalidParameters(f"OCPI-to-* names {receiver[0]}/{receiver[1]}, which is not a party of ours")
    answer: dict[str, str] = {}
    if sender is not None:
        answer[h.TO_COUNTRY_CODE], answer[h.TO_PARTY_ID] = sender
    me = receiver or (our_parties[0] if our_parties else None)
    if me is not None:
        answer[h.FROM_COUNTRY_CODE], answer[h.FROM_PARTY_ID] = me
    return answer, sender


async def check_routing(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    ours: Sequence[OwnParty],
    known: frozenset[tuple[str, str, str]] | None = None,
) -> dict[str, str]:
    """Validate the request's routing headers (4.1.8), the OCPI-from-* party included, and return those of
    the response (swapped)."""
    answer, sender = parse_routing(request, ours)
    if sender is not None:
        await ensure_party(session, caller, *sender, roles=None, where="OCPI-from-*", known=known)
    return answer


# --- request context ------------------------------------------------------------------------------------


@dataclass
class Receiving:
    """One authenticated request to a Receiver endpoint of a client-owned object."""

    request: Request
    session: AsyncSession
    caller: Caller
    ours: Sequence[OwnParty]
    routing: dict[str, str] = field(default_factory=dict)
    routing_error: OcpiError | None = None
    known: frozenset[tuple[str, str, str]] = frozenset()  # the caller's party_roles, read once per request

    @property
    def partner_id(self) -> int:
        return self.caller.partner_id

    async def scope(self, country_code: str, party_id: str, object_id: str = "") -> ObjectKey:
        """The URL's object key, once the caller is known to speak for its party."""
        await ensure_party(self.session, self.caller, country_code, party_id, known=self.known)
        return ObjectKey.of(country_code, party_id, object_id)

    async def check_body(
        self, key: ObjectKey, country_code: str | None, party_id: str | None, object_id: str | None, **kw: Any
    ) -> None:
        kw.setdefault("known", self.known)
        await ensure_body_object(self.session, self.caller, key, country_code, party_id, object_id, **kw)

    async def json_body(self) -> Any:
        return await read_json(self.request)

    def respond(self, data: Any = None, *, http_status: int = 200, message: str = "Success") -> JSONResponse:
        return ocpi_response(data, http_status=http_status, status_message=message, headers=self.routing)

    def written(self, outcome: Outcome) -> JSONResponse:
        if outcome == Outcome.CREATED:
            return self.respond(http_status=201, message="Created")
        if outcome == Outcome.IGNORED:
            return self.respond(message="Ignored: older than the stored object (last_updated)")
        return self.respond(message="Updated")

    def error(self, exc: OcpiError) -> JSONResponse:
        return ocpi_response(
            http_status=exc.http_status,
            status_code=exc.status_code,
            status_message=exc.status_message,
            headers=self.routing,
        )

    async def run(self, work: Callable[[], Awaitable[JSONResponse]]) -> JSONResponse:
        """`work()`, or its OCPI error as the envelope (with routing headers) and nothing written."""
        try:
            if self.routing_error is not None:
                raise self.routing_error
            return await work()
        except OcpiError as exc:
            await self.session.rollback()
            return self.error(exc)


async def read_json(request: Request) -> Any:
    """The request body as JSON; `InvalidParameters` (HTTP 400, 2001) when it is not."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidParameters(f"Body larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameters("Malformed JSON body") from None


async def receiving(request: Request, caller: ModuleCaller, session: DbSession, node: NodeDep) -> Receiving:
    known = await party_roles(session, caller.partner_id)
    ctx = Receiving(request=request, session=session, caller=caller, ours=node.settings.parties, known=known)
    try:
        ctx.routing = await check_routing(request, session, caller, ctx.ours, known)
    except OcpiError as exc:
        ctx.routing_error = exc
    return ctx


ReceivingDep = Annotated[Receiving, Depends(receiving)]


@asynccontextmanager
async def receiving_outside_fastapi(request: Request, node: Node) -> AsyncIterator[Receiving]:
    """What `ReceivingDep` gives, for a route that first tried a fast path and so could not take the session
    and the caller as dependencies: one unit of work, committed at the end."""
    async with session_scope(node.sessionmaker) as session:
        yield await receiving(request, await module_caller(request, session), session, node)
