"""The CDR receiver's fast path on PostgreSQL: a new, plain CDR stored, verified and priced with two
auto-committed statements on the node's plain asyncpg pool (`emsp.rawpool`), instead of ~15 round trips
through the request session.

1. `CONTEXT_SQL` reads, in one statement, everything the pipeline would read one by one: the caller and
   whether it speaks for the CDR's party (the rules of `emsp.ocpi_api.fastpath`), the charging site (time
   zone, EVSE), the versions in force of the connector's tariffs, the plan candidates, the VAT rate and the
   exchange rates. The reads are the regular path's own prebuilt statements
   embedded (`emsp.cdrs.sqlembed`), so both paths read the same rows.
2. Verification and pricing run unchanged (`emsp.cdrs.verify`, `emsp.billing.reprice`) on those values
   (`PrefetchedReads`).
3. `WRITE_SQL` inserts the CDR, its verification with its lines, and its MSP CDR in one statement: all or
   nothing. The CDR insert is `ON CONFLICT DO NOTHING` on the CDR key; the rest hangs on its returned id.

`ingest_fast` returns None, having written nothing, whenever the regular path must answer: a Credit CDR, an
unusual token or party, a CDR already stored under the key (the same one again or another body: rare, so
it is found by the insert's conflict rather than by a lookup on every CDR).
tests/emsp/cdrs/test_cdr_fastpath.py checks that both paths store the same rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import Column, Table, bindparam, select
from sqlalchemy.dialects import postgresql

from emsp.billing.plans import CANDIDATES, SiteKey
from emsp.billing.rates import FX, VAT_AT, VatUsed, country_alpha2
from emsp.billing.reprice import MSP, build_msp_cdr, site_key
from emsp.billing.tables import MspCdr
from emsp.cdrs.lookup import VERSION_AT, ChargingSite, site_of
from emsp.cdrs.sqlembed import decode_rows, embed, exact_columns, json_rows
from emsp.cdrs.store import CDRS, StoredCdr, cdr_values
from emsp.cdrs.tables import CdrSource
from emsp.cdrs.verify import LINES, VERIFICATIONS, Verification, verify_cdr
from emsp.ingest.keys import ci
from emsp.ocpi_api.fastpath import CALLER_CTES, allowed_sql
from ocpi.models.cdrs import Cdr

log = logging.getLogger("emsp.cdrs.fastpath")

# Every rate pair's latest row at a moment (`emsp.billing.rates.FX_AT` is the same rule for one pair).
_FX_ALL_AT = (
    select(FX.c.base_currency, FX.c.quote_currency, FX.c.id, FX.c.rate)
    .where(FX.c.valid_from <= bindparam("at"))
    .ext(postgresql.distinct_on(FX.c.base_currency, FX.c.quote_currency))
    .order_by(FX.c.base_currency, FX.c.quote_currency, FX.c.valid_from.desc())
)
_PLAN_NAMES = {"cc": "$10", "pid": "$11", "location": "$12", "evse": "$13", "contract": "$14"}
_VERSION_NAMES = {"cc": "$2", "pid": "$3", "tariff_id": "ct.tid", "at": "$9"}
_WS = "E' \\t\\n\\r\\f\\v'"  # what Python's str.strip() removes, as `ci` does

# $1 token digests; $2/$3 the CDR's party (ingest form); $4/$5 OCPI-from-* or NULL; $6 location id, $7 EVSE
# uid, $8 connector id (ingest form); $9 CDR start; $10/$11 party, $12 location, $13 EVSE, $14 contract id
# (plan-assignment form); $15 VAT country.
CONTEXT_SQL = f"""
WITH {CALLER_CTES},
site AS (
    SELECT l.time_zone, e.data AS evse
    FROM locations l LEFT JOIN evses e
      ON e.country_code = l.country_code AND e.party_id = l.party_id AND e.location_id = l.location_id
     AND e.uid = $7
    WHERE l.country_code = $2 AND l.party_id = $3 AND l.location_id = $6
),
connector_tariffs AS (
    SELECT DISTINCT upper(btrim(t.tid, {_WS})) AS tid
    FROM site
    CROSS JOIN LATERAL json_array_elements(
        CASE WHEN json_typeof(site.evse -> 'connectors') = 'array' THEN site.evse -> 'connectors'
             ELSE '[]'::json END) AS c(connector)
    CROSS JOIN LATERAL json_array_elements_text(
        CASE WHEN json_typeof(c.connector -> 'tariff_ids') = 'array' THEN c.connector -> 'tariff_ids'
             ELSE '[]'::json END) AS t(tid)
    WHERE upper(btrim(c.connector ->> 'id', {_WS})) = $8
)
SELECT
    (SELECT id FROM caller) AS partner_id,
    (SELECT {allowed_sql("$2", "$3", "$4", "$5")}) AS allowed,
    EXISTS (SELECT 1 FROM site) AS site_found,
    (SELECT time_zone FROM site) AS time_zone,
    (SELECT evse::text FROM site) AS evse,
    (SELECT json_agg(json_build_array(ct.tid, v.version, v.data))
       FROM connector_tariffs ct
       CROSS JOIN LATERAL ({embed(VERSION_AT, _VERSION_NAMES)}) AS v)::text AS tariffs,
    {json_rows(CANDIDATES, _PLAN_NAMES, "p")}::text AS plans,
    {json_rows(VAT_AT, {"country": "$15", "at": "$9"}, "vat")}::text AS vat,
    {json_rows(_FX_ALL_AT, {"at": "$9"}, "fx")}::text AS fx
