"""Locations module, RECEIVER interface (spec mod_locations.asciidoc 8.2.2): the CPO pushes its Locations,
EVSEs and Connectors to us.

    GET|PUT|PATCH {locations}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]

PUT creates (HTTP 201) or replaces (200) the object at its level; PATCH (200) needs `last_updated`. An EVSE or
Connector under an unknown Location: HTTP 404, OCPI 2003; a PATCH of an unknown object or a GET of one:
HTTP 404, OCPI 2000. Party scoping and routing headers: `emsp.ocpi_api.scoping`. The rules of the writes
(out-of-order, parent `last_updated`, EVSE removal by status): `emsp.ingest.locations`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from emsp.deps import get_node
from emsp.ingest import locations as store
from emsp.ingest.validation import validate
from emsp.ocpi_api import ModuleEndpoint, evse_fastpath
from emsp.ocpi_api.scoping import ReceivingDep, receiving_outside_fastapi
from ocpi.errors import InvalidParameters, NotFound
from ocpi.models.locations import EVSE, Connector, Location

router = APIRouter(prefix="/locations", tags=["OCPI locations (receiver)"])

ENDPOINTS = [ModuleEndpoint("locations", "RECEIVER", "locations")]

CountryCode = Annotated[str, Path(min_length=1, max_length=2)]
PartyId = Annotated[str, Path(min_length=1, max_length=3)]
Id36 = Annotated[str, Path(min_length=1, max_length=36)]

LOCATION = "/{country_code}/{party_id}/{location_id}"
EVSE_PATH = LOCATION + "/{evse_uid}"
CONNECTOR = EVSE_PATH + "/{connector_id}"


def _body_object(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        raise InvalidParameters("The body must be a JSON object")
    return body


@router.get(LOCATION)
async def get_location(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, location_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        data = await store.get_location_json(ctx.session, key)
        if data is None:
            raise NotFound(f"Unknown Location {key}")
        return ctx.respond(data)

    return await ctx.run(work)


@router.get(EVSE_PATH)
async def get_evse(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, location_id: Id36, evse_uid: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        data = await store.get_evse_json(ctx.session, key, evse_uid)
        if data is None:
            raise NotFound(f"Unknown EVSE {key}/{evse_uid}")
        return ctx.respond(data)

    return await ctx.run(work)


@router.get(CONNECTOR)
async def get_connector(
    ctx: ReceivingDep,
    country_code: CountryCode,
    party_id: PartyId,
    location_id: Id36,
    evse_uid: Id36,
    connector_id: Id36,
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        data = await store.get_connector_json(ctx.session, key, evse_uid, connector_id)
        if data is None:
            raise NotFound(f"Unknown Connector {key}/{evse_uid}/{connector_id}")
        return ctx.respond(data)

    return await ctx.run(work)


@router.put(LOCATION)
async def put_location(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, location_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        location = validate(Location, await ctx.json_body())
        await ctx.check_body(key, location.country_code, location.party_id, location.id)
        return ctx.written(await store.put_location(ctx.session, location, partner_id=ctx.partner_id))

    return await ctx.run(work)


@router.put(EVSE_PATH)
async def put_evse(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, location_id: Id36, evse_uid: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        evse = validate(EVSE, await ctx.json_body())
        _same("uid", evse.uid, evse_uid)
        return ctx.written(await store.put_evse(ctx.session, key, evse, partner_id=ctx.partner_id))

    return await ctx.run(work)


@router.put(CONNECTOR)
async def put_connector(
    ctx: ReceivingDep,
    country_code: CountryCode,
    party_id: PartyId,
    location_id: Id36,
    evse_uid: Id36,
    connector_id: Id36,
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        connector = validate(Connector, await ctx.json_body())
        _same("id", connector.id, connector_id)
        outcome = await store.put_connector(ctx.session, key, evse_uid, connector, partner_id=ctx.partner_id)
        return ctx.written(outcome)

    return await ctx.run(work)


@router.patch(LOCATION)
async def patch_location(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, location_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        body = _body_object(await ctx.json_body())
        await ctx.check_body(key, _str(body, "country_code"), _str(body, "party_id"), _str(body, "id"))
        return ctx.written(await store.patch_location(ctx.session, key, body, partner_id=ctx.partner_id))

    return await ctx.run(work)


@router.patch(EVSE_PATH)
async def patch_evse(
    request: Request,
    country_code: CountryCode,
    party_id: PartyId,
    location_id: Id36,
    evse_uid: Id36,
) -> JSONResponse:
    """The most frequent push: a plain status update takes the fast path (`evse_fastpath`, PostgreSQL, one
    statement); anything else, or anything that path does not accept, the regular one below."""
    node = get_node(request)
    fast = await evse_fastpath.try_status_patch(node, request, country_code, party_id, location_id, evse_uid)
    if fast is not None:
        return fast
    async with receiving_outside_fastapi(request, node) as ctx:

        async def work() -> JSONResponse:
            key = await ctx.scope(country_code, party_id, location_id)
            body = _body_object(await ctx.json_body())
            if _str(body, "uid") is not None:
                _same("uid", str(body["uid"]), evse_uid)
            outcome = await store.patch_evse(ctx.session, key, evse_uid, body, partner_id=ctx.partner_id)
            return ctx.written(outcome)

        return await ctx.run(work)


@router.patch(CONNECTOR)
async def patch_connector(
    ctx: ReceivingDep,
    country_code: CountryCode,
    party_id: PartyId,
    location_id: Id36,
    evse_uid: Id36,
    connector_id: Id36,
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, location_id)
        body = _body_object(await ctx.json_body())
        if _str(body, "id") is not None:
            _same("id", str(body["id"]), connector_id)
        outcome = await store.patch_connector(
            ctx.session, key, evse_uid, connector_id, body, partner_id=ctx.partner_id
        )
        return ctx.written(outcome)

    return await ctx.run(work)


def _str(body: dict[str, object], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


def _same(name: str, in_body: str, in_url: str) -> None:
    if in_body.strip().upper() != in_url.strip().upper():
        raise InvalidParameters(f"{name} in the body ({in_body!r}) differs from the URL ({in_url!r})")
