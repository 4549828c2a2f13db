"""Real-time authorization throughput: `POST /ocpi/2.2.1/tokens/{uid}/authorize` against the node under
uvicorn (its own process) with N tokens stored, mixed known and unknown uids, from a loopback load
generator at a fixed concurrency; then, in the same run, the ceiling: the same lookup as one raw SQL query
per request (asyncpg, same concurrency; on SQLite: aiosqlite, one connection per concurrent client).
Target: >= 1,000 req/s with p99 < 50 ms.

    .venv/bin/python bench/bench_authorize.py                       # 500,000 tokens, local PostgreSQL
    .venv/bin/python bench/bench_authorize.py --tokens 20000 --requests 5000
    .venv/bin/python bench/bench_authorize.py --database-url sqlite:///var/bench_tokens.db

The database (default `bench_tokens`, created if missing; never `test`; or a SQLite scratch file, WAL) is
reloaded only when its token count differs from --tokens. SQLite runs write their own RESULTS.md section.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import aiosqlite
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tokens_common import (
    DEFAULT_DB,
    HttpConnection,
    check_database_url,
    free_port,
    is_sqlite,
    latency_summary,
    load_average,
    machine,
    make_partner,
    node_process,
    prepare_tokens,
    process_cpu_seconds,
    sqlite_path,
    uid_of,
    write_results,
)

LOOKUP_SQL = (
    "SELECT id, country_code, party_id, uid, type, contract_id, visual_number, issuer, group_id, whitelist, "
    "language, default_profile_type, energy_contract_supplier_name, energy_contract_id, valid_from, "
    "valid_until, status, last_updated, allowed_locations "
    "FROM tokens WHERE uid_norm = $1 AND type = $2 LIMIT 3"
)
SQLITE_LOOKUP_SQL = LOOKUP_SQL.replace("$1", "?").replace("$2", "?")


PG_NOTE = """For comparison, the first version (the request
session, `ModuleCaller` and an ORM lookup: 5 round trips) used ~5 ms of node CPU per authorization."""
SQLITE_NOTE = """On SQLite the node runs the same one query as one fixed SQL string
on a few long-lived read-only aiosqlite connections (`emsp/sqlite_readers.py`); through the SQLAlchemy
session it was 459 req/s, p99 72 ms, 2.2 ms of node CPU per request."""
CEILING_SQLITE = "one raw aiosqlite query ({n} connections)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--tokens", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=30_000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--known-ratio", type=float, default=0.8, help="share of uids that exist")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    return parser.parse_args()


def pick_uids(tokens: int, count: int, known_ratio: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        uid_of(rng.randrange(tokens)) if rng.random() < known_ratio else uid_of(tokens + rng.randrange(10**9))
        for _ in range(count)
    ]


async def http_load(
    port: int, token: str, uids: list[str], concurrency: int
) -> tuple[list[float], float, Counter[str]]:
    headers = {
        "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
        "Content-Type": "application/json",
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "CPO",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }
    body = json.dumps({"location_id": "LOC-1", "evse_uids": ["EVSE-1"]}).encode()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    cursor = iter(range(len(uids)))

    async def worker() -> None:
        conn = HttpConnection("127.0.0.1", port)
        try:
            for i in cursor:
                started = time.perf_counter()
                status, _headers, data = await conn.request(
                    "POST", f"/ocpi/2.2.1/tokens/{uids[i]}/authorize", headers, body
                )
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    outcomes[json.loads(data)["data"]["allowed"]] += 1
                else:
                    outcomes[f"HTTP {status} / {json.loads(data)['status_code']}"] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, outcomes


async def sql_ceiling(url: str, uids: list[str], concurrency: int) -> tuple[list[float], float, Counter[str]]:
    if is_sqlite(url):
        return await sqlite_ceiling(url, uids, concurrency)
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    cursor = iter(range(len(uids)))

    async def worker() -> None:
        async with pool.acquire() as conn:
            statement = await conn.prepare(LOOKUP_SQL)
            for i in cursor:
                started = time.perf_counter()
                rows = await statement.fetch(uids[i].lower(), "RFID")
                latencies.append(time.perf_counter() - started)
                outcomes["found" if rows else "unknown"] += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, outcomes
    finally:
        await pool.close()


async def sqlite_ceiling(
    url: str, uids: list[str], concurrency: int
) -> tuple[list[float], float, Counter[str]]:
    """The same lookup on SQLite: one aiosqlite connection (its own thread, sqlite3's statement cache) per
    concurrent client, one query per request, no transaction around it (as the node reads it)."""
    conns = [await aiosqlite.connect(sqlite_path(url), timeout=30) for _ in range(concurrency)]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    cursor = iter(range(len(uids)))

    async def worker(conn: aiosqlite.Connection) -> None:
        for i in cursor:
            started = time.perf_counter()
            rows = await conn.execute_fetchall(SQLITE_LOOKUP_SQL, (uids[i].lower(), "RFID"))
            latencies.append(time.perf_counter() - started)
            outcomes["found" if rows else "unknown"] += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(conn) for conn in conns))
        return latencies, time.perf_counter() - started, outcomes
    finally:
        for conn in conns:
            await conn.close()


async def prepare(url: str, tokens: int) -> tuple[str, str]:
    load = await prepare_tokens(url, tokens)
    return await make_partner(url), load


def main() -> None:
    args = parse_args()
    url = check_database_url(args.database_url, sqlite=True)
    sqlite = is_sqlite(url)
    token, load = asyncio.run(prepare(url, args.tokens))
    print(f"{args.tokens:,} tokens ({load})")
    warm = pick_uids(args.tokens, args.warmup, args.known_ratio, seed=1)
    measured = pick_uids(args.tokens, args.requests, args.known_ratio, seed=2)
    port = free_port()
    load_before = load_average()
    with node_process(url, port, args.workers) as proc:
        asyncio.run(http_load(port, token, warm, args.concurrency))
        cpu_before = process_cpu_seconds(proc.pid)
        latencies, elapsed, outcomes = asyncio.run(http_load(port, token, measured, args.concurrency))
        cpu_ms = (process_cpu_seconds(proc.pid) - cpu_before) * 1000 / len(measured)
    node = latency_summary(latencies, elapsed)
    asyncio.run(sql_ceiling(url, warm, args.concurrency))
    c_lat, c_elapsed, c_outcomes = asyncio.run(sql_ceiling(url, measured, args.concurrency))
    ceiling = latency_summary(c_lat, c_elapsed)
    verdict = "MET" if node["req_per_s"] >= 1000 and node["p99_ms"] < 50 else "NOT MET"
    print(f"node    : {node}  outcomes {dict(outcomes)}")
    print(f"ceiling : {ceiling}  outcomes {dict(c_outcomes)}")
    if sqlite:
        print(
            "ceiling = the same lookup as one raw query per request through aiosqlite "
            f"({args.concurrency} connections, each its own thread)"
        )
    print(f"node CPU per request: {cpu_ms:.2f} ms (workers=1 only); load average before: {load_before}")
    print(f"target >= 1,000 req/s and p99 < 50 ms: {verdict}")
    if args.no_results:
        return
    command = "bench/bench_authorize.py " + " ".join(sys.argv[1:])
    if sqlite:
        store, ceiling_name, note = (
            "SQLite (a WAL file on local disk)",
            CEILING_SQLITE.format(n=args.concurrency),
            SQLITE_NOTE,
        )
    else:
        store, ceiling_name, note = "PostgreSQL", "one raw asyncpg query", PG_NOTE
    write_results(
        "Real-time authorization (bench/bench_authorize.py)" + (" (SQLite)" if sqlite else ""),
        f"""Command: `.venv/bin/python {command.strip()}`

({machine()}; node: uvicorn, {args.workers} worker process(es); load generator: keep-alive HTTP/1.1 on
loopback, concurrency {args.concurrency}, {args.known_ratio:.0%} known uids, LocationReferences body,
routing headers; {args.tokens:,} tokens in {store}, {load}).

| | requests | req/s | p50 ms | p90 ms | p99 ms | max ms |
|---|---|---|---|---|---|---|
| node `POST /tokens/{{uid}}/authorize` | {node["requests"]:,} | {node["req_per_s"]:,} | {node["p50_ms"]} \
| {node["p90_ms"]} | {node["p99_ms"]} | {node["max_ms"]} |
| ceiling: {ceiling_name} | {ceiling["requests"]:,} | {ceiling["req_per_s"]:,} | {ceiling["p50_ms"]} \
| {ceiling["p90_ms"]} | {ceiling["p99_ms"]} | {ceiling["max_ms"]} |

Outcomes: {dict(outcomes)}. Node CPU per authorization: {cpu_ms:.2f} ms (uvicorn process, 1 worker
only). Machine load average before the run: {load_before}.
Target (>= 1,000 req/s, p99 < 50 ms): **{verdict}**. {note}
""",
    )


if __name__ == "__main__":
    main()
