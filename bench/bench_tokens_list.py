"""Full crawl of `GET /ocpi/2.2.1/tokens` (pages of 1,000, following `Link`) over N stored tokens while
1,000 tokens are created through the admin API during the crawl. Target: the whole list in < 60 s, no token
skipped or served twice. Tokens created during the crawl get a newer `last_updated`, so they are served at
the end of the list (those created after the last page was read are not in this crawl: the next one
with `date_from` gets them).

    .venv/bin/python bench/bench_tokens_list.py                      # 500,000 tokens, local PostgreSQL
    .venv/bin/python bench/bench_tokens_list.py --tokens 20000 --inserts 200
    .venv/bin/python bench/bench_tokens_list.py --database-url sqlite:///var/bench_tokens.db

The database (default `bench_tokens`, created if missing; never `test`; or a SQLite scratch file, WAL) is
reloaded only when its token count differs from --tokens (the tokens created by a previous run are removed
first). SQLite runs write their own RESULTS.md section.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tokens_common import (
    ADMIN_SECRET,
    BENCH_PREFIX,
    DEFAULT_DB,
    HttpConnection,
    check_database_url,
    free_port,
    is_sqlite,
    load_average,
    machine,
    make_partner,
    node_process,
    prepare_tokens,
    process_cpu_seconds,
    write_results,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--tokens", type=int, default=500_000)
    parser.add_argument("--inserts", type=int, default=1_000, help="tokens created during the crawl")
    parser.add_argument("--page", type=int, default=1_000, help="limit asked per page")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    return parser.parse_args()


async def prepare(url: str, tokens: int) -> tuple[str, str]:
    load = await prepare_tokens(url, tokens)
    return await make_partner(url), load


async def crawl(port: int, token: str, page: int, inserts: int) -> dict[str, object]:
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    seen: Counter[str] = Counter()
    totals: list[int] = []
    page_times: list[float] = []
    created: list[str] = []
    crawl_done = asyncio.Event()

    async def insert() -> None:
        conn = HttpConnection("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {ADMIN_SECRET}", "Content-Type": "application/json"}
        try:
            for i in range(inserts):
                uid = f"{BENCH_PREFIX}{i:06d}"
                status, _h, body = await conn.request(
                    "POST", "/admin/v1/tokens", headers, json.dumps({"uid": uid}).encode()
                )
                if status != 201:
                    raise RuntimeError(f"create failed: {status} {body[:200]!r}")
                created.append(uid)
                if crawl_done.is_set():
                    break
        finally:
            await conn.close()

    async def read_all() -> None:
        conn = HttpConnection("127.0.0.1", port)
        path: str | None = f"/ocpi/2.2.1/tokens?limit={page}"
        try:
            while path:
                started = time.perf_counter()
                status, headers, body = await conn.request("GET", path, auth)
                page_times.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
                for item in json.loads(body)["data"]:
                    seen[item["uid"]] += 1
                totals.append(int(headers["x-total-count"]))
                link = headers.get("link")
                path = None
                if link:
                    url = link[1 : link.index(">")]
                    path = url[url.index("/ocpi/") :]
        finally:
            await conn.close()
            crawl_done.set()

    started = time.perf_counter()
    inserter = asyncio.create_task(insert())
    await read_all()
    crawl_seconds = time.perf_counter() - started
    await inserter
    return {
        "seconds": crawl_seconds,
        "seen": seen,
        "totals": totals,
        "page_times": sorted(page_times),
        "created": created,
    }


def main() -> None:
    args = parse_args()
    url = check_database_url(args.database_url, sqlite=True)
    sqlite = is_sqlite(url)
    token, load = asyncio.run(prepare(url, args.tokens))
    print(f"{args.tokens:,} tokens ({load})")
    port = free_port()
    load_before = load_average()
    with node_process(url, port) as proc:
        cpu_before = process_cpu_seconds(proc.pid)
        result = asyncio.run(crawl(port, token, args.page, args.inserts))
        node_cpu = process_cpu_seconds(proc.pid) - cpu_before
    seen: Counter[str] = result["seen"]  # type: ignore[assignment]
    created: list[str] = result["created"]  # type: ignore[assignment]
    totals: list[int] = result["totals"]  # type: ignore[assignment]
    page_times: list[float] = result["page_times"]  # type: ignore[assignment]
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    from tokens_common import uid_of

    initial = {uid_of(i) for i in range(args.tokens)}
    twice = sum(1 for n in seen.values() if n > 1)
    skipped = len(initial - set(seen))
    new_served = sum(1 for uid in created if uid in seen)
    unknown = len(set(seen) - initial - set(created))
    p50 = page_times[len(page_times) // 2] * 1000
    p99 = page_times[min(len(page_times) - 1, int(len(page_times) * 0.99))] * 1000
    ok = seconds < 60 and skipped == 0 and twice == 0 and unknown == 0
    verdict = "MET" if ok else "NOT MET"
    print(
        f"crawl {seconds:.1f} s, {len(page_times)} pages (p50 {p50:.0f} ms, p99 {p99:.0f} ms), "
        f"{sum(seen.values()):,} served; stored before: {args.tokens:,}, skipped {skipped}, "
        f"served twice {twice}; "
        f"created during the crawl: {len(created)}, of which served at the end {new_served}; "
        f"X-Total-Count first/last: {totals[0]:,}/{totals[-1]:,}"
    )
    print(f"node CPU {node_cpu:.1f} s for the crawl and the creations; load average before: {load_before}")
    print(f"target (< 60 s, none skipped or twice): {verdict}")
    if args.no_results:
        return
    command = "bench/bench_tokens_list.py " + " ".join(sys.argv[1:])
    store = "SQLite (a WAL file on local disk)" if sqlite else "PostgreSQL"
    write_results(
        "Tokens list crawl (bench/bench_tokens_list.py)" + (" (SQLite)" if sqlite else ""),
        f"""Command: `.venv/bin/python {command.strip()}`

({machine()}; node: uvicorn, 1 worker; {args.tokens:,} tokens in {store}, {load}; pages of
{args.page:,} following `Link`; up to {args.inserts:,} tokens created one by one through the admin API
while crawling, stopping when the crawl ends).

| crawl | pages | page p50 | page p99 | served | skipped | twice | created while crawling | of them served |
|---|---|---|---|---|---|---|---|---|
| {seconds:.1f} s | {len(page_times)} | {p50:.0f} ms | {p99:.0f} ms | {sum(seen.values()):,} | {skipped} \
| {twice} | {len(created)} | {new_served} |

Node CPU {node_cpu:.1f} s (uvicorn process) for the crawl and the creations; machine load average before
the run: {load_before}. X-Total-Count rose from {totals[0]:,} to {totals[-1]:,} during the crawl.
Target (< 60 s, none skipped or served twice): **{verdict}**. The created tokens carry a newer
`last_updated` and come after all stored ones; those created after the last page was read belong to the
next crawl (`date_from`).
""",
    )


if __name__ == "__main__":
    main()
