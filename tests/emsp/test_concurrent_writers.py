"""Many writing requests at once against the live node: none fails, every write is stored, and a writer never
works on a stale read (each EVSE ends in the state of its newest PATCH, whatever order they ran in).

On SQLite (one writer at a time) this needs WAL, a busy timeout and transactions that take the write lock
when they begin (`emsp/db.py`). On PostgreSQL the same requests take row locks."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from sqlmodel import select

from emsp.db import SessionMaker
from emsp.ingest.tables import IngestedEvse
from emsp.tokens.tables import Token, TokenHistory
from tests.conftest import ADMIN_HEADERS
from tests.support.ingest import V, count, example, pushing_partner, rows
from tests.support.servers import RunningServer

LOC = f"{V}/locations/BE/BEC/LOC1"
EVSES, PATCHES_EACH, TOKENS = 10, 5, 50
STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER", "RESERVED")


async def test_concurrent_evse_patches_and_token_creations_all_succeed(
    live_node: RunningServer, sessionmaker: SessionMaker
) -> None:
    _, cpo = await pushing_partner(sessionmaker, ("BE", "BEC"))
    location = example("location_example.json")
    evse = location["evses"][0]
    location["evses"] = [dict(evse, uid=f"E{i:02d}", evse_id=f"BE*BEC*E{i:02d}") for i in range(EVSES)]
    url = f"{live_node.url}{LOC}"
    plan = [(i, n) for i in range(EVSES) for n in range(PATCHES_EACH)]
    random.Random(7).shuffle(plan)
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.put(url, json=location, headers=cpo)).status_code == 201

        async def patch_evse(i: int, n: int) -> httpx.Response:
            body = {"status": STATUSES[n], "last_updated": f"2030-01-01T00:00:{n:02d}Z"}
            return await http.patch(f"{url}/E{i:02d}", json=body, headers=cpo)

        async def create_token(i: int) -> httpx.Response:
            body: dict[str, Any] = {"uid": f"CONC{i:04d}"}
            return await http.post(f"{live_node.url}/admin/v1/tokens", json=body, headers=ADMIN_HEADERS)

        work = [patch_evse(*p) for p in plan] + [create_token(i) for i in range(TOKENS)]
        answers = await asyncio.gather(*work)

    failed = [(r.status_code, r.text) for r in answers if r.status_code not in (200, 201)]
    assert failed == []
    newest = STATUSES[PATCHES_EACH - 1]
    stored = sorted((r.uid, r.status) for r in await rows(sessionmaker, IngestedEvse))
    assert stored == [(f"E{i:02d}", newest) for i in range(EVSES)]
    async with sessionmaker() as session:
        uids = set((await session.exec(select(Token.uid))).all())
    assert uids == {f"CONC{i:04d}" for i in range(TOKENS)}
    assert await count(sessionmaker, TokenHistory) == TOKENS
