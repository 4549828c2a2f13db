"""CDR ingest throughput: `POST /ocpi/2.2.1/cdrs` against the node under uvicorn (its own process) on
PostgreSQL, each CDR stored, verified against the CPO's tariff (Location and Tariff stored by ingest) and
priced for the driver (markup plan, VAT, exchange rate) in the request; then, in the same run, two
baselines served by a minimal FastAPI app (also its own uvicorn process) that parse the CDR with the `ocpi`
model and store it with one auto-committed statement on a plain asyncpg pool: "store-only" stores it as the
node does (credentials and party checked, the `cdrs` row) with no verification or pricing; the "floor"
inserts the raw JSON into a one-index table. Target: ingest with repricing >= 70 % of the store-only rate.
The server's and PostgreSQL's CPU time per CDR are printed beside the rates (they do not depend on load).

    .venv/bin/python bench/bench_cdr_ingest.py                      # 5,000 CDRs each, concurrency 32
    .venv/bin/python bench/bench_cdr_ingest.py --cdrs 2000 --concurrency 32
    BENCH_NODE_PROFILE=/tmp/node.prof .venv/bin/python bench/bench_cdr_ingest.py --skip-baseline --no-results

The database (default `bench_cdrs`, created if missing; never `test`) has its CDR tables emptied first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tokens_common import (
    ADMIN_SECRET,
    ROOT,
    HttpConnection,
    check_database_url,
    ensure_database,
    free_port,
    latency_summary,
    load_average,
    machine,
    make_partner,
    migrate,
    node_process,
    plain_pg_url,
    postgres_cpu_seconds,
    process_cpu_seconds,
    write_results,
)

from ocpi.envelope import envelope
from ocpi.models.cdrs import Cdr

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_cdrs"
BASELINE_TABLE = "bench_raw_cdrs"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--cdrs", type=int, default=5_000, help="measured CDRs per target")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (both targets)")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--skip-baseline", action="store_true", help="measure the node only")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- the data -------------------------------------------------------------------------------------------


def cdr_body(i: int, prefix: str) -> bytes:
    """A realistic CDR (two charging periods, tariffs by reference) at BE/BEC LOC1, billed correctly."""
    day = 1 + i % 28
    start = f"2024-03-{day:02d}T09:00:00Z"
    body = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": f"{prefix}-{i:08d}",
        "start_date_time": start,
        "end_date_time": f"2024-03-{day:02d}T11:00:00Z",
        "session_id": f"S-{prefix}-{i:08d}",
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": f"{i % 5000:010X}",
            "type": "RFID",
            "contract_id": f"NL-EMS-C{i % 5000:08d}-X",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "name": "Gent Zuid",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "postal_code": "9000",
            "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503001",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": start,
                "dimensions": [{"type": "ENERGY", "volume": 12}, {"type": "TIME", "volume": 1}],
                "tariff_id": "T1",
            },
            {
                "start_date_time": f"2024-03-{day:02d}T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 8}, {"type": "TIME", "volume": 1}],
                "tariff_id": "T1",
            },
        ],
        "total_cost": {"excl_vat": 7.00, "incl_vat": 8.47},
        "total_fixed_cost": {"excl_vat": 1.00, "incl_vat": 1.21},
        "total_energy": 20,
        "total_energy_cost": {"excl_vat": 6.00, "incl_vat": 7.26},
        "total_time": 2,
        "last_updated": f"2024-03-{day:02d}T11:05:00Z",
    }
    return json.dumps(body).encode()


LOCATION = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "LOC1",
    "publish": True,
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "time_zone": "Europe/Brussels",
    "evses": [
        {
            "uid": "3256",
            "status": "AVAILABLE",
            "last_updated": "2024-01-01T00:00:00Z",
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 230,
                    "max_amperage": 16,
                    "tariff_ids": ["T1"],
                    "last_updated": "2024-01-01T00:00:00Z",
                }
            ],
        }
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}
TARIFF = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "T1",
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 1.00, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
            ]
        }
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}


async def prepare_node_data(url: str) -> str:
    """Empty the CDR and billing tables; a CPO partner BE/BEC; returns its token."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "TRUNCATE msp_cdrs, cdr_verification_lines, cdr_verifications, cdrs, msp_plan_assignments, "
            "msp_tariff_plans, msp_contracts, msp_location_group_members, vat_rates, fx_rates "
            "RESTART IDENTITY"
        )
    finally:
        await conn.close()
    token = await make_partner(url)
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT id FROM partners WHERE name = 'bench-cpo'")
        await conn.execute(
            "INSERT INTO partner_roles (partner_id, role, country_code, party_id) "
            "VALUES ($1, 'CPO', 'BE', 'BEC')",
            pid,
        )
    finally:
        await conn.close()
    return token


