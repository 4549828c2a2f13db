"""What the PostgreSQL fast paths of the busiest receiver pushes share (`evse_fastpath`, `cdr_fastpath`):
the caller and its parties as SQL to put in front of their one statement, the routing headers of the answer,
and the credentials token digests of a request.

A fast path answers only the plain, valid case; anything else (an unusual token, a refused party, malformed
routing headers) makes it step aside before anything is written, and the regular path gives the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from emsp.ingest.keys import ci
from emsp.settings import OwnParty
from ocpi import headers as h
from ocpi.auth import candidate_tokens
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


class _Malformed(Exception):
    pass


def _pair(request: Request, cc_name: str, pid_name: str) -> tuple[str, str] | None:
    """A routing header pair: (cc, pid), or None when absent; `_Malformed` when given halfway or too long."""
    cc = (request.headers.get(cc_name) or "").strip()
    pid = (request.headers.get(pid_name) or "").strip()
    if not cc and not pid:
        return None
    if not cc or not pid or len(cc) > 2 or len(pid) > 3 or not (cc + pid).isascii():
        raise _Malformed
    return ci(cc), ci(pid)


Routing = tuple[dict[str, str], tuple[str, str] | None]


def routing(request: Request, ours: Sequence[OwnParty]) -> Routing | None:
    """(the response's routing headers, the OCPI-from party to check), or None when the regular path must
    judge the headers (malformed, or not addressed to one of our parties)."""
    try:
        sender = _pair(request, h.FROM_COUNTRY_CODE, h.FROM_PARTY_ID)
        receiver = _pair(request, h.TO_COUNTRY_CODE, h.TO_PARTY_ID)
    except _Malformed:
        return None
    our_parties = [(ci(p.country_code), ci(p.party_id)) for p in ours]
    if receiver is not None and receiver not in our_parties:
        return None
    answer: dict[str, str] = {}
    if sender is None and receiver is None:
        return answer, None
    if sender is not None:
        answer[h.TO_COUNTRY_CODE], answer[h.TO_PARTY_ID] = sender
    me = receiver or (our_parties[0] if our_parties else None)
    if me is not None:
        answer[h.FROM_COUNTRY_CODE], answer[h.FROM_PARTY_ID] = me
    return answer, sender
