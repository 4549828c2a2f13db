"""Tokens module, SENDER interface (spec mod_tokens.asciidoc 12.2.2): the eMSP owns the tokens.

- `GET  {tokens}`: the paginated list (`date_from` inclusive, `date_to` exclusive, `offset`, `limit`),
  oldest first by `(last_updated, id)`, with `Link`, `X-Total-Count` and `X-Limit`
  (transport_and_format.asciidoc "Pagination"). A token changed during a crawl moves to the end of the
  order, and tokens created during it appear at the end: offsets of the rest do not shift.
- `POST {tokens}/{token_uid}/authorize[?type=]`: real-time authorization, optional LocationReferences body;
  the decision is `emsp.tokens.authorize`. Unknown token → HTTP 404 with OCPI 2004 and no data.

When the request names one of our parties in `OCPI-to-country-code`/`OCPI-to-party-id`, only that party's
tokens are considered; answers carry the routing headers swapped. Callers: CONNECTED partners with their
own (SERVER) token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from emsp.deps import DbSession, ModuleCaller, NodeDep
from emsp.errors import describe_validation_errors
from emsp.node import Node
from emsp.ocpi_api import ModuleEndpoint
from emsp.ocpi_api.responses import ocpi_response, response_routing_headers
from emsp.settings import OwnParty
from emsp.tokens.authorize import authorization_info
from emsp.tokens.hotpath import authorize_rows
from emsp.tokens.ocpi_map import to_ocpi
from emsp.tokens.queries import CountCache, PageCursor, Party, ocpi_page
from ocpi import headers as h
from ocpi.auth import candidate_tokens
from ocpi.errors import InvalidParameters, NotEnoughInformation, OcpiError, Unauthorized, UnknownToken
from ocpi.models.tokens import LocationReferences, TokenType
from ocpi.pagination import build_link, pagination_headers, parse_page_params, replace_query_params
from ocpi.types import utcnow
from partners.tables import PartnerStatus, TokenKind
from partners.tokens import hash_token

router = APIRouter(prefix="/tokens", tags=["OCPI tokens (sender)"])

ENDPOINTS = [ModuleEndpoint("tokens", "SENDER", "tokens")]

_TOKEN_TYPES = {t.value: t for t in TokenType}
CURSOR = "cursor"
_COUNTS = "tokens.list_counts"


def _addressed_party(request: Request, parties: Sequence[OwnParty]) -> Party | None:
    """The party of ours named by the `OCPI-to-*` headers, if any."""
    country = (request.headers.get(h.TO_COUNTRY_CODE) or "").strip().upper()
    party = (request.headers.get(h.TO_PARTY_ID) or "").strip().upper()
    if not country or not party:
        return None
    for own in parties:
        if own.country_code.upper() == country and own.party_id.upper() == party:
            return own.country_code.upper(), own.party_id.upper()
    return None


def _error(exc: OcpiError, routing: dict[str, str]) -> JSONResponse:
    return ocpi_response(
        http_status=exc.http_status,
        status_code=exc.status_code,
        status_message=exc.status_message,
        headers=routing,
    )


@router.get("")
@router.get("/", include_in_schema=False)
async def get_tokens(
    request: Request, node: NodeDep, session: DbSession, _caller: ModuleCaller
) -> JSONResponse:
    settings = node.settings
    routing = response_routing_headers(request.headers)
    try:
        params = parse_page_params(
            request.query_params,
            max_limit=settings.page_limit_max,
            default_limit=min(settings.page_limit_default, settings.page_limit_max),
        )
    except OcpiError as exc:
        return _error(exc, routing)
    limit = params.limit or settings.page_limit_max
    total, rows, more = await ocpi_page(
        session,
        date_from=params.date_from,
        date_to=params.date_to,
        offset=params.offset,
        limit=limit,
        party=_addressed_party(request, settings.parties),
        after=PageCursor.decode(request.query_params.get(CURSOR), params.offset),
        counts=node.extras.setdefault(_COUNTS, CountCache()),
    )
    now = utcnow()
    link = None
    if more:
        following = params.offset + len(rows)
        cursor = PageCursor(rows[-1].last_updated, rows[-1].id, following).encode()
        self_url = replace_query_params(
            f"{settings.public_url}{request.url.path}?{request.url.query}", {CURSOR: cursor}
        )
        link = build_link(self_url, params, following, limit)
    headers = pagination_headers(total, settings.page_limit_max, link)
    headers.update(routing)
    return ocpi_response([to_ocpi(row, now) for row in rows], headers=headers)


def _token_type(request: Request) -> TokenType:
    raw = request.query_params.get("type")
    if raw is None:
        return TokenType.RFID
    token_type = _TOKEN_TYPES.get(raw.strip().upper())
    if token_type is None:
        raise InvalidParameters(f"type must be one of {', '.join(_TOKEN_TYPES)}, got {raw[:40]!r}")
    return token_type


async def _location_references(request: Request) -> LocationReferences | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameters("Malformed JSON body") from exc
    if data is None:
        return None
    try:
        return LocationReferences.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(describe_validation_errors(list(exc.errors()))) from exc


def _check_uid(token_uid: str) -> None:
    if len(token_uid) > 36 or not token_uid.isascii() or not token_uid.isprintable():
        raise InvalidParameters("token_uid must be a CiString(36)")


def _authenticated_tokens(rows: list[Any], digests: list[str], now: datetime) -> list[Any]:
    """The token rows of `authorize_rows`, once the caller passes the rules of `emsp.deps.module_caller`
    (which this endpoint does not use, to answer with one query): the first candidate digest that is a live
    token names the caller; UNREGISTERED, token A (REGISTRATION), SUSPENDED or not yet CONNECTED → 401.
    tests/emsp/tokens/test_tokens_authorize.py checks both paths agree."""
    for digest in digests:
        matching = [row for row in rows if row.token_hash == digest]
        if not matching or (matching[0].expires_at is not None and matching[0].expires_at <= now):
            continue
        first = matching[0]
        if first.partner_status == PartnerStatus.UNREGISTERED:
            raise Unauthorized()
        if first.kind != TokenKind.SERVER:
            raise Unauthorized("Token A may be used only on versions and credentials")
        if first.partner_status == PartnerStatus.SUSPENDED:
            raise Unauthorized("Partner suspended")
        if first.partner_status != PartnerStatus.CONNECTED:
            raise Unauthorized("Credentials exchange not finished")
        return [row for row in matching if row.id is not None]
    raise Unauthorized()


@router.post("/{token_uid}/authorize")
async def authorize(token_uid: str, request: Request) -> JSONResponse:
    """One query answers both "who is calling" and "which token": the hot path of real-time authorization
    (see bench/bench_authorize.py)."""
    node: Node = request.app.state.node
    digests = list(
        dict.fromkeys(hash_token(c) for c in candidate_tokens(request.headers.get(h.AUTHORIZATION)))
    )
    if not digests:
        raise Unauthorized()
    routing = response_routing_headers(request.headers)
    party = _addressed_party(request, node.settings.parties)
    try:
        _check_uid(token_uid)
        token_type = _token_type(request)
        location = await _location_references(request)
    except OcpiError as exc:
        _authenticated_tokens(await authorize_rows(node, digests, "", "RFID", None), digests, utcnow())
        return _error(exc, routing)
    now = utcnow()
    rows = await authorize_rows(node, digests, token_uid, token_type.value, party)
    tokens = _authenticated_tokens(rows, digests, now)
    try:
        if not tokens:
            raise UnknownToken()
        if len(tokens) > 1:
            raise NotEnoughInformation(
                "Several of our parties have a token with this uid and type: "
                "send OCPI-to-country-code and OCPI-to-party-id"
            )
        info = authorization_info(tokens[0], tokens[0].allowed_locations, location, now)
    except OcpiError as exc:
        return _error(exc, routing)
    return ocpi_response(info, headers=routing)
