"""Operator views of the ingested data (`/admin/v1/locations`, `.geojson`, `/tariffs`, `/sessions`,
`/ingest/quarantine`, `/sync`), the sync trigger, `emsp sync` (CLI, `--json`) and the scheduled pull job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from emsp.cli import app as cli
from emsp.db import SessionMaker
from emsp.ingest.jobs import is_due, is_full_due, run_due_pulls
from emsp.ingest.sync import advisory_key, sync_module
from emsp.settings import Settings
from ocpi.types import utcnow
from partners.tables import Partner
from tests.support import fake_cpo_sender as fake
from tests.support.builders import make_partner
from tests.support.ingest import V, add_endpoint, example, pushing_partner
from tests.support.servers import RunningServer

A = "/admin/v1"


@pytest.fixture
async def pushed(client: httpx.AsyncClient, sessionmaker: SessionMaker) -> dict[str, str]:
    """Locations (BE/BEC LOC1, NL/ALF uc2, NL/ALL uc4), two Tariffs, two Sessions, via the Receiver API."""
    _, cpo = await pushing_partner(sessionmaker, ("BE", "BEC"), ("NL", "ALF"), ("NL", "ALL"), ("NL", "STK"))
    for name in (
        "location_example.json",
        "location_example_uc2_destination_charger.json",
        "location_example_uc4_limited_visibility.json",
    ):
        loc = example(name)
        r = await client.put(
            f"{V}/locations/{loc['country_code']}/{loc['party_id']}/{loc['id']}", json=loc, headers=cpo
        )
        assert r.status_code == 201
    for i, tariff_id in enumerate(("11", "12")):
        tariff = dict(example("tariff_1_simple_2hour.json"), country_code="BE", party_id="BEC", id=tariff_id)
        tariff["last_updated"] = f"2015-06-29T20:39:0{i}Z"
        assert (
            await client.put(f"{V}/tariffs/BE/BEC/{tariff_id}", json=tariff, headers=cpo)
        ).status_code == 201
    tariff = dict(tariff, last_updated="2016-01-01T00:00:00Z", currency="USD")
    await client.put(f"{V}/tariffs/BE/BEC/12", json=tariff, headers=cpo)
    for name in ("session_example_1_simple_start.json", "session_example_2_short_finished.json"):
        s = example(name)
        assert (
            await client.put(
                f"{V}/sessions/{s['country_code']}/{s['party_id']}/{s['id']}", json=s, headers=cpo
            )
        ).status_code == 201
    await client.patch(
        f"{V}/locations/BE/BEC/LOC1/3257",
        json={"status": "CHARGING", "last_updated": "2020-01-01T00:00:00Z"},
        headers=cpo,
    )
    return cpo


async def test_location_list_filters_sorts_and_counts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], pushed: Any
) -> None:
    page = (await client.get(f"{A}/locations", headers=admin_headers)).json()
    assert page["total"] == 3 and page["items"][0]["id"] == "3e7b39c2-10d0-4138-a8b3-8509a25f9920"
    loc1 = (await client.get(f"{A}/locations", params={"location_id": "loc1"}, headers=admin_headers)).json()[
        "items"
    ][0]
    assert loc1["evse_counts"] == {"AVAILABLE": 1, "CHARGING": 1} and loc1["evses"] == 2
    assert loc1["time_zone"] == "Europe/Brussels" and loc1["last_updated"] == "2020-01-01T00:00:00Z"
    by_city = (await client.get(f"{A}/locations", params={"city": "GENT"}, headers=admin_headers)).json()
    assert [i["id"] for i in by_city["items"]] == ["LOC1"]
    by_name = (
        await client.get(f"{A}/locations", params={"name": "zuid", "publish": "true"}, headers=admin_headers)
    ).json()
    assert by_name["total"] == 1
    nl = (
        await client.get(
            f"{A}/locations",
            params={"country_code": "nl", "sort": "-name", "limit": 1},
            headers=admin_headers,
        )
    ).json()
    assert nl["total"] == 2 and len(nl["items"]) == 1 and nl["limit"] == 1
    newest = (
        await client.get(f"{A}/locations", params={"sort": "-last_updated"}, headers=admin_headers)
    ).json()
    assert newest["items"][0]["id"] == "LOC1"  # moved to 2020 by its EVSE's PATCH
    bad = await client.get(f"{A}/locations", params={"sort": "colour"}, headers=admin_headers)
    assert bad.status_code == 400 and "sort" in bad.json()["error"]["message"]
    assert (await client.get(f"{A}/locations")).status_code == 401


async def test_geojson_and_location_detail(
    client: httpx.AsyncClient, admin_headers: dict[str, str], pushed: Any
) -> None:
    response = await client.get(f"{A}/locations.geojson", headers=admin_headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 3
    loc1 = next(f for f in collection["features"] if f["properties"]["id"] == "LOC1")
    assert loc1["geometry"] == {"type": "Point", "coordinates": [3.729944, 51.047599]}
    boxed = (
        await client.get(f"{A}/locations.geojson", params={"bbox": "3,51,4,52"}, headers=admin_headers)
    ).json()
    assert [f["properties"]["id"] for f in boxed["features"]] == ["LOC1"]
    assert (
        await client.get(f"{A}/locations.geojson", params={"bbox": "1,2"}, headers=admin_headers)
    ).status_code == 400

    detail = (await client.get(f"{A}/locations/be/bec/loc1", headers=admin_headers)).json()
    assert [e["uid"] for e in detail["location"]["evses"]] == ["3256", "3257"]
    assert detail["tariffs"]["11"]["id"] == "11" and detail["tariffs"]["12"]["currency"] == "USD"
    assert detail["tariffs"]["13"] is None  # named by a connector, not received
    assert detail["evse_counts"] == {"AVAILABLE": 1, "CHARGING": 1}
    assert (await client.get(f"{A}/locations/BE/BEC/none", headers=admin_headers)).status_code == 404


async def test_tariffs_and_sessions_views(
    client: httpx.AsyncClient, admin_headers: dict[str, str], pushed: Any
) -> None:
    tariffs = (await client.get(f"{A}/tariffs", params={"sort": "-tariff_id"}, headers=admin_headers)).json()
    assert [t["id"] for t in tariffs["items"]] == ["12", "11"] and tariffs["items"][0]["version"] == 2
    usd = (await client.get(f"{A}/tariffs", params={"currency": "usd"}, headers=admin_headers)).json()
    assert usd["total"] == 1
    detail = (await client.get(f"{A}/tariffs/BE/BEC/12", headers=admin_headers)).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2] and detail["tariff"]["currency"] == "USD"
    assert detail["versions"][0]["data"]["currency"] == "EUR"

    sessions = (await client.get(f"{A}/sessions", headers=admin_headers)).json()
    assert [s["start_date_time"] for s in sessions["items"]] == [
        "2020-03-09T10:17:09Z",
        "2015-06-29T22:39:09Z",
    ]
    by_token = (
        await client.get(f"{A}/sessions", params={"token_uid": "123ABC"}, headers=admin_headers)
    ).json()
    assert by_token["total"] >= 1 and all(s["token_uid"].upper() == "123ABC" for s in by_token["items"])
    ranged = (
        await client.get(
            f"{A}/sessions",
            params={"date_from": "2020-01-01T00:00:00Z", "status": "PENDING"},
            headers=admin_headers,
        )
    ).json()
    assert [s["party_id"] for s in ranged["items"]] == ["STK"]
    party = (
        await client.get(
            f"{A}/sessions",
            params={"country_code": "BE", "party_id": "BEC", "sort": "kwh"},
            headers=admin_headers,
        )
    ).json()
    assert party["total"] == 1 and party["items"][0]["charging_periods"] > 0
    one = (await client.get(f"{A}/sessions/BE/BEC/101", headers=admin_headers)).json()
    assert one["session"] == example("session_example_2_short_finished.json")
    assert (
        await client.get(f"{A}/sessions", params={"status": "NOPE"}, headers=admin_headers)
    ).status_code == 400


@pytest.fixture
def sender() -> Iterator[tuple[fake.SenderState, RunningServer]]:
    state = fake.SenderState()
    with fake.running(state) as server:
        yield state, server


@pytest.fixture
async def puller(
    sender: tuple[fake.SenderState, RunningServer], sessionmaker: SessionMaker
) -> AsyncIterator[tuple[fake.SenderState, int]]:
    state, server = sender
    async with sessionmaker() as session:
        partner, _ = await make_partner(session, name="fake-cpo", country_code="NL", party_id="CPO")
        partner.client_token = state.token
        await session.commit()
        assert partner.id is not None
        partner_id = partner.id
    await add_endpoint(sessionmaker, partner_id, "locations", "SENDER", f"{server.url}/ocpi/2.2.1/locations")
    state.objects["locations"] = [fake.location(i) for i in range(1, 71)] + [{"id": "broken"}]
    yield state, partner_id


async def test_sync_trigger_status_and_quarantine(
    client: httpx.AsyncClient, admin_headers: dict[str, str], puller: Any
) -> None:
    state, _ = puller
    response = await client.post(
        f"{A}/sync/locations",
        params={"partner": "fake-cpo", "full": "true", "wait": "true"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    (outcome,) = response.json()["outcomes"]
    assert (outcome["status"], outcome["items"], outcome["rejected"], outcome["pages"]) == (
        "complete",
        70,
        1,
        2,
    )
    status = (await client.get(f"{A}/sync", headers=admin_headers)).json()["items"]
    assert (
        status[0]["partner"] == "fake-cpo"
        and status[0]["watermark"] == fake.ts(70)
        and status[0]["last_error"] is None
    )
    quarantined = (
        await client.get(f"{A}/ingest/quarantine", params={"module": "locations"}, headers=admin_headers)
    ).json()
    assert quarantined["total"] == 1 and "invalid" in quarantined["items"][0]["reason"]
    started = await client.post(f"{A}/sync/locations", headers=admin_headers)
    assert started.status_code == 202 and started.json()["started"] is True
    for _ in range(100):
        await asyncio.sleep(0.05)
        if (await client.get(f"{A}/sync", headers=admin_headers)).json()["items"][0][
            "last_completed_at"
        ] != status[0]["last_completed_at"]:
            break
    assert state.requests[-1][1].get("date_from") == fake.ts(70)
    assert (
        await client.post(f"{A}/sync/locations", params={"partner": "nobody"}, headers=admin_headers)
    ).status_code == 404
    assert (await client.post(f"{A}/sync/cdrs", headers=admin_headers)).status_code == 400


async def test_cli_sync_json(db_url: str, puller: Any) -> None:
    env = {
        "EMSP_DATABASE_URL": db_url,
        "EMSP_PARTIES": '[{"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"}]',
        "EMSP_LOG_LEVEL": "WARNING",
        "EMSP_ALLOW_PRIVATE_URLS": "true",
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["sync", "locations", "--partner", "fake-cpo", "--full", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    (outcome,) = json.loads(result.stdout)
    assert (outcome["partner"], outcome["status"], outcome["items"], outcome["full"]) == (
        "fake-cpo",
        "complete",
        70,
        True,
    )
    table = await asyncio.to_thread(CliRunner().invoke, cli, ["sync", "locations"], env=env)
    assert table.exit_code == 0 and "Pull sync" in table.stdout
    unknown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["sync", "locations", "--partner", "x"], env=env
    )
    assert unknown.exit_code == 1


async def test_scheduled_pulls_run_when_due(
    settings: Settings, sessionmaker: SessionMaker, puller: Any
) -> None:
    _ = puller
    settings = settings.model_copy(
        update={"pull_modules": ["locations"], "pull_backoff_initial_seconds": 0.01}
    )
    async with sessionmaker() as session, httpx.AsyncClient() as http:
        first = await run_due_pulls(session, http, settings)
        assert [(o.module, o.status, o.full) for o in first] == [("locations", "complete", True)]
        assert await run_due_pulls(session, http, settings) == []  # not due again for hours
        later = utcnow() + timedelta(
            hours=settings.pull_interval_hours, minutes=settings.pull_jitter_minutes + 1
        )
        again = await run_due_pulls(session, http, settings, now=later)
        assert [(o.status, o.full) for o in again] == [("complete", False)]
    now = utcnow()
    assert is_due(settings, 1, "locations", last_completed=None, last_error=None, now=now)
    assert not is_due(
        settings, 1, "locations", last_completed=now - timedelta(hours=1), last_error=None, now=now
    )
    assert not is_due(
        settings, 1, "locations", last_completed=None, last_error=now - timedelta(minutes=5), now=now
    )
    assert is_due(
        settings, 1, "locations", last_completed=None, last_error=now - timedelta(minutes=31), now=now
    )
    assert is_full_due(settings, None, now) and not is_full_due(settings, now - timedelta(hours=1), now)


async def test_one_pull_at_a_time_across_nodes(
    is_postgres: bool, engine: Any, sessionmaker: SessionMaker, puller: Any
) -> None:
    """On PostgreSQL a pull of (partner, module) takes an advisory lock: held elsewhere, the pull is busy."""
    if not is_postgres:
        pytest.skip("advisory locks are PostgreSQL's; SQLite runs one node")
    from sqlalchemy import text

    from emsp.ingest.jobs import options_from

    _, partner_id = puller
    key = advisory_key(f"emsp.pull:{partner_id}:locations")
    async with engine.connect() as other_node:
        assert (await other_node.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        async with sessionmaker() as session, httpx.AsyncClient() as http:
            partner = await session.get(Partner, partner_id)
            assert partner is not None
            options = options_from(
                Settings(
                    database_url="sqlite://", parties=[{"country_code": "NL", "party_id": "EMS", "name": "x"}]
                )
            )  # type: ignore[list-item]
            outcome = await sync_module(session, http, partner, "locations", options)
            assert outcome.status == "busy"
        await other_node.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        await other_node.commit()
