"""Tariffs RECEIVER (spec mod_tariffs.asciidoc 11.2.2): every spec Tariff example stored and read back, the
version history, DELETE keeping history, and `tariff_in_force` picking the version that applied."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from emsp.ingest.keys import ObjectKey
from emsp.ingest.tables import IngestedTariff, TariffVersion
from emsp.ingest.tariffs import tariff_in_force, tariff_versions
from tests.support.ingest import V, count, example, example_names, pushing_partner

URL20 = f"{V}/tariffs/DE/ALL/20"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> dict[str, str]:
    _, headers = await pushing_partner(sessionmaker, ("DE", "ALL"))
    return headers


async def put(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await client.put(
        f"{V}/tariffs/{body['country_code']}/{body['party_id']}/{body['id']}", json=body, headers=headers
    )


@pytest.mark.parametrize("name", [n for n in example_names("tariff_") if n != "tariff_put_example.json"])
async def test_every_spec_tariff_example_is_stored_and_read_back(
    client: httpx.AsyncClient, cpo: dict[str, str], name: str
) -> None:
    tariff = example(name)
    response = await put(client, tariff, cpo)
    assert (response.status_code, response.json()["status_code"]) == (201, 1000), response.text
    got = await client.get(f"{V}/tariffs/DE/ALL/{tariff['id']}", headers=cpo)
    assert got.json()["data"] == tariff


async def test_spec_put_example_lacks_last_updated(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    """`tariff_put_example.json` has no `last_updated` (required, 11.3.1): 2001; with one it is stored."""
    tariff = example("tariff_put_example.json")
    response = await put(client, tariff, cpo)
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    assert "last_updated" in response.json()["status_message"]
    assert await count(sessionmaker, IngestedTariff) == 0
    tariff["last_updated"] = "2019-01-01T00:00:00Z"
    assert (await put(client, tariff, cpo)).status_code == 201


async def test_versions_kept_and_tariff_in_force(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    v1 = example("tariff_12_025kwh_min_price.json")  # DE/ALL/20 @ 2018-12-17T16:45:21Z
    v2 = example("tariff_15_reservation_5_euro_per_hour.json")  # DE/ALL/20 @ 2019-02-03T17:00:11Z
    fix = example("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json")  # same last_updated as v2
    assert (await put(client, v1, cpo)).status_code == 201
    assert (await put(client, v1, cpo)).status_code == 200  # a repeat: no new version
    assert (await put(client, dict(v1, last_updated="2018-12-18T00:00:00Z"), cpo)).status_code == 200
    assert await count(sessionmaker, TariffVersion) == 1
    assert (await put(client, v2, cpo)).status_code == 200
    assert (await put(client, fix, cpo)).status_code == 200  # same last_updated, new content: corrected
    older = dict(v2, currency="USD", last_updated="2018-01-01T00:00:00Z")
    ignored = await put(client, older, cpo)
    assert ignored.json()["status_code"] == 1000 and "Ignored" in ignored.json()["status_message"]

    async with sessionmaker() as session:
        versions = await tariff_versions(session, ObjectKey("DE", "ALL", "20"))
        assert [(v["version"], v["valid_from"]) for v in versions] == [
            (1, "2018-12-17T16:45:21Z"),
            (2, "2019-02-03T17:00:11Z"),
        ]
        assert versions[1]["data"] == fix
        assert await tariff_in_force(session, "DE", "ALL", "20", at("2018-12-10T00:00:00Z")) is None
        first = await tariff_in_force(session, "de", "all", "20", at("2018-12-17T16:45:21Z"))
        assert first is not None and first.version == 1 and first.data == v1
        assert (await tariff_in_force(session, "DE", "ALL", "20", at("2019-02-03T17:00:10Z"))).version == 1  # type: ignore[union-attr]
        second = await tariff_in_force(session, "DE", "ALL", "20", at("2030-01-01T00:00:00Z"))
        assert second is not None and second.version == 2 and second.tariff.currency == "EUR"
        fallback = await tariff_in_force(
            session, "DE", "ALL", "20", at("2000-01-01T00:00:00Z"), fallback_to_first=True
        )
        assert fallback is not None and fallback.version == 1
        assert await tariff_in_force(session, "DE", "ALL", "nope", at("2030-01-01T00:00:00Z")) is None


async def test_delete_keeps_history_and_put_brings_it_back(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    tariff = example("tariff_1_simple_2hour.json")
    url = f"{V}/tariffs/DE/ALL/12"
    await put(client, tariff, cpo)
    deleted = await client.delete(url, headers=cpo)
    assert (deleted.status_code, deleted.json()["status_code"]) == (200, 1000)
    assert (await client.delete(url, headers=cpo)).status_code == 200  # a repeat succeeds
    assert (await client.get(url, headers=cpo)).status_code == 404
    missing = await client.delete(f"{V}/tariffs/DE/ALL/never", headers=cpo)
    assert (missing.status_code, missing.json()["status_code"]) == (404, 2000)
    async with sessionmaker() as session:
        in_force_before = await tariff_in_force(session, "DE", "ALL", "12", at("2016-01-01T00:00:00Z"))
        assert in_force_before is not None and in_force_before.version == 1
        assert await tariff_in_force(session, "DE", "ALL", "12", datetime.now(UTC)) is None
        versions = await tariff_versions(session, ObjectKey("DE", "ALL", "12"))
        assert [v["deleted"] for v in versions] == [False, True]
    back = dict(tariff, last_updated="2031-01-01T00:00:00Z")
    assert (await put(client, back, cpo)).status_code == 200
    assert (await client.get(url, headers=cpo)).json()["data"] == back
    async with sessionmaker() as session:
        now = await tariff_in_force(session, "DE", "ALL", "12", at("2031-06-01T00:00:00Z"))
        assert now is not None and now.version == 3


async def test_tariff_window_limits_in_force(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    tariff = dict(
        example("tariff_1_simple_2hour.json"),
        start_date_time="2016-01-01T00:00:00Z",
        end_date_time="2017-01-01T00:00:00Z",
    )
    await put(client, tariff, cpo)
    async with sessionmaker() as session:
        assert await tariff_in_force(session, "DE", "ALL", "12", at("2015-12-31T23:00:00Z")) is None
        assert await tariff_in_force(session, "DE", "ALL", "12", at("2016-06-01T00:00:00Z")) is not None
        assert await tariff_in_force(session, "DE", "ALL", "12", at("2017-01-01T00:00:00Z")) is None
