"""EVSE status PATCH throughput: `PATCH /ocpi/2.2.1/locations/{cc}/{pid}/{location_id}/{evse_uid}` against the
node under uvicorn (its own process) with N Locations (2 EVSEs each) stored, from a loopback load generator
at a fixed concurrency. Every PATCH carries a new status and a unique, increasing `last_updated`, sent in
random order over the EVSEs; afterwards the stored state must equal a replay of them (per EVSE, the status of
the PATCH with the newest `last_updated` wins: one that arrives after a newer one is ignored).
Targets: >= 500 req/s, p99 < 100 ms at concurrency 32 on 20,000 Locations.

    .venv/bin/python bench/bench_evse_patch.py                    # 20,000 locations, 50,000 PATCHes, c=32
    .venv/bin/python bench/bench_evse_patch.py --requests 5000 --concurrency 8

The database (default `bench_ingest`, created if missing; never `test`) is reloaded every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_locations_pull import DEFAULT_DB, location  # noqa: E402
from tokens_common import (  # noqa: E402
    HttpConnection,
    check_database_url,
    ensure_database,
    free_port,
    latency_summary,
    machine,
    migrate,
    node_process,
    write_results,
)

STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "INOPERATIVE", "OUTOFORDER", "RESERVED", "UNKNOWN")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def load(database_url: str, count: int) -> str:
    """Empty the ingest tables, store `count` Locations and a CONNECTED CPO; its credentials token."""
    from sqlalchemy import text

    from emsp.db import make_engine, make_sessionmaker
    from emsp.ingest.locations import store_locations
    from ocpi.models.locations import Location
    from partners.tables import Partner, PartnerRole, PartnerStatus, TokenKind
    from partners.tokens import issue_token

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE locations, evses, pull_checkpoints, pull_quarantine, partners CASCADE")
        )
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        partner = Partner(name="bench-cpo", status=PartnerStatus.CONNECTED)
        session.add(partner)
        await session.flush()
        assert partner.id is not None
        session.add(PartnerRole(partner_id=partner.id, role="CPO", country_code="NL", party_id="CPO"))
        token = await issue_token(session, partner, TokenKind.SERVER)
        await session.commit()
        for start in range(1, count + 1, 500):
            batch = [Location.model_validate(location(i)) for i in range(start, min(count, start + 499) + 1)]
            await store_locations(session, batch, partner_id=partner.id)
            await session.commit()
    await engine.dispose()
    return token


async def stored_state(database_url: str) -> dict[tuple[str, str], tuple[str, datetime]]:
    from sqlalchemy import text

    from emsp.db import make_engine

    engine = make_engine(database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT location_id, uid, status, last_updated FROM evses"))).all()
    await engine.dispose()
    return {(loc, uid): (status, when) for loc, uid, status, when in rows}


async def run_load(
    port: int, token: str, count: int, requests: int, concurrency: int, seed: int
) -> tuple[dict[str, float], dict[tuple[str, str], tuple[str, datetime]], dict[int, int]]:
    import base64

    rng = random.Random(seed)
    plan = []
    for n in range(requests):
        i, e = rng.randint(1, count), rng.randint(1, 2)
        when = T0 + timedelta(milliseconds=n)
        plan.append((f"LOC{i:07d}", f"E{i}-{e}", rng.choice(STATUSES), when))
    expected: dict[tuple[str, str], tuple[str, datetime]] = {}
    for loc, uid, status, when in plan:  # the replay: the newest PATCH of each EVSE wins
        expected[(loc.upper(), uid.upper())] = (status, when)
    headers = {
        "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
        "Content-Type": "application/json",
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "CPO",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(plan)

    async def worker() -> None:
        conn = HttpConnection("127.0.0.1", port)
        try:
            for loc, uid, status, when in queue:
                body = json.dumps(
                    {"status": status, "last_updated": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
                )
                path = f"/ocpi/2.2.1/locations/NL/CPO/{loc}/{uid}"
                start = time.perf_counter()
                code, _, _ = await conn.request("PATCH", path, headers, body.encode())
                latencies.append(time.perf_counter() - start)
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return latency_summary(latencies, elapsed), expected, statuses


def process_times(pid: int) -> tuple[float, float]:
    """(CPU seconds, seconds runnable but waiting for a CPU) so far of a process's main thread and of its
    child processes' (uvicorn workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    on_cpu = waiting = 0.0
    for each in (pid, *children):
        with open(f"/proc/{each}/schedstat") as f:
            cpu_ns, wait_ns, _ = f.read().split()
        on_cpu, waiting = on_cpu + int(cpu_ns) / 1e9, waiting + int(wait_ns) / 1e9
    return on_cpu, waiting


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--locations", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the node")
    args = parser.parse_args()
    database_url = check_database_url(args.database_url)
    asyncio.run(ensure_database(database_url))
    migrate(database_url)
    token = asyncio.run(load(database_url, args.locations))
    port = free_port()
    with node_process(database_url, port, workers=args.workers) as proc:
        before = process_times(proc.pid)
        summary, expected, statuses = asyncio.run(
            run_load(port, token, args.locations, args.requests, args.concurrency, args.seed)
        )
        after = process_times(proc.pid)
    node_cpu, node_wait = after[0] - before[0], after[1] - before[1]
    summary["node_cpu_ms_per_request"] = round(node_cpu / args.requests * 1000, 2)
    summary["node_waiting_for_cpu_s"] = round(node_wait, 1)
    stored = asyncio.run(stored_state(database_url))
    untouched = {k: v for k, v in stored.items() if k not in expected}
    mismatches = [
        k
        for k, (status, when) in expected.items()
        if stored.get(k, ("?", None))[0] != status or stored[k][1] != when
    ]
    check = (
        f"replay check: {len(expected):,} EVSEs patched, {len(mismatches)} differ from the replay; "
        f"{len(untouched):,} untouched, {sum(1 for s, _ in untouched.values() if s != 'AVAILABLE')} changed"
    )
    print(json.dumps(summary), f"HTTP statuses {statuses}", sep="\n")
    print(check)
    report(args, summary, statuses, check)
    if mismatches or set(statuses) != {200}:
        raise SystemExit(1)