async def configure_node(port: int, token: str) -> None:
    """Through the node's own APIs: the CPO's Location and Tariff, our plan, its assignment, VAT."""
    auth = {
        "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
        "Content-Type": "application/json",
    }
    admin = {"Authorization": f"Bearer {ADMIN_SECRET}", "Content-Type": "application/json"}
    calls = [
        ("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", auth, LOCATION),
        ("PUT", "/ocpi/2.2.1/tariffs/BE/BEC/T1", auth, TARIFF),
        (
            "PUT",
            "/admin/v1/msp-plans/std",
            admin,
            {
                "name": "Standard",
                "kind": "MARKUP",
                "markup_percent": "10",
                "markup_fixed": "0.50",
                "currency": "EUR",
            },
        ),
        ("POST", "/admin/v1/msp-plan-assignments", admin, {"plan": "std", "scope": "DEFAULT"}),
        ("PUT", "/admin/v1/vat-rates/BE", admin, {"rate_percent": "21"}),
    ]
    conn = HttpConnection("127.0.0.1", port)
    try:
        for method, path, headers, body in calls:
            status, _, data = await conn.request(method, path, headers, json.dumps(body).encode())
            if status not in (200, 201):
                raise SystemExit(f"{method} {path}: HTTP {status} {data[:300]!r}")
    finally:
        await conn.close()


# --- the baseline app -----------------------------------------------------------------------------------


STORE_ONLY_PATH = "/store-only/cdrs"
RAW_PATH = "/raw/cdrs"


def _store_only_sql() -> str:
    """The node's own storage of a received CDR, with no verification and no pricing: the caller's
    credentials and party checked and the `cdrs` row inserted, in one auto-committed statement."""
    from emsp.cdrs.fastpath import _columns, _pg_type
    from emsp.cdrs.store import CDRS
    from emsp.ocpi_api.fastpath import CALLER_CTES, allowed_sql

    columns = [c for c in _columns(CDRS) if c.name != "partner_id"]
    values = ", ".join(f"${i + 4}::{_pg_type(c)}" for i, c in enumerate(columns))
    return f"""
WITH {CALLER_CTES}
INSERT INTO cdrs (partner_id, {", ".join(c.name for c in columns)})
SELECT (SELECT id FROM caller), {values}
WHERE (SELECT id FROM caller) IS NOT NULL AND {allowed_sql("$2", "$3", "NULL", "NULL")}
ON CONFLICT (country_code, party_id, cdr_id_norm) DO NOTHING
RETURNING id
"""


