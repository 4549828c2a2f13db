"""Shared parts of the token benchmarks: a scratch database (never `test`; PostgreSQL, or for the token
benchmarks a SQLite file), bulk loading of tokens, the node under uvicorn in its own process, a lean
keep-alive HTTP/1.1 load client, percentiles and RESULTS.md."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_tokens"
RESULTS = ROOT / "bench" / "RESULTS.md"
ADMIN_SECRET = "bench-admin-secret"
PARTIES = '[{"country_code": "NL", "party_id": "EMS", "name": "Bench eMSP"}]'
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

sys.path.insert(0, str(ROOT))


def plain_pg_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql://", url)


def check_database_url(url: str, sqlite: bool = False) -> str:
    """The URL to use: PostgreSQL as plain `postgresql://`, or (when the benchmark takes it, `sqlite`) a
    SQLite scratch file as `sqlite+aiosqlite:///<absolute path>`, the form the node accepts."""
    if sqlite and url.startswith("sqlite"):
        path = url.split(":///", 1)[-1] if ":///" in url else ""
        if not path or path == ":memory:" or not path.endswith(".db"):
            raise SystemExit("give SQLite as a scratch file: sqlite:///var/bench_tokens.db")
        return f"sqlite+aiosqlite:///{(ROOT / path).resolve()}"
    if not url.startswith(("postgres://", "postgresql")):
        if sqlite:
            raise SystemExit("give a PostgreSQL or SQLite database URL")
        raise SystemExit("these benchmarks need PostgreSQL (COPY, asyncpg ceiling)")
    name = urlsplit(url).path.lstrip("/")
    if name in ("test", "postgres", ""):
        raise SystemExit(f"refusing to use database {name!r}: give a scratch database (default bench_tokens)")
    return plain_pg_url(url)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


@contextlib.contextmanager
def sqlite_connection(url: str) -> Iterator[sqlite3.Connection]:
    """A stdlib sqlite3 connection to the scratch file: autocommit (explicit BEGIN), foreign keys on (so
    deletes cascade as on PostgreSQL), waiting for the write lock as the node does."""
    conn = sqlite3.connect(sqlite_path(url), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        yield conn
    finally:
        conn.close()


def sqlite_time(when: datetime) -> str:
    """A UTC datetime as the node stores it on SQLite (SQLAlchemy's format, no zone: `UTCDateTime`)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


async def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def migrate(url: str) -> None:
    from emsp.migrate import upgrade

    upgrade(url)


def uid_of(i: int) -> str:
    """Distinct RFID-like UIDs: i times an odd constant modulo 2^56 is a bijection."""
    return format(i * 0x9E3779B97F4A7C15 % (1 << 56), "014X")


def contract_id_of(i: int) -> str:
    from emsp.tokens.contract_id import check_digit

    digits = ""
    n = i
    for _ in range(8):
        n, r = divmod(n, 36)
        digits = _B36[r] + digits
    body = "NLEMSC" + digits
    return f"NL-EMS-C{digits}-{check_digit(body)}"


async def load_tokens(url: str, count: int) -> float:
    """Empty the token tables and COPY `count` tokens in; returns seconds taken."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE tokens RESTART IDENTITY CASCADE")
        base = datetime(2024, 1, 1, tzinfo=UTC)
        columns = (
            "country_code party_id uid uid_norm type contract_id visual_number issuer whitelist status "
            "version last_updated created_at"
        ).split()

        batch: list[tuple[object, ...]] = []
        for i in range(count):
            uid = uid_of(i)
            when = base + timedelta(milliseconds=i)
            head = ("NL", "EMS", uid, uid.lower(), "RFID", contract_id_of(i), f"V{i:09d}", "Bench eMSP")
            batch.append((*head, "ALLOWED", "ACTIVE", 1, when, when))
            if len(batch) == 50_000:
                await conn.copy_records_to_table("tokens", records=batch, columns=columns)
                batch.clear()
        if batch:
            await conn.copy_records_to_table("tokens", records=batch, columns=columns)
        await conn.execute("VACUUM ANALYZE tokens")
    finally:
        await conn.close()
    return time.perf_counter() - started


def load_tokens_sqlite(url: str, count: int) -> float:
    """A fresh SQLite file (the old one removed, migrated again) with the same `count` rows as `load_tokens`,
    inserted by one executemany in one transaction, then ANALYZE; returns seconds taken by the insert and
    ANALYZE (as `load_tokens` times COPY and VACUUM ANALYZE)."""
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    migrate(url)
    started = time.perf_counter()
    base = datetime(2024, 1, 1)  # UTC, stored without zone
    columns = (
        "country_code party_id uid uid_norm type contract_id visual_number issuer whitelist status "
        "version last_updated created_at"
    ).split()

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(count):
            uid = uid_of(i)
            when = (base + timedelta(milliseconds=i)).isoformat(" ", "microseconds")
            head = ("NL", "EMS", uid, uid.lower(), "RFID", contract_id_of(i), f"V{i:09d}", "Bench eMSP")
            yield (*head, "ALLOWED", "ACTIVE", 1, when, when)

    with sqlite_connection(url) as conn:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            raise SystemExit(f"{path} is not in WAL mode after migrating")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the indexes are built in memory
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO tokens ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows()
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


BENCH_PREFIX = "BENCHNEW"
"""uid prefix of the tokens bench_tokens_list.py creates during its crawl (removed before each run)."""


async def prepare_tokens(url: str, count: int) -> str:
    """The scratch database migrated and holding exactly the `count` bench tokens; says how."""
    if is_sqlite(url):
        return await asyncio.to_thread(_prepare_tokens_sqlite, url, count)
    await ensure_database(url)
    await asyncio.to_thread(migrate, url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM tokens WHERE uid LIKE $1", BENCH_PREFIX + "%")
    finally:
        await conn.close()
    if await token_count(url) == count:
        return "reused"
    return f"loaded by COPY in {await load_tokens(url, count):.1f} s"


def _prepare_tokens_sqlite(url: str, count: int) -> str:
    sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    migrate(url)
    with sqlite_connection(url) as conn:
        conn.execute("DELETE FROM tokens WHERE uid LIKE ?", (BENCH_PREFIX + "%",))
        stored = int(conn.execute("SELECT count(*) FROM tokens").fetchone()[0])
    if stored == count:
        return "reused"
    return f"loaded by executemany in {load_tokens_sqlite(url, count):.1f} s"


async def token_count(url: str) -> int:
    if is_sqlite(url):
        with sqlite_connection(url) as lite:
            return int(lite.execute("SELECT count(*) FROM tokens").fetchone()[0])
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM tokens"))
    finally:
        await conn.close()


async def make_partner(url: str) -> str:
    """A CONNECTED partner with a SERVER token (the load generator's); returns the token."""
    token = secrets.token_urlsafe(32)
    if is_sqlite(url):
        _make_partner_sqlite(url, token)
        return token
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM partners WHERE name = 'bench-cpo'")
        pid = await conn.fetchval(
            "INSERT INTO partners (name, status, base64_token, initiated_by_us, created_at, updated_at) "
            "VALUES ('bench-cpo', 'CONNECTED', true, false, now(), now()) RETURNING id"
        )
        await conn.execute(
            "INSERT INTO partner_tokens (token_hash, partner_id, kind, created_at) "
            "VALUES ($1, $2, 'SERVER', now())",
            hashlib.sha256(token.encode()).hexdigest(),
            pid,
        )
    finally:
        await conn.close()
    return token


def _make_partner_sqlite(url: str, token: str) -> None:
    now = sqlite_time(datetime.now(UTC))
    with sqlite_connection(url) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM partners WHERE name = 'bench-cpo'")  # its tokens go with it (cascade)
        pid = conn.execute(
            "INSERT INTO partners (name, status, base64_token, initiated_by_us, created_at, updated_at) "
            "VALUES ('bench-cpo', 'CONNECTED', 1, 0, ?, ?)",
            (now, now),
        ).lastrowid
        conn.execute(
            "INSERT INTO partner_tokens (token_hash, partner_id, kind, created_at) "
            "VALUES (?, ?, 'SERVER', ?)",
            (hashlib.sha256(token.encode()).hexdigest(), pid, now),
        )
        conn.execute("COMMIT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def node_process(url: str, port: int, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """The node under uvicorn in its own process (no background jobs, no access log)."""
    env = os.environ | {
        "EMSP_DATABASE_URL": url,
        "EMSP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "EMSP_RUN_WORKER": "false",
        "EMSP_LOG_LEVEL": "WARNING",
        "EMSP_PARTIES": PARTIES,
        "EMSP_ADMIN_API_KEYS": json.dumps([f"bench:{ADMIN_SECRET}"]),
        "EMSP_PAGE_LIMIT_MAX": "1000",
    }
    cmd = [sys.executable, "-m", "uvicorn", "emsp.app:create_app", "--factory", "--host", "127.0.0.1"]
    if os.environ.get("BENCH_NODE_PROFILE"):  # a cProfile of the node, written when it stops
        cmd[1:3] = [str(ROOT / "bench" / "profiled_node.py")]
    elif os.environ.get("BENCH_NODE_GC"):  # the garbage collector's pauses, written when it stops
        cmd[1:3] = [str(ROOT / "bench" / "gc_traced_node.py")]
    cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the node did not start")
            time.sleep(0.1)
        time.sleep(0.5 * workers)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60 if os.environ.get("BENCH_NODE_PROFILE") else 15)
        except subprocess.TimeoutExpired:
            proc.kill()


class HttpConnection:
    """One keep-alive HTTP/1.1 connection with just enough parsing for these benchmarks: far cheaper per
    request than a full client, so the load generator does not eat the CPU the node needs."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        found = {}
        for line in header_lines:
            if ":" in line:
                key, _, value = line.partition(":")
                found[key.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(found.get("content-length", "0")))
        return status, found, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def latency_summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    values = sorted(latencies)
    return {
        "requests": len(values),
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(values) / elapsed, 1) if elapsed else float("nan"),
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p90_ms": round(percentile(values, 0.90) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2) if values else float("nan"),
    }


def write_results(section: str, body: str) -> None:
    """Put `body` under the heading `## {section}` of bench/RESULTS.md, replacing only that section."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    heading = f"## {section}\n"
    start = text.find(heading)
    block = heading + "\n" + body.rstrip() + "\n"
    if start < 0:
        text = text.rstrip() + "\n\n" + block
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + block + ("" if end < 0 else text[end:])
    RESULTS.write_text(text)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that were waited for (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL server process on this host (the server runs on the same machine)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() not in ("postgres", "postmaster"):
                    continue
            total += process_cpu_seconds(int(entry))
        except OSError:  # the process ended meanwhile
            continue
    return total


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def machine() -> str:
    return f"{os.cpu_count()} CPU, Python {sys.version.split()[0]}"
