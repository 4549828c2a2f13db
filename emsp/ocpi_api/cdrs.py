"""CDRs module, RECEIVER interface (spec mod_cdrs.asciidoc 10.2.2): the CPO posts its CDRs to us.

- `POST {cdrs}`: the full and final CDR. Stored as received (the exact body is kept), verified and priced for
  the driver in the same transaction (`emsp.cdrs.pipeline`). Answer: HTTP 201, OCPI 1000, and the
  `Location` header with the URL of our copy (`{cdrs}/{our id}`), which the CPO may GET.
  - The same CDR again (same `country_code`/`party_id`/`id`, same content): HTTP 200, OCPI 1000, the same
    `Location`; nothing is stored or billed twice.
  - Another CDR under an existing id: HTTP 200 with OCPI 2000 and no `Location`. A CDR "cannot be changed
    or replaced once sent" (10.1): the CPO must send a Credit CDR and a new CDR. We answer with HTTP 200
    because the request is valid and authenticated (status_codes.asciidoc: errors of such requests are in
    the OCPI status); the refusal is logged as a warning.
  - A Credit CDR (`credit`, `credit_reference_id`) is stored like any CDR and yields a corrective MSP CDR
    negating the credited CDR's; an unknown `credit_reference_id` is accepted and flagged.
  - Malformed JSON, wrong types, missing fields, a non-credit `id` over 36 characters: HTTP 400 with
    OCPI 2001 and what is wrong; nothing is stored.
  - The CDR's `country_code`/`party_id` must be a party the caller speaks for: else HTTP 404 with OCPI 2000
    (transport_and_format 4.1.5.1), nothing stored.
- `GET {cdrs}/{our id}` and `GET {cdrs}/{country_code}/{party_id}/{cdr_id}`: the CDR as it was received;
  HTTP 404 when unknown or owned by a party the caller does not speak for.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from emsp.cdrs.fastpath import ingest_fast
from emsp.cdrs.pipeline import PricingPolicy, ingest_cdr
from emsp.cdrs.store import CdrConflict, find_cdr
from emsp.cdrs.tables import CdrSource, CpoCdr
from emsp.deps import DbSession, ModuleCaller, get_node
from emsp.errors import describe_validation_errors
from emsp.node import Node
from emsp.ocpi_api import VERSION_PATH, ModuleEndpoint
from emsp.ocpi_api.fastpath import routing, token_digests
from emsp.ocpi_api.responses import ocpi_response, response_routing_headers
from emsp.ocpi_api.scoping import ensure_party, receiving_outside_fastapi, speaks_for
from emsp.rawpool import raw_pool
from emsp.settings import Settings
from ocpi.errors import ClientError, InvalidParameters, NotFound, OcpiError
from ocpi.models.cdrs import Cdr

router = APIRouter(prefix="/cdrs", tags=["OCPI cdrs (receiver)"])

ENDPOINTS = [ModuleEndpoint("cdrs", "RECEIVER", "cdrs")]

MAX_BODY_BYTES = 1_000_000
STORED = "CDR stored"
ALREADY_RECEIVED = "CDR already received"
log = logging.getLogger("emsp.ocpi_api.cdrs")
_MAX_PLAIN_ID = 36  # only a Credit CDR may use the 39 characters (mod_cdrs 10.3.1)


def policy_of(settings: Settings) -> PricingPolicy:
    return PricingPolicy(
        tolerance=settings.cdr_price_tolerance, std_currency=settings.standard_currency.upper()
    )


def cdr_url(settings: Settings, cdr_pk: int) -> str:
    return f"{settings.public_url}{VERSION_PATH}/cdrs/{cdr_pk}"


def parse_cdr(body: bytes) -> tuple[Cdr, str]:
    """The validated CDR and the body as text; `InvalidParameters` (2001) says what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidParameters(f"Body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameters("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise InvalidParameters("The body must be one CDR object")
    try:
        cdr = Cdr.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(describe_validation_errors(list(exc.errors()))) from None
    if not cdr.credit and len(cdr.id) > _MAX_PLAIN_ID:
        raise InvalidParameters(f"id: at most {_MAX_PLAIN_ID} characters unless the CDR is a Credit CDR")
    return cdr, text


class CdrChangeRefused(ClientError):
    """Another CDR under an existing id: OCPI 2000 with HTTP 200 (see the module docstring)."""

    http_status = 200


@router.post("")
@router.post("/", include_in_schema=False)
async def post_cdr(request: Request) -> JSONResponse:
    """A new plain CDR on PostgreSQL takes the fast path (`emsp.cdrs.fastpath`: two statements); anything
    else, or anything that path steps aside from, the regular one below."""
    node = get_node(request)
    fast = await _try_fast(node, request)
    if fast is not None:
        return fast
    async with receiving_outside_fastapi(request, node) as ctx:

        async def work() -> JSONResponse:
            cdr, text = parse_cdr(await ctx.request.body())
            await ensure_party(ctx.session, ctx.caller, cdr.country_code, cdr.party_id, where="body")
            try:
                result = await ingest_cdr(
                    ctx.session,
                    cdr,
                    text,
                    partner_id=ctx.partner_id,
                    source=CdrSource.PUSH,
                    policy=policy_of(node.settings),
                )
            except CdrConflict as exc:
                raise CdrChangeRefused(str(exc)) from None
            ctx.routing["Location"] = cdr_url(node.settings, result.cdr.id)
            if not result.created:
                return ctx.respond(message=ALREADY_RECEIVED)
            return ctx.respond(http_status=201, message=STORED)

        return await ctx.run(work)


async def _try_fast(node: Node, request: Request) -> JSONResponse | None:
    if node.engine.dialect.name != "postgresql":
        return None
    try:
        cdr, text = parse_cdr(await request.body())
    except OcpiError:
        return None
    if cdr.credit:  # Credit CDRs take the regular path (`ingest_fast` would step aside)
        return None
    answer = routing(request, node.settings.parties)
    digests = token_digests(request)
    if answer is None or not digests:
        return None
    headers, sender = answer
    policy = policy_of(node.settings)
    try:
        async with (await raw_pool(node)).acquire() as conn:
            outcome = await ingest_fast(
                conn, cdr, text, digests, sender, tolerance=policy.tolerance, std_currency=policy.std_currency
            )
    except Exception:
        log.exception("CDR fast path failed; the regular path takes the request")
        return None
    if outcome is None:
        return None
    headers = {**headers, "Location": cdr_url(node.settings, outcome.cdr_id)}
    return ocpi_response(http_status=201, status_message=STORED, headers=headers)


def _stored_json(row: CpoCdr) -> Any:
    return json.loads(row.raw_json)


async def _visible(session: DbSession, caller: ModuleCaller, row: CpoCdr | None) -> CpoCdr:
    if row is None or not await speaks_for(session, caller.partner_id, row.country_code, row.party_id):
        raise NotFound("Unknown CDR")
    return row


@router.get("/{cdr_pk}")
async def get_cdr(request: Request, cdr_pk: str, session: DbSession, caller: ModuleCaller) -> JSONResponse:
    row = await session.get(CpoCdr, int(cdr_pk)) if cdr_pk.isdigit() and len(cdr_pk) < 18 else None
    row = await _visible(session, caller, row)
    return ocpi_response(_stored_json(row), headers=response_routing_headers(request.headers))


@router.get("/{country_code}/{party_id}/{cdr_id}")
async def get_cdr_by_key(
    request: Request, country_code: str, party_id: str, cdr_id: str, session: DbSession, caller: ModuleCaller
) -> JSONResponse:
    row = await _visible(session, caller, await find_cdr(session, country_code, party_id, cdr_id))
    return ocpi_response(_stored_json(row), headers=response_routing_headers(request.headers))
