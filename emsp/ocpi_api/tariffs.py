"""Tariffs module, RECEIVER interface (spec mod_tariffs.asciidoc 11.2.2): the CPO pushes its Tariffs to us.

    GET|PUT|DELETE {tariffs}/{country_code}/{party_id}/{tariff_id}

PUT creates (HTTP 201) or replaces (200); each change is kept as a version (`emsp.ingest.tariffs`). DELETE
marks the Tariff deleted and keeps its history; deleting it again succeeds, deleting one we never had is
HTTP 404, OCPI 2000 (the spec says nothing of either). Scoping and routing: `emsp.ocpi_api.scoping`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from emsp.ingest import tariffs as store
from emsp.ingest.validation import validate
from emsp.ocpi_api import ModuleEndpoint
from emsp.ocpi_api.scoping import ReceivingDep
from ocpi.errors import NotFound
from ocpi.models.tariffs import Tariff

router = APIRouter(prefix="/tariffs", tags=["OCPI tariffs (receiver)"])

ENDPOINTS = [ModuleEndpoint("tariffs", "RECEIVER", "tariffs")]

CountryCode = Annotated[str, Path(min_length=1, max_length=2)]
PartyId = Annotated[str, Path(min_length=1, max_length=3)]
Id36 = Annotated[str, Path(min_length=1, max_length=36)]

TARIFF = "/{country_code}/{party_id}/{tariff_id}"


@router.get(TARIFF)
async def get_tariff(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, tariff_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, tariff_id)
        data = await store.get_tariff_json(ctx.session, key)
        if data is None:
            raise NotFound(f"Unknown Tariff {key}")
        return ctx.respond(data)

    return await ctx.run(work)


@router.put(TARIFF)
async def put_tariff(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, tariff_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, tariff_id)
        tariff = validate(Tariff, await ctx.json_body())
        await ctx.check_body(key, tariff.country_code, tariff.party_id, tariff.id)
        return ctx.written(await store.put_tariff(ctx.session, tariff, partner_id=ctx.partner_id))

    return await ctx.run(work)


@router.delete(TARIFF)
async def delete_tariff(
    ctx: ReceivingDep, country_code: CountryCode, party_id: PartyId, tariff_id: Id36
) -> JSONResponse:
    async def work() -> JSONResponse:
        key = await ctx.scope(country_code, party_id, tariff_id)
        if not await store.delete_tariff(ctx.session, key):
            raise NotFound(f"Unknown Tariff {key}")
        return ctx.respond(message="Deleted")

    return await ctx.run(work)
