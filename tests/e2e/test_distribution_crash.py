"""`emsp worker` as a real process, killed with SIGKILL in the middle of a fan-out and started again:
every token's latest state reaches every partner, nothing is lost, and duplicates stay within what was in
flight when it died."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import and_

from emsp.db import SessionMaker, session_scope
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from emsp.tokens import service
from emsp.tokens.schemas import BlockRequest
from tests.support.builders import make_token_receiver
from tests.support.distribution import count_rows, create_tokens, current_ocpi
from tests.support.fake_token_receiver import FakeTokenReceiver

EMSP = Path(sys.executable).parent / "emsp"
ROOT = Path(__file__).resolve().parents[2]
TOKENS = 60
CONCURRENCY = 4
_T = TokenDelivery.__table__  # type: ignore[attr-defined]


def _start_worker(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EMSP_DATABASE_URL": db_url,
        "EMSP_LOG_LEVEL": "WARNING",
        "EMSP_HTTP_TIMEOUT_SECONDS": "2",
        "EMSP_DISTRIBUTION_LEASE_SECONDS": "3",
        "EMSP_DISTRIBUTION_POLL_SECONDS": "0.1",
        "EMSP_DISTRIBUTION_CONCURRENCY": str(CONCURRENCY),
        "EMSP_DISTRIBUTION_PARTNER_CONCURRENCY": "2",
        "EMSP_DISTRIBUTION_BATCH_SIZE": "8",
        "EMSP_DISTRIBUTION_BACKOFF_BASE_SECONDS": "0.05",
        "EMSP_DISTRIBUTION_BACKOFF_CAP_SECONDS": "0.2",
    }
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = str(ROOT)  # this checkout's packages, as the tests import them
    handle = log.open("ab")
    return subprocess.Popen([str(EMSP), "worker"], env=env, cwd=log.parent, stdout=handle, stderr=handle)


async def _wait_for(
    predicate: object, timeout: float, what: str, log: Path, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


async def test_a_killed_worker_loses_nothing(db_url: str, sessionmaker: SessionMaker, tmp_path: Path) -> None:
    fakes = [FakeTokenReceiver(delay_seconds=0.04), FakeTokenReceiver(delay_seconds=0.04)]
    log = tmp_path / "worker.log"
    with ExitStack() as stack:
        for i, fake in enumerate(fakes):
            stack.enter_context(fake.running())
            async with session_scope(sessionmaker) as session:
                await make_token_receiver(session, fake.url, name=f"cpo-{i}")
        tokens = await create_tokens(sessionmaker, [f"0500{i:04d}" for i in range(TOKENS)])

        first = _start_worker(db_url, log)
        try:

            async def some_arrived() -> bool:
                return sum(f.put_count for f in fakes) >= 20

            await _wait_for(some_arrived, 60, "the first deliveries", log, first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        sent_before = sum(f.put_count for f in fakes)
        assert sent_before < 2 * TOKENS, "the worker was killed mid fan-out"

        async with session_scope(sessionmaker) as session:  # a change while no worker runs
            token = await service.get_token(session, tokens[0].id)  # type: ignore[arg-type]
            await service.block_token(session, token, BlockRequest(reason="lost"), actor="test")

        second = _start_worker(db_url, log)
        try:
            done = and_(
                _T.c.status == DeliveryStatus.SUCCEEDED.value, _T.c.acked_version == _T.c.wanted_version
            )

            async def all_delivered() -> bool:
                return await count_rows(sessionmaker, done) == 2 * TOKENS

            await _wait_for(all_delivered, 60, "every delivery", log, second)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()[-2000:]

    current = await current_ocpi(sessionmaker)
    for fake in fakes:
        for uid, body in current.items():
            assert fake.latest(uid) == body
    sends = Counter((i, p.key, p.body["last_updated"]) for i, f in enumerate(fakes) for p in f.puts)
    duplicates = sum(n - 1 for n in sends.values())
    # at most what the killed worker held: rows claimed (2 x concurrency) and outcomes not yet written
    assert duplicates <= 4 * CONCURRENCY, sends