"""  # noqa: S608 (built from this module's constants and prebuilt statements only)

_PLAN_EXACT = exact_columns(CANDIDATES)
_VAT_EXACT = exact_columns(VAT_AT)
_FX_EXACT = exact_columns(_FX_ALL_AT)


# --- the write ------------------------------------------------------------------------------------------


def _pg_type(column: Column[Any]) -> str:
    """The column's type for a parameter cast; VARCHAR without its length, so that a value too long fails
    on the column as in the regular path instead of being cut by the cast."""
    name = str(column.type.compile(dialect=postgresql.dialect()))
    return "VARCHAR" if name.startswith("VARCHAR(") else name


def _columns(table: Table, *skip: str) -> list[Column[Any]]:
    return [c for c in table.columns if c.name not in ("id", *skip)]


class _Params:
    """Positional parameters in the order the statement text names them."""

    def __init__(self) -> None:
        self.slots: list[tuple[str, str]] = []  # (part, column)

    def add(self, part: str, column: Column[Any], *, array: bool = False) -> str:
        self.slots.append((part, column.name))
        return f"${len(self.slots)}::{_pg_type(column)}{'[]' if array else ''}"


def _write_sql() -> tuple[str, list[tuple[str, str]]]:
    p = _Params()
    cdr_cols = _columns(CDRS)
    ver_cols = _columns(VERIFICATIONS, "cpo_cdr_id")
    line_cols = _columns(LINES, "verification_id")
    msp_cols = _columns(MSP, "cpo_cdr_id")

    def names(cols: list[Column[Any]]) -> str:
        return ", ".join(c.name for c in cols)

    cdr_values_sql = ", ".join(p.add("cdr", c) for c in cdr_cols)
    ver_values_sql = ", ".join(p.add("verification", c) for c in ver_cols)
    line_arrays_sql = ", ".join(p.add("lines", c, array=True) for c in line_cols)
    msp_values_sql = ", ".join(p.add("msp", c) for c in msp_cols)
    sql = f"""
