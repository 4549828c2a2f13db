"""Locations pull throughput: a full pull (`emsp.ingest.sync.sync_module`, pages stored with bulk upserts)
from a fake CPO serving N Locations (2 EVSEs x 2 Connectors each) in pages of 500 with `Link`, into
PostgreSQL; and, in the same run, the baseline: the same pages fetched and parsed (`Location` model) with no
database. Each measurement runs in its own process (peak RSS is per measurement); the fake CPO is a real
uvicorn server in another process on loopback, its pages prepared before the clock starts.
Targets: >= 1,500 locations/s, peak RSS < 400 MB, flat as the set grows.

    .venv/bin/python bench/bench_locations_pull.py                          # 10,000 and 100,000
    .venv/bin/python bench/bench_locations_pull.py --counts 20000 --database-url postgresql://.../scratch

The database (default `bench_ingest`, created if missing; never `test`) has its ingest tables emptied first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tokens_common import (  # noqa: E402
    check_database_url,
    ensure_database,
    free_port,
    machine,
    migrate,
    write_results,
)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_ingest"
TOKEN = "bench-cpo-token-0123456789abcdef"
PAGE = 500


# --- the fake CPO (its own process) ---------------------------------------------------------------------


def location(i: int) -> dict[str, object]:
    when = f"2024-01-01T00:00:00.{i % 1000:03d}Z" if i % 2 else "2024-01-01T00:00:00Z"
    connectors = [
        {
            "id": str(c),
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 230,
            "max_amperage": 16,
            "tariff_ids": ["T1"],
            "last_updated": when,
        }
        for c in (1, 2)
    ]
    return {
        "country_code": "NL",
        "party_id": "CPO",
        "id": f"LOC{i:07d}",
        "publish": True,
        "name": f"Location {i}",
        "address": f"Street {i}",
        "city": ("Amsterdam", "Utrecht", "Gent")[i % 3],
        "postal_code": "1000AA",
        "country": "NLD",
        "coordinates": {
            "latitude": f"{50 + (i % 1000) / 1000:.6f}",
            "longitude": f"{4 + (i % 997) / 1000:.6f}",
        },
        "evses": [
            {
                "uid": f"E{i}-{e}",
                "evse_id": f"NL*CPO*E{i:07d}{e}",
                "status": "AVAILABLE",
                "capabilities": ["RFID_READER"],
                "connectors": connectors,
                "last_updated": when,
            }
            for e in (1, 2)
        ],
        "operator": {"name": "Bench CPO"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": when,
    }


def serve_fake(count: int, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pages: dict[int, bytes] = {}
    for offset in range(0, count, PAGE):
        items = [location(i) for i in range(offset + 1, min(count, offset + PAGE) + 1)]
        body = {"data": items, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
        pages[offset] = json.dumps(body, separators=(",", ":")).encode()

    async def listing(request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Token "):
            return Response(status_code=401)
        offset = int(request.query_params.get("offset", "0"))
        headers = {"X-Total-Count": str(count), "X-Limit": str(PAGE), "Content-Type": "application/json"}
        if offset + PAGE < count:
            headers["Link"] = (
                f'<http://127.0.0.1:{port}/locations?offset={offset + PAGE}&limit={PAGE}>; rel="next"'
            )
        return Response(
            pages.get(offset, b'{"data":[],"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}'),
            headers=headers,
        )

    app = Starlette(routes=[Route("/locations", listing)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def fake_cpo(count: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(count), str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the fake CPO did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/locations"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# --- measurements (each in its own process) ------------------------------------------------------------


def run_delay() -> float:
    """Seconds this thread spent runnable but waiting for a CPU (/proc/self/schedstat): how much of the
    wall time was lost to other processes on a shared machine."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class RssSampler:
    """Peak resident memory of this process, sampled from /proc every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


async def measure_baseline(url: str) -> dict[str, float]:
    import httpx

    from ocpi.client import OcpiClient
    from ocpi.models.locations import Location
    from partners.pull import parse_items

    items = 0
    async with httpx.AsyncClient(timeout=60) as http:
        client = OcpiClient(http, token=TOKEN, from_party=("NL", "EMS"), to_party=("NL", "CPO"))
        with RssSampler() as rss:
            start, cpu, delay = time.perf_counter(), time.process_time(), run_delay()
            async for page in client.iter_pages(url, {"limit": PAGE}):
                parsed, _ = parse_items(page.items, Location.model_validate)
                items += len(parsed)
            elapsed, cpu, delay = time.perf_counter() - start, time.process_time() - cpu, run_delay() - delay
    return {
        "items": items,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "run_delay_seconds": delay,
        "peak_rss_mb": rss.peak / 2**20,
    }


async def measure_db(url: str, database_url: str) -> dict[str, float]:
    import httpx
    from sqlalchemy import text

    from emsp.db import make_engine, make_sessionmaker
    from emsp.ingest.sync import SyncOptions, sync_module
    from partners.pull import PullPolicy
    from partners.tables import Partner, PartnerEndpoint, PartnerRole, PartnerStatus

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE locations, evses, pull_checkpoints, pull_quarantine, partners CASCADE")
        )
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        partner = Partner(name="bench-cpo", status=PartnerStatus.CONNECTED, client_token=TOKEN)
        session.add(partner)
        await session.flush()
        assert partner.id is not None
        session.add(PartnerRole(partner_id=partner.id, role="CPO", country_code="NL", party_id="CPO"))
        session.add(PartnerEndpoint(partner_id=partner.id, identifier="locations", role="SENDER", url=url))
        await session.commit()
    options = SyncOptions(our_party=("NL", "EMS"), page_limit=PAGE, policy=PullPolicy(max_attempts=2))
    async with httpx.AsyncClient(timeout=60) as http, sessionmaker() as session:
        with RssSampler() as rss:
            start, cpu, delay = time.perf_counter(), time.process_time(), run_delay()
            outcome = await sync_module(session, http, partner, "locations", options, full=True)
            elapsed, cpu, delay = time.perf_counter() - start, time.process_time() - cpu, run_delay() - delay
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT count(*) FROM locations"))).scalar()
        evses = (await conn.execute(text("SELECT count(*) FROM evses"))).scalar()
    await engine.dispose()
    assert outcome.status == "complete", outcome
    return {
        "items": outcome.items,
        "stored": stored,
        "evses": evses,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "run_delay_seconds": delay,
        "peak_rss_mb": rss.peak / 2**20,
    }


def run_measurement(kind: str, url: str, database_url: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--measure", kind, "--fake-url", url, "--database-url", database_url]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"measurement {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- main ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--serve-fake", nargs=2, type=int, metavar=("COUNT", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=("baseline", "db"), help=argparse.SUPPRESS)
    parser.add_argument("--fake-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(*args.serve_fake)
        return
    if args.measure:
        if args.measure == "baseline":
            result = asyncio.run(measure_baseline(args.fake_url))
        else:
            result = asyncio.run(measure_db(args.fake_url, args.database_url))
        print(json.dumps(result))
        return

    database_url = check_database_url(args.database_url)
    if database_url.rsplit("/", 1)[-1] == "bench_tokens":
        raise SystemExit("use a database of its own (default bench_ingest)")
    asyncio.run(ensure_database(database_url))
    migrate(database_url)
    rows = []
    for count in [int(c) for c in args.counts.split(",")]:
        with fake_cpo(count) as url:
            baseline = run_measurement("baseline", url, database_url)
            stored = run_measurement("db", url, database_url)
        assert stored["stored"] == count and stored["evses"] == 2 * count, stored
        rows.append((count, baseline, stored))
        print(
            f"{count:>7} locations | baseline (fetch + parse): {describe(count, baseline)}"
            f" | full pull into PostgreSQL: {describe(count, stored)}"
        )
    report(rows, args)


def describe(count: int, m: dict[str, float]) -> str:
    return (
        f"{count / m['seconds']:,.0f} loc/s in {m['seconds']:.1f} s (CPU {m['cpu_seconds']:.1f} s, "
        f"waiting for a CPU {m['run_delay_seconds']:.1f} s), peak RSS {m['peak_rss_mb']:.0f} MB"
    )


def verdict(rows: list[tuple[int, dict[str, float], dict[str, float]]]) -> str:
    rates = [count / db["seconds"] for count, _, db in rows]
    peaks = [db["peak_rss_mb"] for _, _, db in rows]
    unstarved = [count / max(db["seconds"] - db["run_delay_seconds"], 1e-9) for count, _, db in rows]
    met = min(rates) >= 1500 and max(peaks) < 400 and max(peaks) <= 1.25 * min(peaks)
    return (
        f"Verdict: **{'MET' if met else 'NOT MET'}** (rate {min(rates):,.0f}-{max(rates):,.0f} loc/s; "
        f"peak RSS {min(peaks):.0f}-{max(peaks):.0f} MB). Without the time spent waiting for a CPU the "
        f"same pulls take {min(unstarved):,.0f}-{max(unstarved):,.0f} loc/s."
    )


def report(rows: list[tuple[int, dict[str, float], dict[str, float]]], args: argparse.Namespace) -> None:
    lines = [
        f"Machine: {machine()}; load average at the end {os.getloadavg()[0]:.1f} (a shared machine: other",
        "work ran at the same time). PostgreSQL on the same host; fake CPO (uvicorn, pages of",
        f"{PAGE} with `Link`, prepared before the clock starts) in its own process on loopback; each",
        "measurement in a fresh process.",
        "CPU = CPU time of the pulling process; waiting = time it was runnable but had no CPU",
        "(/proc schedstat), i.e. lost to the other processes.",
        "",
        "| Locations | | rate | wall time | CPU | waiting for a CPU | peak RSS |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for count, base, db in rows:
        for label, m in (("baseline: fetch + parse, no database", base), ("full pull into PostgreSQL", db)):
            lines.append(
                f"| {count:,} | {label} | {count / m['seconds']:,.0f} loc/s | {m['seconds']:.1f} s "
                f"| {m['cpu_seconds']:.1f} s | {m['run_delay_seconds']:.1f} s | {m['peak_rss_mb']:.0f} MB |"
            )
    lines += [
        "",
        "Each Location: 2 EVSEs x 2 Connectors. A page is one transaction: Locations and EVSEs each",
        "COPYed into a temp table then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`, the quarantine",
        "clean-up and the checkpoint; the next page is fetched and parsed while one is stored.",
        "Targets: >= 1,500 locations/s, peak RSS < 400 MB, flat as the set grows.",
        verdict(rows),
        "",
        "```",
        f".venv/bin/python bench/bench_locations_pull.py --counts {args.counts}",
        "```",
    ]
    write_results("Locations pull (ingest)", "\n".join(lines))


if __name__ == "__main__":
    main()
