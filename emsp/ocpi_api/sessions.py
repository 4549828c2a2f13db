"""Sessions module, RECEIVER interface (spec mod_sessions.asciidoc 9.2.2): the CPO pushes its Sessions to us.

    GET|PUT|PATCH {sessions}/{country_code}/{party_id}/{session_id}

PUT creates (HTTP 201) or replaces (200) the whole Session; PATCH (200) needs `last_updated` and appends the
`charging_periods` it carries (a period already stored is not added twice). A PATCH or GET of an unknown
Session: HTTP 404, OCPI 2000. Scoping and routing: `emsp.ocpi_api.scoping`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from emsp.ingest import sessions as store
from emsp.ingest.validation import validate
from emsp.ocpi_api import ModuleEndpoint
from emsp.ocpi_api.scoping import ReceivingDep
from ocpi.errors import InvalidParameters, NotFound
from ocpi.models.sessions import Session

router = APIRouter(prefix="/sessions", tags=["OCPI sessions (receiver)"])

ENDPOINTS = [ModuleEndpoint("sessions", "RECEIVER", "sessions")]

CountryCode = Annotated[str, Path(min_length=1, max_length=2)]
PartyId = Annotated[str, Path(min_length=1, max_length=3)]
Id36 = Annotated[str, Path(min_length=1, max_length=36)]

SESSION = "/{country_code}/{party_id}/{session_id}"


@router.get(SESSION)
async def get_session(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, session_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, session_id)
        data = await store.get_session_json(ctx.session, key)
        if data is None:
            raise NotFound(f"Unknown Session {key}")
        return ctx.respond(data)

    return await ctx.run(work)


@router.put(SESSION)
async def put_session(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, session_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, session_id)
        item = validate(Session, await ctx.json_body())
        await ctx.check_body(key, item.country_code, item.party_id, item.id)
        return ctx.written(await store.put_session(ctx.session, item, partner_id=ctx.partner_id))

    return await ctx.run(work)


@router.patch(SESSION)
async def patch_session(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, session_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, session_id)
        body = await ctx.json_body()
        if not isinstance(body, dict):
            raise InvalidParameters("The body must be a JSON object")
        ids = [body.get(name) for name in ("country_code", "party_id", "id")]
        await ctx.check_body(key, *[v if isinstance(v, str) else None for v in ids])
        return ctx.written(await store.patch_session(ctx.session, key, body, partner_id=ctx.partner_id))

    return await ctx.run(work)