WITH c AS (
    INSERT INTO cdrs ({names(cdr_cols)}) VALUES ({cdr_values_sql})
    ON CONFLICT (country_code, party_id, cdr_id_norm) DO NOTHING
    RETURNING id
),
v AS (
    INSERT INTO cdr_verifications (cpo_cdr_id, {names(ver_cols)})
    SELECT c.id, {ver_values_sql} FROM c
    RETURNING id
),
l AS (
    INSERT INTO cdr_verification_lines (verification_id, {names(line_cols)})
    SELECT v.id, u.* FROM v CROSS JOIN unnest({line_arrays_sql}) AS u
),
m AS (
    INSERT INTO msp_cdrs (cpo_cdr_id, {names(msp_cols)})
    SELECT c.id, {msp_values_sql} FROM c
    RETURNING id
)
SELECT (SELECT id FROM c) AS cdr_id, (SELECT id FROM m) AS msp_id
"""  # noqa: S608 (column names from the table metadata; values are parameters)
    return sql, p.slots


WRITE_SQL, _WRITE_SLOTS = _write_sql()


def _write_args(cdr_row: dict[str, Any], verification: Verification, msp: dict[str, Any]) -> list[Any]:
    parts: dict[str, Any] = {"cdr": cdr_row, "verification": verification.row, "msp": msp}
    args: list[Any] = []
    for part, name in _WRITE_SLOTS:
        if part == "lines":
            args.append([line[name] for line in verification.lines])
        else:
            args.append(parts[part][name])
    return args


# --- the reads, prefetched ------------------------------------------------------------------------------


class PrefetchedReads:
    """`emsp.cdrs.reads.PricingReads` answered from `CONTEXT_SQL`'s values; it knows one CDR's context only
    and refuses any other question (a guard against the two paths drifting apart)."""

    def __init__(
        self, at: datetime, party: tuple[str, str], site: SiteKey, vat_country: str | None, row: Any
    ):
        self.at, self.party, self.site, self.vat_country = at, party, site, vat_country
        self.tariffs = {
            tid: (int(version), data) for tid, version, data in json.loads(row["tariffs"] or "[]")
        }
        self.plans = decode_rows(row["plans"], _PLAN_EXACT)
        vat = decode_rows(row["vat"], _VAT_EXACT)
        self.vat_used = VatUsed(vat[0][0], vat[0][1]) if vat else None
        self.fx = {(b, q): (i, rate) for b, q, i, rate in decode_rows(row["fx"], _FX_EXACT)}

    def _same(self, what: str, asked: Any, known: Any) -> None:
        if asked != known:
            raise LookupError(f"prefetched {what} is {known!r}, asked for {asked!r}")

    async def tariff_version(
        self, country_code: str, party_id: str, tariff_id: str, at: datetime
    ) -> tuple[int, dict[str, Any]] | None:
        self._same("party", (ci(country_code), ci(party_id)), self.party)
        self._same("moment", at, self.at)
        return self.tariffs.get(ci(tariff_id))

    async def plan_rows(self, site: SiteKey) -> list[list[Any]]:
        self._same("site", site, self.site)
        return self.plans

    async def vat(self, country: str, at: datetime) -> VatUsed | None:
        self._same("VAT country", (country, at), (self.vat_country, self.at))
        return self.vat_used

    async def fx_latest(self, base: str, quote: str, at: datetime) -> tuple[int, Decimal] | None:
        self._same("moment", at, self.at)
        return self.fx.get((base, quote))

    async def current_msp_cdr(self, cpo_cdr_id: int) -> MspCdr | None:
        raise LookupError("Credit CDRs take the regular path")


# --- the path -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastOutcome:
    """The CDR was new and is stored, verified and priced."""

    cdr_id: int


def _context_args(
    cdr: Cdr, digests: list[str], sender: tuple[str, str] | None, row: dict[str, Any]
) -> list[Any]:
    loc = cdr.cdr_location
    return [
        digests,
        ci(cdr.country_code),
        ci(cdr.party_id),
        *(sender or (None, None)),
        ci(loc.id),
        ci(loc.evse_uid),
        ci(loc.connector_id),
        cdr.start_date_time,
        row["country_code"],
        row["party_id"],
        row["location_id_norm"],
        row["evse_uid_norm"],
        row["contract_id_norm"],
        country_alpha2(row["location_country"]),
    ]


async def ingest_fast(
    conn: asyncpg.Connection,
    cdr: Cdr,
    raw_json: str,
    digests: list[str],
    sender: tuple[str, str] | None,
    *,
    tolerance: Decimal,
    std_currency: str,
) -> FastOutcome | None:
    """Store, verify and price a new plain CDR (see the module docstring); None: nothing written, run the
    regular path."""
    if cdr.credit:
        return None
    values = cdr_values(cdr, raw_json, partner_id=None, source=CdrSource.PUSH)
    values["credited_cdr_id"] = values["flag"] = None
    args = _context_args(cdr, digests, sender, values)
    context = await conn.fetchrow(CONTEXT_SQL, *args)
    if context is None or context["partner_id"] is None or not context["allowed"]:
        return None
    values["partner_id"] = context["partner_id"]
    stored = StoredCdr(id=0, **values)  # the id is the insert's; nothing priced depends on it
    party, vat_country = (ci(cdr.country_code), ci(cdr.party_id)), country_alpha2(stored.location_country)
    reads = PrefetchedReads(cdr.start_date_time, party, site_key(stored), vat_country, context)
    site: ChargingSite | None = None
    if context["site_found"]:
        evse = json.loads(context["evse"]) if context["evse"] is not None else None
        site = site_of(context["time_zone"], evse, cdr.cdr_location.connector_id)
    verification = await verify_cdr(reads, stored, cdr, site, tolerance)
    msp = await build_msp_cdr(reads, stored, cdr, site, std_currency=std_currency)
    written = await conn.fetchrow(WRITE_SQL, *_write_args(values, verification, msp))
    if written is None or written["cdr_id"] is None:
        return None  # already stored (a retry, a concurrent request, another body): the regular path answers
    return FastOutcome(int(written["cdr_id"]))
