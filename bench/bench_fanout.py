"""Token fan-out: N token changes x M partners, end to end, from the token writes (through the tokens
service, which marks the ledger) until every (token, partner) row is SUCCEEDED with the version written,
delivered by `emsp worker` processes over real HTTP to fake CPO Tokens receivers on loopback.

In the same run, the baseline: a plain asyncio loop of httpx PUTs of the same requests (bodies and the OCPI
headers the worker sends), at the same overall concurrency, to the same servers, with no database.

The fake partners are one uvicorn process (its own CPU) serving M ports; each records, per token uid, the
`last_updated` of the last PUT received, how many PUTs arrived, and how many repeated a (uid, version)
already received (duplicates). "lost" counts (token, partner) pairs whose last received state is not the
token's latest: it must be 0.

    .venv/bin/python bench/bench_fanout.py                      # 10,000 x 20, with 1 then 2 workers
    .venv/bin/python bench/bench_fanout.py --tokens 2000 --partners 5 --workers 1
    .venv/bin/python bench/bench_fanout.py --workers 1 --database-url sqlite:///var/bench_fanout.db

The database (default PostgreSQL `bench_fanout`, created if missing; never `test`; or a SQLite file,
recreated) is emptied first. On SQLite one worker process is the supported set-up.
Targets: >= 60 % of the baseline's deliveries/s, >= 350 deliveries/s from one worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_fanout"
RESULTS = ROOT / "bench" / "RESULTS.md"
CLIENT_TOKEN = "bench-client-token-0123456789"
OK_BODY = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'


# --- the fake partners (own process): one uvicorn server, M sockets ---------------------------------------


class FakePartners:
    """Raw ASGI app: `PUT /p{i}/tokens/{cc}/{pid}/{uid}` records; `GET /stats`; `POST /reset`."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reset()

    def reset(self) -> None:
        self.latest: list[dict[str, str]] = [{} for _ in range(self.count)]
        self.seen: list[set[tuple[str, str]]] = [set() for _ in range(self.count)]
        self.puts = [0] * self.count
        self.duplicates = [0] * self.count

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        if method == "PUT" and not body:  # the client went away before sending its body
            await _answer(send, 400, b"{}")
        elif method == "PUT" and path.startswith("/p"):
            self._record(path, body)
            await _answer(send, 200, OK_BODY)
        elif method == "GET" and path == "/stats":
            stats = {"puts": self.puts, "duplicates": self.duplicates, "latest": self.latest}
            await _answer(send, 200, json.dumps(stats).encode())
        elif method == "POST" and path == "/reset":
            self.reset()
            await _answer(send, 200, b"{}")
        else:
            await _answer(send, 404, b"{}")

    def _record(self, path: str, body: bytes) -> None:
        parts = path.split("/")  # ['', 'p3', 'tokens', cc, pid, uid]
        i, uid = int(parts[1][1:]), parts[5]
        version = json.loads(body)["last_updated"]
        self.puts[i] += 1
        if (uid, version) in self.seen[i]:
            self.duplicates[i] += 1
        else:
            self.seen[i].add((uid, version))
        self.latest[i][uid] = version


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_fakes(ports: list[int]) -> None:
    import uvicorn

    sockets = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sockets.append(sock)
    config = uvicorn.Config(
        FakePartners(len(ports)),
        log_level="warning",
        loop="uvloop",
        http="httptools",
        backlog=4096,
        timeout_keep_alive=120,
    )
    uvicorn.Server(config).run(sockets=sockets)


# --- helpers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_database_url(url: str) -> str:
    if url.startswith("sqlite"):  # a scratch file, recreated every run
        path = url.split(":///", 1)[-1]
        if not path or path == ":memory:" or not path.endswith(".db"):
            raise SystemExit("give SQLite as a scratch file: sqlite:///var/bench_fanout.db")
        return f"sqlite+aiosqlite:///{path}"
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("give a PostgreSQL or SQLite database URL")
    name = parts.path.lstrip("/")
    if name in ("", "test", "postgres"):
        raise SystemExit(f"refusing to use database {name!r}: give a scratch database (default bench_fanout)")
    return urlunsplit(parts._replace(scheme="postgresql"))


