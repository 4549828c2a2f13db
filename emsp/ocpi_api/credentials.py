"""Credentials module as server (spec credentials.asciidoc): GET our credentials, POST to register, PUT to
update (rotate tokens, re-read endpoints), DELETE to unregister. Token A is accepted here and on versions
only. The handshake itself is `partners.handshake`; this module only wires the request to it.

POST and PUT call the partner (its versions and details) before writing anything. The read transaction of
the caller lookup is ended first, so no transaction stays open while the partner answers, and on SQLite the
writes that follow start from a fresh snapshot (a stale read transaction could not become a writer).

Version details list `credentials` once, with the role the spec's examples use (SENDER): the module is
symmetric and its role "is not relevant" (version_information_endpoint.asciidoc, Endpoint class).

After POST, PUT and DELETE the partner's token delivery rows follow its new state in the same transaction
(`emsp.distribution.sync.sync_partner`): a partner that just became CONNECTED with a Tokens RECEIVER
endpoint gets every token at once, an unregistered one none.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emsp.deps import DbSession, NodeDep, RegistrationCaller
from emsp.distribution.sync import sync_partner
from emsp.ocpi_api import ModuleEndpoint
from emsp.ocpi_api.responses import ocpi_response
from emsp.registration import handshake_policy
from ocpi.models.credentials import Credentials
from partners.handshake import accept_registration, accept_unregistration, accept_update
from partners.registry import our_credentials

router = APIRouter(tags=["ocpi: credentials"])
ENDPOINTS = [ModuleEndpoint(identifier="credentials", role="SENDER", path="credentials")]


@router.get("/credentials")
async def get_credentials(node: NodeDep, caller: RegistrationCaller) -> JSONResponse:
    """Our credentials for the caller: the token it authenticated with, our versions URL, our roles."""
    return ocpi_response(our_credentials(caller.token, handshake_policy(node.settings)).to_json())


@router.post("/credentials")
async def post_credentials(
    request: Request, body: Credentials, node: NodeDep, caller: RegistrationCaller, session: DbSession
) -> JSONResponse:
    await session.commit()  # end the caller lookup's read transaction before calling the partner
    ours = await accept_registration(
        session,
        node.http,
        caller.partner,
        caller.token_kind,
        body,
        handshake_policy(node.settings),
        correlation_id=request.state.correlation_id,
    )
    await sync_partner(session, caller.partner)
    return ocpi_response(ours.to_json())


@router.put("/credentials")
async def put_credentials(
    request: Request, body: Credentials, node: NodeDep, caller: RegistrationCaller, session: DbSession
) -> JSONResponse:
    await session.commit()  # end the caller lookup's read transaction before calling the partner
    ours = await accept_update(
        session,
        node.http,
        caller.partner,
        caller.token_kind,
        body,
        handshake_policy(node.settings),
        correlation_id=request.state.correlation_id,
    )
    await sync_partner(session, caller.partner)
    return ocpi_response(ours.to_json())


@router.delete("/credentials")
async def delete_credentials(caller: RegistrationCaller, session: DbSession) -> JSONResponse:
    await accept_unregistration(session, caller.partner, caller.token_kind)
    await sync_partner(session, caller.partner)
    return ocpi_response()
