"""Pull sync against a fake CPO served on loopback (`tests.support.fake_cpo_sender`): full and incremental
pulls, quarantine, the X-Total-Count drop rule, resume from the checkpoint, retries, and the sweep that only
a complete full pull may do."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from emsp.db import SessionMaker, make_engine, make_sessionmaker
from emsp.ingest.locations import store_locations
from emsp.ingest.sync import SyncOptions, SyncOutcome, load_checkpoint, sync_module
from emsp.ingest.tables import (
    IngestedEvse,
    IngestedLocation,
    IngestedSession,
    IngestedTariff,
    PullQuarantine,
    TariffVersion,
)
from ocpi.models.locations import Location
from partners.pull import PullPolicy
from partners.tables import Partner
from tests.support import fake_cpo_sender as fake
from tests.support.builders import make_partner
from tests.support.ingest import add_endpoint, count, rows
from tests.support.servers import RunningServer

OPTIONS = SyncOptions(
    our_party=("NL", "EMS"),
    page_limit=500,
    policy=PullPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02),
)


@dataclass
class Cpo:
    state: fake.SenderState
    server: RunningServer
    partner_id: int
    sessionmaker: SessionMaker
    http: httpx.AsyncClient

    async def sync(
        self, module: str = "locations", *, full: bool = False, options: SyncOptions = OPTIONS
    ) -> SyncOutcome:
        async with self.sessionmaker() as session:
            partner = await session.get(Partner, self.partner_id)
            assert partner is not None
            return await sync_module(session, self.http, partner, module, options, full=full)

    async def checkpoint(self, module: str = "locations") -> Any:
        async with self.sessionmaker() as session:
            return await load_checkpoint(session, self.partner_id, module)


@pytest.fixture
def sender() -> Iterator[tuple[fake.SenderState, RunningServer]]:
    state = fake.SenderState()
    with fake.running(state) as server:
        yield state, server


@pytest.fixture
async def cpo(
    sender: tuple[fake.SenderState, RunningServer], sessionmaker: SessionMaker
) -> AsyncIterator[Cpo]:
    state, server = sender
    async with sessionmaker() as session:
        partner, _ = await make_partner(session, country_code="NL", party_id="CPO")
        partner.client_token = state.token
        await session.commit()
        assert partner.id is not None
        partner_id = partner.id
    for module in ("locations", "tariffs", "sessions"):
        await add_endpoint(sessionmaker, partner_id, module, "SENDER", f"{server.url}/ocpi/2.2.1/{module}")
    async with httpx.AsyncClient(timeout=10) as http:
        yield Cpo(state, server, partner_id, sessionmaker, http)


async def location_ids(sessionmaker: SessionMaker, *, gone: bool | None = False) -> list[str]:
    table = IngestedLocation.__table__  # type: ignore[attr-defined]
    where = [] if gone is None else [table.c.gone_at.is_not(None) if gone else table.c.gone_at.is_(None)]
    return sorted(r.location_id for r in await rows(sessionmaker, IngestedLocation, *where))


async def test_full_pull_follows_links_and_records_the_checkpoint(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 121)]
    outcome = await cpo.sync(full=True)
    assert (outcome.status, outcome.pages, outcome.items, outcome.full) == ("complete", 3, 120, True)
    assert cpo.state.offsets_requested("locations") == [0, 50, 100]
    assert cpo.state.requests[0][1] == {"limit": "500"}  # asked 500, the server's X-Limit is 50
    assert len(await location_ids(cpo.sessionmaker)) == 120
    checkpoint = await cpo.checkpoint()
    assert checkpoint.watermark == fake.T0.replace(hour=2)  # minute 120
    assert checkpoint.crawl_id is None and checkpoint.cursor_url is None and checkpoint.last_items == 120
    assert await count(cpo.sessionmaker, IngestedEvse) == 240


async def test_incremental_pull_picks_up_only_changes(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 101)]
    await cpo.sync()  # no watermark yet: a full pull
    changed = fake.location(7, minute=500)
    changed["name"] = "Renamed"
    cpo.state.objects["locations"][6] = changed
    cpo.state.objects["locations"].append(fake.location(101, minute=501))
    cpo.state.requests.clear()
    outcome = await cpo.sync()
    assert (outcome.status, outcome.full) == ("complete", False)
    assert cpo.state.requests[0][1]["date_from"] == fake.ts(100)  # the watermark, inclusive
    assert outcome.items == 3  # the edge object at the watermark, the changed one, the new one
    async with cpo.sessionmaker() as session:
        stored = (
            await session.exec(select(IngestedLocation).where(IngestedLocation.location_id == "LOC000007"))
        ).one()[0]
        assert stored.name == "Renamed"
    assert len(await location_ids(cpo.sessionmaker)) == 101
    assert (await cpo.checkpoint()).watermark == fake.T0.replace(hour=8, minute=21)  # minute 501


async def test_invalid_and_foreign_items_are_quarantined_the_rest_stored(cpo: Cpo) -> None:
    bad = fake.location(5)
    bad["coordinates"] = {"latitude": "north", "longitude": "4.0"}
    foreign = fake.location(6, pid="XYZ")
    unreadable = {"hello": "world"}
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 5)] + [bad, foreign, unreadable]
    outcome = await cpo.sync(full=True)
    assert (outcome.status, outcome.items, outcome.rejected) == ("complete", 4, 3)
    quarantined = {r.object_ref: r for r in await rows(cpo.sessionmaker, PullQuarantine)}
    assert "coordinates.latitude" in quarantined["NL/CPO/LOC000005"].reason
    assert "XYZ" in quarantined["NL/XYZ/LOC000006"].reason
    (digest,) = [ref for ref in quarantined if ref.startswith("sha256:")]
    assert '"hello"' in quarantined[digest].payload
    await cpo.sync(full=True)  # seen again: counted, not duplicated
    assert {r.object_ref: r.times for r in await rows(cpo.sessionmaker, PullQuarantine)}[
        "NL/CPO/LOC000005"
    ] == 2
    cpo.state.objects["locations"][4] = fake.location(5, minute=50)  # fixed by the CPO
    await cpo.sync()
    refs = {r.object_ref for r in await rows(cpo.sessionmaker, PullQuarantine)}
    assert "NL/CPO/LOC000005" not in refs and len(refs) == 2


async def test_total_count_drop_mid_crawl_misses_nothing(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 151)]

    def vanish(state: fake.SenderState) -> None:  # 3 objects of page 1 leave the list after it is served
        state.objects["locations"] = [
            o for o in state.objects["locations"] if o["id"] not in {"LOC000002", "LOC000003", "LOC000004"}
        ]

    cpo.state.after_page[("locations", 0)] = vanish
    outcome = await cpo.sync(full=True)
    assert outcome.status == "complete"
    assert cpo.state.offsets_requested("locations") == [0, 50, 47, 97]
    stored = await location_ids(cpo.sessionmaker)
    assert len(stored) == 150  # the 3 that vanished were stored from page 1; the rest none missed
    assert await location_ids(cpo.sessionmaker, gone=True) == []


async def test_failed_page_retried_with_backoff(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 101)]
    cpo.state.fail[("locations", 50)] = [503, 502]
    outcome = await cpo.sync(full=True)
    assert (outcome.status, outcome.items) == ("complete", 100)
    assert cpo.state.offsets_requested("locations") == [0, 50, 50, 50]


async def test_never_spins_on_an_error_page(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 101)]
    cpo.state.fail[("locations", 50)] = ["ocpi2001"] * 10
    outcome = await cpo.sync(full=True)
    assert outcome.status == "incomplete" and "2001" in (outcome.message or "")
    assert cpo.state.offsets_requested("locations") == [0, 50]  # a client error is not retried
    cpo.state.fail[("locations", 50)] = [500] * 10
    cpo.state.requests.clear()
    outcome = await cpo.sync(full=True)
    assert outcome.status == "incomplete"
    assert cpo.state.offsets_requested("locations") == [50, 50, 50]  # resumed there; 3 tries, then stop


async def test_crash_mid_crawl_resumes_from_checkpoint_and_partial_full_pull_does_not_sweep(cpo: Cpo) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 201)]
    assert (await cpo.sync(full=True)).status == "complete"
    # The CPO drops 20 locations; a full pull breaks at page 3 (offset 100): nothing may be swept yet.
    cpo.state.objects["locations"] = [
        o for o in cpo.state.objects["locations"] if not o["id"].endswith(("1", "3"))
    ]
    assert len(cpo.state.objects["locations"]) == 160
    cpo.state.fail[("locations", 100)] = [500] * 10
    cpo.state.requests.clear()
    first = await cpo.sync(full=True)
    assert (first.status, first.pages) == ("incomplete", 2)
    assert await location_ids(cpo.sessionmaker, gone=True) == []
    checkpoint = await cpo.checkpoint()
    assert checkpoint.crawl_id is not None and "offset=100" in checkpoint.cursor_url
    assert checkpoint.last_error and checkpoint.crawl_pages == 2
    crawl_id = checkpoint.crawl_id

    cpo.state.fail.clear()
    cpo.state.requests.clear()
    second = await cpo.sync()  # even an incremental request resumes the interrupted full crawl
    assert (second.status, second.resumed, second.full) == ("complete", True, True)
    assert cpo.state.offsets_requested("locations")[0] == 100
    assert second.pages == 4 and second.swept == 40  # pages 1-2 before the break, 3-4 now
    gone = await location_ids(cpo.sessionmaker, gone=True)
    assert len(gone) == 40 and all(i.endswith(("1", "3")) for i in gone)
    assert len(await location_ids(cpo.sessionmaker)) == 160
    assert (await cpo.checkpoint()).crawl_id is None and crawl_id


async def test_sweep_spares_objects_pushed_during_the_crawl(cpo: Cpo, db_url: str) -> None:
    cpo.state.objects["locations"] = [fake.location(i) for i in range(1, 61)]
    await cpo.sync(full=True)
    cpo.state.objects["locations"] = cpo.state.objects["locations"][:50]  # 51-60 no longer listed

    def push(state: fake.SenderState) -> None:  # LOC000055 is pushed to us while the crawl runs
        async def go() -> None:
            engine = make_engine(db_url)
            async with make_sessionmaker(engine)() as session:
                location = Location.model_validate(fake.location(55, minute=900))
                await store_locations(session, [location], partner_id=cpo.partner_id)
                await session.commit()
            await engine.dispose()

        thread = threading.Thread(target=lambda: asyncio.run(go()))
        thread.start()
        thread.join()

    cpo.state.after_page[("locations", 0)] = push
    outcome = await cpo.sync(full=True)
    assert outcome.status == "complete"
    gone = await location_ids(cpo.sessionmaker, gone=True)
    assert "LOC000055" not in gone and len(gone) == 9


async def test_tariffs_and_sessions_pull(cpo: Cpo) -> None:
    cpo.state.objects["tariffs"] = [fake.tariff(i) for i in range(1, 4)]
    cpo.state.objects["sessions"] = [fake.session(i) for i in range(1, 5)]
    assert (await cpo.sync("tariffs", full=True)).items == 3
    cpo.state.objects["tariffs"] = [
        fake.tariff(1),
        fake.tariff(2, minute=100, price=0.30),
    ]  # T3 gone, T2 changed
    outcome = await cpo.sync("tariffs", full=True)
    assert (outcome.status, outcome.swept) == ("complete", 1)
    tariffs = {r.tariff_id: r for r in await rows(cpo.sessionmaker, IngestedTariff)}
    assert tariffs["T3"].deleted_at is not None and tariffs["T2"].version == 2
    assert await count(cpo.sessionmaker, TariffVersion) == 5  # T1 v1, T2 v1+v2, T3 v1 + tombstone

    ten_years = dataclasses.replace(OPTIONS, sessions_lookback=timedelta(days=3650))
    outcome = await cpo.sync("sessions", options=ten_years)
    assert (outcome.status, outcome.items, outcome.full) == ("complete", 4, True)
    assert "date_from" in cpo.state.requests[-1][1]  # Sessions GET needs date_from (look-back)
    cpo.state.objects["sessions"] = []
    assert (await cpo.sync("sessions", full=True, options=ten_years)).swept == 0  # sessions are never swept
    assert await count(cpo.sessionmaker, IngestedSession) == 4


async def test_hubclientinfo_pull_from_a_hub(
    sender: tuple[fake.SenderState, RunningServer], sessionmaker: SessionMaker
) -> None:
    state, server = sender
    async with sessionmaker() as session:
        hub, _ = await make_partner(session, country_code="DE", party_id="HUB", role="HUB")
        hub.client_token = state.token
        await session.commit()
        assert hub.id is not None
        hub_id = hub.id
    for module in ("hubclientinfo", "locations"):
        await add_endpoint(sessionmaker, hub_id, module, "SENDER", f"{server.url}/ocpi/2.2.1/{module}")
    state.objects["hubclientinfo"] = [
        fake.client_info("BE", "BEC"),
        fake.client_info("FR", "ABC", status="SUSPENDED"),
    ]
    state.objects["locations"] = [fake.location(1, cc="BE", pid="BEC"), fake.location(2, cc="FR", pid="ABC")]
    async with httpx.AsyncClient() as http, sessionmaker() as session:
        partner = await session.get(Partner, hub_id)
        assert partner is not None
        info = await sync_module(session, http, partner, "hubclientinfo", OPTIONS)
        assert (info.status, info.items) == ("complete", 2)
        located = await sync_module(session, http, partner, "locations", OPTIONS)
        assert (located.items, located.rejected) == (1, 1)  # FR/ABC is SUSPENDED
        routed = state.requests[-1]
        assert routed[0] == "locations"
    assert await location_ids(sessionmaker) == ["LOC000001"]


async def test_skips_partners_without_endpoint_or_connection(cpo: Cpo) -> None:
    outcome = await cpo.sync("hubclientinfo")
    assert outcome.status == "skipped" and "SENDER" in (outcome.message or "")
    async with cpo.sessionmaker() as session:
        partner = await session.get(Partner, cpo.partner_id)
        assert partner is not None
        partner.status = "SUSPENDED"
        await session.commit()
    outcome = await cpo.sync()
    assert outcome.status == "skipped" and "SUSPENDED" in (outcome.message or "")