async def prepare_database(url: str) -> None:
    from emsp.migrate import upgrade

    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[-1])
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        await asyncio.to_thread(upgrade, url)
        return
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, url)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker(db_url: str, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EMSP_DATABASE_URL": db_url,
        "EMSP_LOG_LEVEL": "INFO",
        "EMSP_DISTRIBUTION_CONCURRENCY": str(args.concurrency),
        "EMSP_DISTRIBUTION_PARTNER_CONCURRENCY": str(args.partner_concurrency),
        "EMSP_DISTRIBUTION_BATCH_SIZE": str(args.batch),
        "EMSP_DISTRIBUTION_POLL_SECONDS": "0.2",
        "EMSP_DISTRIBUTION_RECONCILE_SAMPLE": "0",  # the fakes keep no bodies to GET back
    }
    handle = log.open("ab")
    emsp = Path(sys.executable).parent / "emsp"
    return subprocess.Popen([str(emsp), "worker"], env=env, cwd=ROOT, stdout=handle, stderr=handle)


async def wait_started(log: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("distribution worker") >= count:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"workers did not start:\n{log.read_text()[-3000:]}")


# --- one run ------------------------------------------------------------------------------------------


async def setup_partners(sessionmaker: Any, ports: list[int]) -> None:
    from emsp.db import session_scope
    from partners.tables import Partner, PartnerEndpoint, PartnerRole, PartnerStatus

    async with session_scope(sessionmaker) as session:
        for i, port in enumerate(ports):
            partner = Partner(name=f"cpo-{i:02d}", status=PartnerStatus.CONNECTED, client_token=CLIENT_TOKEN)
            session.add(partner)
            await session.flush()
            assert partner.id is not None
            session.add(
                PartnerRole(partner_id=partner.id, role="CPO", country_code="NL", party_id=f"C{i:02d}")
            )
            url = f"http://127.0.0.1:{port}/p{i}/tokens"
            session.add(PartnerEndpoint(partner_id=partner.id, identifier="tokens", role="RECEIVER", url=url))


async def reset_tokens(engine: Any) -> None:
    from sqlalchemy import text

    tables = ("token_delivery_attempts", "token_deliveries", "token_history", "tokens")
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
        else:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))


async def write_tokens(sessionmaker: Any, count: int, prefix: str, chunk: int = 500) -> None:
    """N token changes through the tokens service (each marks its rows for every partner)."""
    from emsp.db import session_scope
    from emsp.settings import OwnParty
    from emsp.tokens import service
    from emsp.tokens.schemas import TokenCreate

    parties = [OwnParty(country_code="NL", party_id="EMS", name="Bench eMSP")]
    for start in range(0, count, chunk):
        async with session_scope(sessionmaker) as session:
            for i in range(start, min(count, start + chunk)):
                data = TokenCreate(uid=f"{prefix}{i:07d}", contract_id=None)
                await service.create_token(session, data, parties=parties, actor="bench")