def report(args: argparse.Namespace, summary: dict[str, float], statuses: dict[int, int], check: str) -> None:
    body = "\n".join(
        [
            f"Machine: {machine()}; PostgreSQL on the same host; the node under uvicorn",
            f"({args.workers} process, no background jobs) and a lean keep-alive HTTP/1.1 load generator on",
            "loopback, each its own process.",
            "",
            f"{args.locations:,} Locations (2 EVSEs each), {args.requests:,} EVSE status PATCHes "
            f"(with routing headers) at concurrency {args.concurrency}:",
            "",
            "| req/s | p50 | p90 | p99 | max |",
            "|---:|---:|---:|---:|---:|",
            f"| {summary['req_per_s']:,.0f} | {summary['p50_ms']} ms | {summary['p90_ms']} ms "
            f"| {summary['p99_ms']} ms | {summary['max_ms']} ms |",
            "",
            f"HTTP statuses: {statuses}. {check}.",
            f"The node (workers={args.workers}): {summary['node_cpu_ms_per_request']} ms of CPU per request; "
            f"it waited {summary['node_waiting_for_cpu_s']} s for a CPU (load average at the end "
            f"{os.getloadavg()[0]:.1f}: a shared machine, other work ran at the same time).",
            "Targets: >= 500 req/s, p99 < 100 ms: "
            f"**{'MET' if summary['req_per_s'] >= 500 and summary['p99_ms'] < 100 else 'NOT MET'}**.",
            "A status update (`status` + `last_updated` only) takes the fast path",
            "(`emsp/ocpi_api/evse_fastpath.py`: one auto-committed statement on PostgreSQL); other",
            "PATCHes take the regular path (~6 ms of node CPU each on this machine, measured before the",
            "fast path existed).",
            "What set the p99: before `emsp/gc_policy.py` (start-up objects frozen out of full",
            "garbage collections), the same run gave 1,385-1,526 req/s with p99 108-118 ms on a quiet",
            "machine: 17 full collections in 14 s walked ~160,000 objects each, up to 109 ms, stalling",
            "every request in flight (`BENCH_NODE_GC`, bench/gc_traced_node.py). With them frozen a full",
            "collection takes a few ms.",
            "",
            "```",
            f".venv/bin/python bench/bench_evse_patch.py --locations {args.locations} "
            f"--requests {args.requests} --concurrency {args.concurrency} --workers {args.workers}",
            "```",
        ]
    )
    write_results("EVSE status PATCH (ingest)", body)


if __name__ == "__main__":
    main()
