"""Sessions RECEIVER (spec mod_sessions.asciidoc 9.2.2): the spec examples stored and read back, the PATCH
examples, charging periods appended (and a replay not duplicating them), PUT replacing them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from emsp.ingest.tables import IngestedSession
from tests.support.ingest import V, count, example, example_names, pushing_partner, rows


def url_of(body: dict[str, Any]) -> str:
    return f"{V}/sessions/{body['country_code']}/{body['party_id']}/{body['id']}"


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> dict[str, str]:
    _, headers = await pushing_partner(sessionmaker, ("NL", "STK"), ("BE", "BEC"))
    return headers


@pytest.mark.parametrize("name", example_names("session_example"))
async def test_every_spec_session_example_is_stored_and_read_back(
    client: httpx.AsyncClient, cpo: dict[str, str], name: str
) -> None:
    body = example(name)
    response = await client.put(url_of(body), json=body, headers=cpo)
    assert (response.status_code, response.json()["status_code"]) == (201, 1000), response.text
    assert (await client.get(url_of(body), headers=cpo)).json()["data"] == body
    assert (await client.put(url_of(body), json=body, headers=cpo)).status_code == 200


async def test_session_patch_examples_and_append(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    body = example("session_example_1_simple_start.json")  # NL/STK/101, no charging periods
    body["last_updated"] = "2019-06-23T08:00:00Z"  # older than the PATCH examples (2019-06-23T08:11/08:16)
    url = url_of(body)
    await client.put(url, json=body, headers=cpo)
    cost = example("session_patch_example_total_cost.json")
    assert (await client.patch(url, json=cost, headers=cpo)).status_code == 200
    period = example("session_patch_example_charging_period.json")
    assert (await client.patch(url, json=period, headers=cpo)).status_code == 200
    assert (await client.patch(url, json=period, headers=cpo)).status_code == 200  # replayed
    stored = (await client.get(url, headers=cpo)).json()["data"]
    assert stored["kwh"] == 15
    assert stored["total_cost"] == {"excl_vat": 0.8, "incl_vat": 0.88}
    assert stored["charging_periods"] == period["charging_periods"]
    assert stored["last_updated"] == "2019-06-23T08:16:02Z"
    second = {
        "charging_periods": [
            {"start_date_time": "2020-03-09T10:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 1.5}]},
            period["charging_periods"][0],  # already stored: not added again
        ],
        "last_updated": "2020-03-09T10:31:00Z",
    }
    assert (await client.patch(url, json=second, headers=cpo)).status_code == 200
    stored = (await client.get(url, headers=cpo)).json()["data"]
    assert [p["start_date_time"] for p in stored["charging_periods"]] == [
        "2019-06-23T08:16:02Z",
        "2020-03-09T10:30:00Z",
    ]
    no_periods = {"charging_periods": [], "status": "ACTIVE", "last_updated": "2020-03-09T10:32:00Z"}
    assert (await client.patch(url, json=no_periods, headers=cpo)).status_code == 200
    stored = (await client.get(url, headers=cpo)).json()["data"]
    assert len(stored["charging_periods"]) == 2 and stored["status"] == "ACTIVE"
    (row,) = await rows(sessionmaker, IngestedSession)
    assert row.status == "ACTIVE" and str(row.kwh) == "15" and row.token_uid == "123abc"


async def test_put_replaces_charging_periods(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    body = example("session_example_2_short_finished.json")
    url = url_of(body)
    await client.put(url, json=body, headers=cpo)
    assert len((await client.get(url, headers=cpo)).json()["data"]["charging_periods"]) > 0
    emptied = dict(body, charging_periods=[], last_updated="2030-01-01T00:00:00Z")
    assert (await client.put(url, json=emptied, headers=cpo)).status_code == 200
    assert (await client.get(url, headers=cpo)).json()["data"]["charging_periods"] == []


async def test_session_patch_rules(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    body = example("session_example_2_short_finished.json")
    url = url_of(body)
    unknown = await client.patch(url, json={"kwh": 1, "last_updated": "2030-01-01T00:00:00Z"}, headers=cpo)
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2000)
    await client.put(url, json=body, headers=cpo)
    missing = await client.patch(url, json={"kwh": 1}, headers=cpo)
    assert (missing.status_code, missing.json()["status_code"]) == (400, 2001)
    older = {
        "kwh": 99,
        "charging_periods": body["charging_periods"][:1],
        "last_updated": "2010-01-01T00:00:00Z",
    }
    ignored = await client.patch(url, json=older, headers=cpo)
    assert ignored.json()["status_code"] == 1000 and "Ignored" in ignored.json()["status_message"]
    stale_put = dict(body, kwh=1, last_updated="2010-01-01T00:00:00Z")
    assert (await client.put(url, json=stale_put, headers=cpo)).json()["status_code"] == 1000
    assert (await client.get(url, headers=cpo)).json()["data"] == body
    bad_period = {"charging_periods": [{"start_date_time": "x"}], "last_updated": "2030-01-01T00:00:00Z"}
    refused = await client.patch(url, json=bad_period, headers=cpo)
    assert (refused.status_code, refused.json()["status_code"]) == (400, 2001)
    assert await count(sessionmaker, IngestedSession) == 1
