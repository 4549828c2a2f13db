"""Where one CDR's ingest costs go, step by step, with no HTTP and no concurrency: the fast path's steps
(`emsp/cdrs/fastpath.py`) run one CDR at a time on one asyncpg connection, with the Python CPU time of each
step and PostgreSQL's CPU time of the two statements. It explains `bench_cdr_ingest.py`'s figures (what
the node does beyond the store-only baseline); run that first, it leaves the database configured.

    .venv/bin/python bench/bench_cdr_ingest.py --cdrs 2000 --no-results
    .venv/bin/python bench/cdr_ingest_breakdown.py

The CDRs it writes (ids `BREAKDOWN-...`) are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cdr_ingest import DEFAULT_DB, cdr_body
from tokens_common import check_database_url, postgres_cpu_seconds

from emsp.billing.rates import country_alpha2
from emsp.billing.reprice import build_msp_cdr, site_key
from emsp.cdrs import fastpath
from emsp.cdrs.lookup import site_of
from emsp.cdrs.store import StoredCdr, cdr_values
from emsp.cdrs.tables import CdrSource
from emsp.cdrs.verify import verify_cdr
from emsp.ingest.keys import ci
from emsp.ocpi_api.cdrs import parse_cdr

PREFIX = "BREAKDOWN"


async def remove(conn: asyncpg.Connection) -> None:
    mine = f"SELECT id FROM cdrs WHERE cdr_id LIKE '{PREFIX}%'"
    await conn.execute(f"DELETE FROM msp_cdrs WHERE cpo_cdr_id IN ({mine})")
    await conn.execute(
        "DELETE FROM cdr_verification_lines WHERE verification_id IN "
        f"(SELECT id FROM cdr_verifications WHERE cpo_cdr_id IN ({mine}))"
    )
    await conn.execute(f"DELETE FROM cdr_verifications WHERE cpo_cdr_id IN ({mine})")
    await conn.execute(f"DELETE FROM cdrs WHERE cdr_id LIKE '{PREFIX}%'")


async def measure(url: str, count: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    took: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        took[name] = took.get(name, 0.0) + time.process_time() - started

    try:
        digest = await conn.fetchval(
            "SELECT t.token_hash FROM partner_tokens t JOIN partners p ON p.id = t.partner_id "
            "WHERE p.name = 'bench-cpo'"
        )
        if digest is None:
            raise SystemExit("no bench partner: run bench/bench_cdr_ingest.py first")
        await remove(conn)
        bodies = [cdr_body(i, PREFIX) for i in range(count)]
        pg_context = pg_write = 0.0
        for body in bodies:
            t = time.process_time()
            cdr, text = parse_cdr(body)
            step("parse the CDR (as the baseline does)", t)
            t = time.process_time()
            values = cdr_values(cdr, text, partner_id=None, source=CdrSource.PUSH)
            values["credited_cdr_id"] = values["flag"] = None
            args = fastpath._context_args(cdr, [digest], None, values)
            step("the cdrs row's values", t)
            pg0 = postgres_cpu_seconds()  # (reading /proc costs: outside the timed steps)
            t = time.process_time()
            context = await conn.fetchrow(fastpath.CONTEXT_SQL, *args)
            step("context statement (client side)", t)
            pg_context += postgres_cpu_seconds() - pg0
            t = time.process_time()
            values["partner_id"] = context["partner_id"]
            stored = StoredCdr(id=0, **values)
            party = (ci(cdr.country_code), ci(cdr.party_id))
            vat_country = country_alpha2(stored.location_country)
            reads = fastpath.PrefetchedReads(
                cdr.start_date_time, party, site_key(stored), vat_country, context
            )
            evse = json.loads(context["evse"])
            site = site_of(context["time_zone"], evse, cdr.cdr_location.connector_id)
            step("decode the context", t)
            t = time.process_time()
            verification = await verify_cdr(reads, stored, cdr, site, Decimal("0.01"))
            step("verify against the CPO's tariff", t)
            t = time.process_time()
            msp = await build_msp_cdr(reads, stored, cdr, site, std_currency="EUR")
            step("price the MSP CDR", t)
            pg0 = postgres_cpu_seconds()
            t = time.process_time()
            write_args = fastpath._write_args(values, verification, msp)
            written = await conn.fetchrow(fastpath.WRITE_SQL, *write_args)
            step("write statement (client side)", t)
            pg_write += postgres_cpu_seconds() - pg0
            assert written is not None and written["cdr_id"] is not None
        result = {name: 1000 * seconds / count for name, seconds in took.items()}
        result["PostgreSQL: context statement"] = 1000 * pg_context / count
        result["PostgreSQL: write statement"] = 1000 * pg_write / count
        return result
    finally:
        await remove(conn)
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--cdrs", type=int, default=2000)
    args = parser.parse_args()
    figures = asyncio.run(measure(check_database_url(args.database_url), args.cdrs))
    python = sum(v for k, v in figures.items() if not k.startswith("PostgreSQL"))
    for name, ms in figures.items():
        print(f"{name:45s} {ms:6.3f} ms")
    print(f"{'Python, all steps':45s} {python:6.3f} ms  (no HTTP, one CDR at a time)")


if __name__ == "__main__":
    main()