def baseline_app(url: str) -> Any:
    """Two baselines that parse the CDR with the `ocpi` model and store it, with no verification and no
    pricing, each with one auto-committed statement on a plain asyncpg pool (as the node's fast path):

    - `STORE_ONLY_PATH`: as the node stores a CDR (credentials token and party checked, the `cdrs` row
      with its columns and indexes): what the node does minus verification and pricing;
    - `RAW_PATH`: the raw JSON into a one-index table, nothing checked: the floor."""
    from emsp.cdrs.store import cdr_values
    from emsp.cdrs.tables import CdrSource
    from emsp.ocpi_api.fastpath import token_digests

    app = FastAPI()
    pools: list[asyncpg.Pool] = []
    raw_insert = (
        f"INSERT INTO {BASELINE_TABLE} (country_code, party_id, cdr_id, raw_json) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id"
    )
    store_only = _store_only_sql()

    async def pool() -> asyncpg.Pool:
        if not pools:
            pools.append(await asyncpg.create_pool(url, min_size=1, max_size=10))
        return pools[0]

    def created(new_id: Any) -> JSONResponse:
        return JSONResponse(
            envelope(status_code=1000, status_message="CDR stored"),
            status_code=201,
            headers={"Location": f"http://127.0.0.1/ocpi/2.2.1/cdrs/{new_id}"},
        )

    def invalid() -> JSONResponse:
        return JSONResponse(envelope(status_code=2001, status_message="invalid"), status_code=400)

    @app.post(RAW_PATH)
    async def post_raw(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            cdr = Cdr.model_validate_json(body)
        except ValidationError:
            return invalid()
        return created(await (await pool()).fetchval(raw_insert, cdr.country_code, cdr.party_id, cdr.id,
                                                     body.decode()))  # fmt: skip

    @app.post(STORE_ONLY_PATH)
    async def post_store_only(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            cdr = Cdr.model_validate_json(body)
        except ValidationError:
            return invalid()
        values = cdr_values(cdr, body.decode(), partner_id=None, source=CdrSource.PUSH)
        values["credited_cdr_id"] = values["flag"] = None
        del values["partner_id"]
        args = [token_digests(request), values["country_code"], values["party_id"], *values.values()]
        return created(await (await pool()).fetchval(store_only, *args))

    return app


async def prepare_baseline_table(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, "
            "country_code varchar(2), "
            "party_id varchar(3), cdr_id varchar(39), raw_json text, UNIQUE (country_code, party_id, cdr_id))"
        )
        await conn.execute(f"TRUNCATE {BASELINE_TABLE} RESTART IDENTITY")
    finally:
        await conn.close()


@contextlib.contextmanager
def baseline_process(url: str, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {"BENCH_DATABASE_URL": url, "BENCH_WORKERS": str(workers)}
    proc = subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(port)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the baseline did not start")
            time.sleep(0.1)
        time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_baseline(port: int) -> None:
    import uvicorn

    url = os.environ["BENCH_DATABASE_URL"]
    app = baseline_app(plain_pg_url(url))
    gc.collect()  # the node's garbage-collector policy (emsp/gc_policy.py), so both run alike
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the load -------------------------------------------------------------------------------------------


async def post_all(
    port: int, token: str, bodies: list[bytes], concurrency: int, path: str = "/ocpi/2.2.1/cdrs"
) -> tuple[list[float], float, Counter[str]]:
    headers = {
        "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
        "Content-Type": "application/json",
    }
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    cursor = iter(range(len(bodies)))

    async def worker() -> None:
        conn = HttpConnection("127.0.0.1", port)
        try:
            for i in cursor:
                started = time.perf_counter()
                status, found, data = await conn.request("POST", path, headers, bodies[i])
                latencies.append(time.perf_counter() - started)
                code = json.loads(data).get("status_code")
                outcomes[f"HTTP {status} / {code}" + ("" if "location" in found else " (no Location)")] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, outcomes


async def priced_summary(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM msp_cdrs GROUP BY status")
        checks = await conn.fetch("SELECT status, count(*) AS n FROM cdr_verifications GROUP BY status")
        return {
            "msp_cdrs": {r["status"]: r["n"] for r in rows},
            "verifications": {r["status"]: r["n"] for r in checks},
        }
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = check_database_url(args.database_url)
    asyncio.run(ensure_database(url))
    migrate(url)
    token = asyncio.run(prepare_node_data(url))
    asyncio.run(prepare_baseline_table(url))
    total = args.warmup + args.cdrs
    results: dict[str, Any] = {}

    port = free_port()
    with node_process(url, port, args.workers) as proc:
        asyncio.run(configure_node(port, token))
        bodies = [cdr_body(i, "N") for i in range(total)]
        results["node"] = measure(proc.pid, port, token, bodies, args)
    results["node"]["priced"] = asyncio.run(priced_summary(url))
    if args.skip_baseline:
        return results

    port = free_port()
    with baseline_process(url, port, args.workers) as proc:
        for name, path, prefix in (("store_only", STORE_ONLY_PATH, "S"), ("raw", RAW_PATH, "R")):
            bodies = [cdr_body(i, prefix) for i in range(total)]
            results[name] = measure(proc.pid, port, token, bodies, args, path)
    for name in ("store_only", "raw"):
        results[f"ratio_{name}"] = round(results["node"]["req_per_s"] / results[name]["req_per_s"], 3)
    return results


def measure(
    pid: int,
    port: int,
    token: str,
    bodies: list[bytes],
    args: argparse.Namespace,
    path: str = "/ocpi/2.2.1/cdrs",
) -> dict[str, Any]:
    """Warm up, then post the measured CDRs; with the CPU time the server process and PostgreSQL spent per
    CDR (figures that do not depend on what else the host runs, unlike the rate)."""
    asyncio.run(post_all(port, token, bodies[: args.warmup], args.concurrency, path))
    server_before, pg_before = process_cpu_seconds(pid), postgres_cpu_seconds()
    lat, elapsed, outcomes = asyncio.run(post_all(port, token, bodies[args.warmup :], args.concurrency, path))
    count = len(bodies) - args.warmup
    return {
        **latency_summary(lat, elapsed),
        "outcomes": dict(outcomes),
        "server_cpu_ms": round((process_cpu_seconds(pid) - server_before) * 1000 / count, 2),
        "pg_cpu_ms": round((postgres_cpu_seconds() - pg_before) * 1000 / count, 2),
        "load_average": load_average(),
    }


WHERE_THE_TIME_GOES = """\
Where the CPU goes (server + PostgreSQL per CDR, the CPU columns above). The node's fast path
(`emsp/cdrs/fastpath.py`) does what the store-only baseline does (credentials and party check, the `cdrs`
row) plus: reading the pricing context (site, tariff version in force, plan candidates, VAT, FX) in the
same first statement, verifying against the CPO's tariff and pricing the MSP CDR in Python, and writing
the verification, its 7 lines and the MSP CDR (9 more rows, 9 more index entries) in the same second
statement. `bench/cdr_ingest_breakdown.py` times each step one CDR at a time (per CDR, load average
below 1; the same steps read up to ~50 % higher while other work runs):
Python: parse 0.08 ms, the cdrs row's values 0.11, the context statement 0.11, decoding it 0.06, the
verification 0.14, the MSP pricing 0.10, the write statement 0.19 (asyncpg encoding ~80 parameters);
PostgreSQL: the context statement 0.18 ms, the write 0.40 ms (of which the 7 verification lines 0.10).
So the node does ~1.1 ms of CPU per CDR beyond the baseline's ~0.9 ms, on 2 cores that it shares with
PostgreSQL and the load generator: that extra work, not waiting, is what keeps the ratio near 50 %.
Reaching 70 % would need the node's total near 1.5 ms per CDR, at most ~0.6 ms beyond the baseline:
about half of what verification and pricing add today. Pricing later in batches (after the answer)
would still cost an estimated ~0.7 ms per CDR (parsing again, two tariff walks, the writes): ~65 %.
Tried and measured, no gain worth it: the 7 lines as one JSON value instead of 7 arrays (same client and
PostgreSQL CPU); committing 16 CDRs' writes per transaction (group commit) saves ~0.1 ms of PostgreSQL
CPU per CDR, ~5 % of the total, for added latency and coupling between requests.
The first version of this path (ORM session, ~15 round trips) used 6.2 ms of server CPU and 3.8 ms
of PostgreSQL CPU per CDR."""


def row(name: str, r: dict[str, Any]) -> str:
    return (
        f"| {name} | {r['req_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
        f"| {r['server_cpu_ms']} ms | {r['pg_cpu_ms']} ms | {r['load_average']} |"
    )


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    node, store_only, raw = results["node"], results["store_only"], results["raw"]
    lines = [
        f"Machine: {machine()}; PostgreSQL on the same host; load generator (keep-alive HTTP/1.1, "
        f"concurrency {args.concurrency}) on the same host; each target under uvicorn in its own process "
        f"({args.workers} worker). {args.cdrs:,} measured CDRs per target after {args.warmup} warm-up. "
        "CPU columns: CPU time of the server process and of PostgreSQL per CDR (independent of other load).",
        "",
        "| Target | CDRs/s | p50 ms | p99 ms | max ms | server CPU / CDR | PostgreSQL CPU / CDR "
        "| load average |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        row("node: store + verify + price (MSP CDR)", node),
        row("baseline: parse + store as the node does, no pricing", store_only),
        row("floor: parse + insert raw JSON, nothing checked", raw),
        "",
        f"Node / store-only baseline: **{results['ratio_store_only']:.0%}** (target >= 70 %); "
        f"node / floor: {results['ratio_raw']:.0%}. Node answers: {node['outcomes']}; "
        f"MSP CDRs {node['priced']['msp_cdrs']}, verifications {node['priced']['verifications']}.",
        "",
        "```",
        f".venv/bin/python bench/bench_cdr_ingest.py --cdrs {args.cdrs} --concurrency {args.concurrency}",
        "```",
        "",
        WHERE_THE_TIME_GOES,
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    results = run(args)
    print(json.dumps(results, indent=2))
    if args.skip_baseline:
        return
    text = report(args, results)
    print(text)
    if not args.no_results:
        write_results("CDR ingest with verification and MSP repricing", text)


if __name__ == "__main__":
    main()
