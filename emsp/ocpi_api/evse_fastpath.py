"""The fast path of the most frequent push, an EVSE status PATCH (`{"status", "last_updated"}` and nothing
else), on PostgreSQL: one auto-committed statement on the node's plain asyncpg pool (`emsp.rawpool`).

The regular path (request session with pool pre-ping, BEGIN, the caller's token, its parties, the EVSE and
Location locked, the write, COMMIT) costs seven round trips and several milliseconds of CPU per request; this
one statement does the same checks and the same write:

- the caller: exactly one live token among the `Authorization` readings, a SERVER token of a CONNECTED
  partner (the rules of `emsp.deps.module_caller`);
- the URL party: one of the caller's CPO parties (its roles, or what its hub reported), and `OCPI-from-*`,
  when given, one of its parties (`emsp.ocpi_api.scoping`);
- the Location and EVSE rows locked together (`FOR UPDATE`, Location first), the EVSE written only when the
  PATCH is not older than it, the Location's `last_updated` moved (never back).

Anything else (no such EVSE, a refused party, an unusual token, another field in the body, SQLite) returns
None before anything is written, and the caller runs the regular path, which gives the right answer.
tests/emsp/ingest/test_locations_receiver.py checks that both paths store the same thing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from emsp.ingest.keys import ci
from emsp.node import Node
from emsp.ocpi_api.fastpath import CALLER_CTES, allowed_sql, routing, token_digests
from emsp.ocpi_api.responses import ocpi_response
from emsp.rawpool import raw_pool
from ocpi.models.locations import EvsePatch
from ocpi.types import format_datetime

log = logging.getLogger("emsp.ocpi_api.evse_fastpath")

FAST_FIELDS = frozenset({"status", "last_updated"})

# Built from this module's constants only (no input reaches the text).
STATUS_PATCH_SQL = f"""
WITH {CALLER_CTES},
allowed AS (SELECT {allowed_sql("$2", "$3", "$8", "$9")} AS ok),
target AS (
    SELECT l.pk AS lpk, e.pk AS epk, e.last_updated AS elu
    FROM locations l JOIN evses e
      ON e.country_code = l.country_code AND e.party_id = l.party_id AND e.location_id = l.location_id
     AND e.uid = $5
    WHERE l.country_code = $2 AND l.party_id = $3 AND l.location_id = $4 AND (SELECT ok FROM allowed)
    FOR UPDATE OF l, e
),
written AS (
    UPDATE evses SET
        status = $6,
        data = (data::jsonb || jsonb_build_object('status', $6::varchar, 'last_updated', $7::varchar))::json,
        last_updated = $10,
        received_at = now()
    WHERE pk = (SELECT epk FROM target) AND (SELECT elu FROM target) <= $10
    RETURNING pk
),
bumped AS (
    UPDATE locations SET
        last_updated = CASE WHEN last_updated < $10 THEN $10 ELSE last_updated END,
        gone_at = NULL,
        received_at = now(),
        partner_id = (SELECT id FROM caller)
    WHERE pk = (SELECT lpk FROM target) AND EXISTS (SELECT 1 FROM written)
    RETURNING pk
)
SELECT (SELECT id FROM caller) AS partner_id,
       (SELECT ok FROM allowed) AS allowed,
       (SELECT epk FROM target) AS evse_pk,
       (SELECT elu FROM target) AS stored_at,
       (SELECT count(*) FROM written) AS written
"""  # noqa: S608


async def try_status_patch(
    node: Node, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str
) -> JSONResponse | None:
    """The answer to an EVSE status PATCH, or None: run the regular path (nothing was written)."""
    if node.engine.dialect.name != "postgresql":
        return None
    try:
        body: Any = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or set(body) != FAST_FIELDS:
        return None
    try:
        patch = EvsePatch.model_validate(body)
    except ValidationError:
        return None
    answer_routing = routing(request, node.settings.parties)
    digests = token_digests(request)
    if answer_routing is None or not digests or patch.status is None or patch.last_updated is None:
        return None
    headers, sender = answer_routing
    pool = await raw_pool(node)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            STATUS_PATCH_SQL,
            digests,
            ci(country_code),
            ci(party_id),
            ci(location_id),
            ci(evse_uid),
            patch.status.value,
            format_datetime(patch.last_updated),
            *(sender or (None, None)),
            patch.last_updated,
        )
    if row is None or row["partner_id"] is None or not row["allowed"] or row["evse_pk"] is None:
        return None
    if row["written"]:
        return ocpi_response(status_message="Updated", headers=headers)
    log.info(
        "ignored EVSE %s/%s/%s/%s: last_updated %s is older than the stored %s",
        country_code,
        party_id,
        location_id,
        evse_uid,
        format_datetime(patch.last_updated),
        format_datetime(row["stored_at"]),
    )
    return ocpi_response(
        status_message="Ignored: older than the stored object (last_updated)", headers=headers
    )