async def ensure_tokens(db_url: str, count: int) -> None:
    from sqlalchemy import func, select

    from emsp.db import make_engine, make_sessionmaker
    from emsp.tokens.tables import Token

    engine = make_engine(db_url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        present = int((await session.exec(select(func.count()).select_from(Token))).scalar_one())
    if present != count:
        await reset_tokens(engine)
        await write_tokens(sessionmaker, count, prefix="B")
    await engine.dispose()


async def count_done(sessionmaker: Any) -> int:
    from sqlalchemy import func, select

    from emsp.distribution.tables import TokenDelivery

    table = TokenDelivery.__table__  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        stmt = (
            select(func.count())
            .select_from(table)
            .where(table.c.status == "SUCCEEDED", table.c.acked_version == table.c.wanted_version)
        )
        return int((await session.exec(stmt)).scalar_one())


async def expected_versions(sessionmaker: Any) -> dict[str, str]:
    from sqlalchemy import select

    from emsp.tokens.tables import Token
    from ocpi.types import format_datetime

    table = Token.__table__  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        rows = (await session.exec(select(table.c.uid, table.c.last_updated))).all()
    return {uid: format_datetime(when) for uid, when in rows}


async def fake_stats(http: Any, base: str) -> dict[str, Any]:
    return (await http.get(f"{base}/stats", timeout=60)).json()


def judge(stats: dict[str, Any], expected: dict[str, str]) -> tuple[int, int, int]:
    """(PUTs received, duplicates, lost pairs)."""
    lost = 0
    for latest in stats["latest"]:
        lost += sum(1 for uid, version in expected.items() if latest.get(uid) != version)
    return sum(stats["puts"]), sum(stats["duplicates"]), lost


async def run_workers(
    args: argparse.Namespace, n_workers: int, db_url: str, ports: list[int], run: int
) -> dict[str, Any]:
    import httpx

    from emsp.db import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    sessionmaker = make_sessionmaker(engine)
    fakes = f"http://127.0.0.1:{ports[0]}"
    log = Path(f"/tmp/bench_fanout_workers_{run}.log")
    log.unlink(missing_ok=True)
    async with httpx.AsyncClient() as http:
        await reset_tokens(engine)
        await http.post(f"{fakes}/reset")
        workers = [start_worker(db_url, args, log) for _ in range(n_workers)]
        try:
            await wait_started(log, n_workers)
            cpu0 = [cpu_seconds(w.pid) for w in workers]
            total = args.tokens * len(ports)
            started = time.perf_counter()
            await write_tokens(sessionmaker, args.tokens, prefix=f"R{run}T")
            written = time.perf_counter() - started
            while (done := await count_done(sessionmaker)) < total:
                if time.perf_counter() - started > args.timeout:
                    raise SystemExit(f"only {done} of {total} delivered after {args.timeout} s")
                await asyncio.sleep(1.0)
            elapsed = time.perf_counter() - started
            peak = max(peak_rss_mb(w.pid) for w in workers)
            cpu = sum(cpu_seconds(w.pid) - c for w, c in zip(workers, cpu0, strict=True))
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                w.wait(60)
        expected = await expected_versions(sessionmaker)
        puts, duplicates, lost = judge(await fake_stats(http, fakes), expected)
    await engine.dispose()
    return {
        "workers": n_workers,
        "deliveries": total,
        "seconds": elapsed,
        "write_seconds": written,
        "rate": total / elapsed,
        "peak_rss_mb": peak,
        "worker_cpu_s": cpu,
        "puts": puts,
        "duplicates": duplicates,
        "lost": lost,
    }


async def run_baseline(args: argparse.Namespace, db_url: str, ports: list[int]) -> dict[str, Any]:
    """The same requests (bodies and headers) PUT by a plain asyncio loop over one shared httpx client, no
    database. Until 2026-11-21 it sent two headers only (Authorization, Content-Type), a lighter request
    than the worker's."""
    import resource

    import httpx
    from sqlalchemy import select

    from emsp.db import make_engine, make_sessionmaker
    from emsp.tokens.ocpi_map import to_ocpi
    from emsp.tokens.tables import Token

    engine = make_engine(db_url)
    async with make_sessionmaker(engine)() as session:
        table = Token.__table__  # type: ignore[attr-defined]
        tokens = (await session.exec(select(table))).all()
    await engine.dispose()
    bodies = [(t.uid, to_ocpi(t)) for t in tokens]
    jobs = [(i, port, uid, body) for i, port in enumerate(ports) for uid, body in bodies]
    jobs.sort(key=lambda j: (j[2], j[0]))  # token by token, across partners, as the ledger orders them
    from emsp.node import make_http_client
    from emsp.settings import Settings

    gate = asyncio.Semaphore(args.concurrency)

    def headers(i: int) -> dict[str, str]:
        """The headers the worker sends (OCPI requires them on every request): the same requests."""
        return {
            "Authorization": "Token " + CLIENT_TOKEN,
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "OCPI-from-country-code": "NL",
            "OCPI-from-party-id": "EMS",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": f"C{i:02d}",
        }

    async with make_http_client(Settings(database_url=db_url)) as http:  # the node's client, as the worker's
        await http.post(f"http://127.0.0.1:{ports[0]}/reset")

        async def put(i: int, port: int, uid: str, body: dict[str, Any]) -> None:
            async with gate:
                url = f"http://127.0.0.1:{port}/p{i}/tokens/NL/EMS/{uid}?type=RFID"
                for attempt in range(3):  # a plain loop still retries a dropped connection
                    try:
                        response = await http.put(url, content=json.dumps(body).encode(), headers=headers(i))
                        response.raise_for_status()
                        return
                    except httpx.TransportError:
                        if attempt == 2:
                            raise

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        for job in jobs:  # a bounded window of tasks: the loop never holds 200,000 of them
            if len(pending) >= args.concurrency * 4:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(asyncio.create_task(put(*job)))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime
        expected = {uid: body["last_updated"] for uid, body in bodies}
        puts, duplicates, lost = judge(await fake_stats(http, f"http://127.0.0.1:{ports[0]}"), expected)
    return {
        "deliveries": len(jobs),
        "seconds": elapsed,
        "rate": len(jobs) / elapsed,
        "cpu_s": cpu,
        "peak_rss_mb": max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "puts": puts,
        "duplicates": duplicates,
        "lost": lost,
    }


# --- main ---------------------------------------------------------------------------------------------


def report(args: argparse.Namespace, runs: list[dict[str, Any]], baseline: dict[str, Any] | None) -> str:
    lines = [
        "## Token fan-out (distribution worker)",
        "",
        f"Machine: {os.cpu_count()} CPU, Python {platform.python_version()}; "
        f"{'SQLite (a file, WAL)' if args.database_url.startswith('sqlite') else 'PostgreSQL'} on the same "
        "host; "
        f"{args.partners} fake CPO receivers (one uvicorn process, its own CPU) on loopback; "
        f"`emsp worker` processes with concurrency {args.concurrency} overall, {args.partner_concurrency} "
        f"per partner, batch {args.batch}. End to end: from the first token write (tokens service, marking "
        "the ledger) until every row is SUCCEEDED with the version written.",
        "",
        "| run | deliveries | time | deliveries/s | vs baseline | token writes | peak RSS / worker "
        "| CPU / delivery | duplicates | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_rate = baseline["rate"] if baseline else None
    for r in runs:
        share = f"{100 * r['rate'] / base_rate:.0f} %" if base_rate else "-"
        lines.append(
            f"| {r['workers']} worker{'s' if r['workers'] > 1 else ''} | {r['deliveries']:,} | "
            f"{r['seconds']:.1f} s | {r['rate']:,.0f} | {share} | {r['write_seconds']:.1f} s | "
            f"{r['peak_rss_mb']:.0f} MB | {1000 * r['worker_cpu_s'] / r['deliveries']:.2f} ms | "
            f"{r['duplicates']} | {r['lost']} |"
        )
    if baseline:
        lines.append(
            f"| baseline: httpx loop, no DB | {baseline['deliveries']:,} | {baseline['seconds']:.1f} s | "
            f"{baseline['rate']:,.0f} | 100 % | - | {baseline['peak_rss_mb']:.0f} MB | "
            f"{1000 * baseline['cpu_s'] / baseline['deliveries']:.2f} ms | "
            f"{baseline['duplicates']} | {baseline['lost']} |"
        )
    lines += [
        "",
        "Targets: >= 60 % of the baseline and >= 350 deliveries/s from one worker process; lost = 0.",
        "",
        "```",
        f".venv/bin/python bench/bench_fanout.py --tokens {args.tokens} --partners {args.partners} "
        f"--workers {','.join(str(w) for w in args.workers)}"
        + ("" if args.database_url == DEFAULT_DB else f" --database-url {args.database_url}"),
        "```",
        "",
    ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean-ups run
    db_url = check_database_url(args.database_url)
    await prepare_database(db_url)
    ports = [free_port() for _ in range(args.partners)]
    fakes = subprocess.Popen([sys.executable, __file__, "--serve-fakes", ",".join(map(str, ports))])
    try:
        await asyncio.sleep(1.5)
        from emsp.db import make_engine, make_sessionmaker

        if not args.workers:  # baseline only: it needs the tokens (written before any partner exists)
            await ensure_tokens(db_url, args.tokens)
        engine = make_engine(db_url)
        await setup_partners(make_sessionmaker(engine), ports)
        await engine.dispose()
        runs = []
        for run, n_workers in enumerate(args.workers):
            result = await run_workers(args, n_workers, db_url, ports, run)
            print(json.dumps(result), flush=True)
            runs.append(result)
        baseline = None if args.no_baseline else await run_baseline(args, db_url, ports)
        if baseline:
            print(json.dumps({"baseline": baseline}), flush=True)
    finally:
        fakes.terminate()
        fakes.wait(10)
    text = report(args, runs, baseline)
    print(text)
    if args.write:
        with RESULTS.open("a") as out:
            out.write("\n" + text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="worker process counts to run, e.g. 1,2")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--partner-concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--serve-fakes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workers = [int(w) for w in str(args.workers).split(",") if w and int(w) > 0]  # 0: baseline only
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_fakes:
        serve_fakes([int(p) for p in arguments.serve_fakes.split(",")])
    else:
        asyncio.run(main(arguments))
