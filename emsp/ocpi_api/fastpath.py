"""What the PostgreSQL fast paths of the busiest receiver pushes share (`evse_fastpath`, `cdr_fastpath`):
the caller and its parties as SQL to put in front of their one statement, the routing headers of the answer,
and the credentials token digests of a request.

A fast path answers only the plain, valid case; anything else (an unusual token, a refused party, malformed
routing headers) makes it step aside before anything is written, and the regular path gives the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from emsp.ocpi_api.scoping import parse_routing
from emsp.settings import OwnParty
from ocpi import headers as h
from ocpi.auth import candidate_tokens
from ocpi.errors import InvalidParameters
from partners.tokens import hash_token

# The rules of `emsp.deps.module_caller` and `emsp.ingest.parties`: exactly one live token among the
# `Authorization` readings ($1), a SERVER token of a CONNECTED partner; its parties are its roles and what its
# hub reported (not SUSPENDED, not swept).
CALLER_CTES = """
tok AS (
    SELECT t.kind, t.expires_at, p.id, p.status
    FROM partner_tokens t JOIN partners p ON p.id = t.partner_id
    WHERE t.token_hash = ANY($1::varchar[])
),
caller AS (
    SELECT id FROM tok
    WHERE kind = 'SERVER' AND status = 'CONNECTED' AND (expires_at IS NULL OR expires_at > now())
      AND (SELECT count(*) FROM tok) = 1
),
parties AS (
    SELECT upper(country_code) AS cc, upper(party_id) AS pid, role FROM partner_roles
    WHERE partner_id = (SELECT id FROM caller)
    UNION ALL
    SELECT upper(country_code), upper(party_id), role FROM hub_client_infos
    WHERE partner_id = (SELECT id FROM caller) AND gone_at IS NULL AND status <> 'SUSPENDED'
)"""


def allowed_sql(cc: str, pid: str, from_cc: str, from_pid: str) -> str:
    """SQL true when the caller speaks for (cc, pid) as a CPO and, when OCPI-from-* is given, for that
    party (`emsp.ocpi_api.scoping`); the arguments are the SQL parameter names."""
    return (
        f"EXISTS (SELECT 1 FROM parties WHERE cc = {cc} AND pid = {pid} AND role = 'CPO') "  # noqa: S608
        f"AND ({from_cc}::varchar IS NULL OR EXISTS (SELECT 1 FROM parties WHERE cc = {from_cc} "
        f"AND pid = {from_pid}))"
    )


def token_digests(request: Request) -> list[str]:
    return list(dict.fromkeys(hash_token(c) for c in candidate_tokens(request.headers.get(h.AUTHORIZATION))))


Routing = tuple[dict[str, str], tuple[str, str] | None]


def routing(request: Request, ours: Sequence[OwnParty]) -> Routing | None:
    """(the response's routing headers, the OCPI-from party to check), or None when the regular path must
    judge the headers (malformed, or not addressed to one of our parties)."""
    try:
        return parse_routing(request, ours)
    except InvalidParameters:
        return None
