"""HubClientInfo module, RECEIVER interface (spec mod_hub_client_info.asciidoc): a hub tells us which parties
it connects us with, and their connection status.

    GET|PUT {hubclientinfo}/{country_code}/{party_id}

Only a partner with role HUB may call it (others: HTTP 403, OCPI 2000). The parties it reports become
parties that hub may push Locations, Tariffs, Sessions and CDRs for (`emsp.ocpi_api.scoping`), and the
parties our tokens are pushed to through it, by their status (the store syncs the token delivery rows in
the request's transaction: `emsp.ingest.hubclientinfo`). A configuration module: no routing headers
(transport_and_format.asciidoc 4.1.8).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.deps import Caller, DbSession, ModuleCaller
from emsp.ingest import hubclientinfo as store
from emsp.ingest.locations import Outcome
from emsp.ingest.validation import validate
from emsp.ocpi_api import ModuleEndpoint
from emsp.ocpi_api.responses import ocpi_response
from emsp.ocpi_api.scoping import parties_of, read_json
from ocpi.errors import Forbidden, InvalidParameters, NotFound
from ocpi.models.hubclientinfo import ClientInfo

router = APIRouter(prefix="/hubclientinfo", tags=["OCPI hubclientinfo (receiver)"])

ENDPOINTS = [ModuleEndpoint("hubclientinfo", "RECEIVER", "hubclientinfo")]

CountryCode = Annotated[str, Path(min_length=1, max_length=2)]
PartyId = Annotated[str, Path(min_length=1, max_length=3)]


async def _require_hub(session: AsyncSession, caller: Caller) -> None:
    if not await parties_of(session, caller.partner_id, roles={"HUB"}):
        raise Forbidden("Only a hub may send ClientInfo")


@router.get("/{country_code}/{party_id}")
async def get_client_info(
    country_code: CountryCode, party_id: PartyId, session: DbSession, caller: ModuleCaller
) -> JSONResponse:
    await _require_hub(session, caller)
    data = await store.get_client_info_json(session, caller.partner_id, country_code, party_id)
    if data is None:
        raise NotFound(f"Unknown ClientInfo {country_code}/{party_id}")
    return ocpi_response(data)


@router.put("/{country_code}/{party_id}")
async def put_client_info(
    country_code: CountryCode, party_id: PartyId, request: Request, session: DbSession, caller: ModuleCaller
) -> JSONResponse:
    await _require_hub(session, caller)
    info = validate(ClientInfo, await read_json(request))
    if (info.country_code.upper(), info.party_id.upper()) != (country_code.upper(), party_id.upper()):
        raise InvalidParameters(
            f"country_code/party_id in the body ({info.country_code}/{info.party_id}) differ from the URL "
            f"({country_code}/{party_id})"
        )
    outcome = await store.put_client_info(session, info, partner_id=caller.partner_id)
    if outcome == Outcome.CREATED:
        return ocpi_response(http_status=201, status_message="Created")
    if outcome == Outcome.IGNORED:
        return ocpi_response(status_message="Ignored: older than the stored object (last_updated)")
    return ocpi_response(status_message="Updated")
