"""Locations RECEIVER (spec mod_locations.asciidoc 8.2.2): every spec Location example stored and read back,
the PATCH examples, EVSE/Connector levels, parent `last_updated`, unknown parents, out-of-order writes."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from emsp.ingest.tables import IngestedEvse, IngestedLocation
from tests.support.ingest import V, count, example, example_names, pushing_partner
from tests.support.servers import RunningServer

LOC = f"{V}/locations/BE/BEC/LOC1"
STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER", "RESERVED")


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> dict[str, str]:
    _, headers = await pushing_partner(sessionmaker, ("BE", "BEC"))
    return headers


async def put(client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return await client.put(url, json=body, headers=headers)


async def get_data(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 1000
    return response.json()["data"]


@pytest.mark.parametrize("name", example_names("location_example"))
async def test_every_spec_location_example_is_stored_and_read_back(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, name: str
) -> None:
    location = example(name)
    _, headers = await pushing_partner(sessionmaker, (location["country_code"], location["party_id"]))
    url = f"{V}/locations/{location['country_code']}/{location['party_id']}/{location['id']}"
    created = await put(client, url, location, headers)
    assert created.status_code == 201, created.text
    assert created.json()["status_code"] == 1000
    assert await get_data(client, url, headers) == location
    again = await put(client, url, location, headers)
    assert again.status_code == 200 and again.json()["status_code"] == 1000
    assert await count(sessionmaker, IngestedLocation) == 1
    assert await count(sessionmaker, IngestedEvse) == len(location.get("evses", []))


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("location_energymix_example_simple.json", None),
        ("location_energymix_example_energy_provider.json", None),
        ("location_energymix_example_complete.json", None),
        ("location_regularhours_example.json", None),
        ("location_hours_247_open_exception_closing.json", "opening_times"),
        ("location_hours_opening_hours_with_exceptional_closing.json", "opening_times"),
        ("location_hours_opening_hours_with_exceptional_opening.json", "opening_times"),
    ],
)
async def test_location_fragment_examples_patched_in(
    client: httpx.AsyncClient, cpo: dict[str, str], name: str, field: str | None
) -> None:
    assert (await put(client, LOC, example("location_example.json"), cpo)).status_code == 201
    fragment = example(name)
    body = {field: fragment} if field else dict(fragment)
    body["last_updated"] = "2020-01-01T00:00:00Z"
    response = await client.patch(LOC, json=body, headers=cpo)
    assert response.status_code == 200, response.text
    stored = await get_data(client, LOC, cpo)
    for key, value in body.items():
        assert stored[key] == value


async def test_location_patch_examples(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    await put(client, LOC, example("location_example.json"), cpo)
    name_patch = example("location_patch_example_location.json")
    assert (await client.patch(LOC, json=name_patch, headers=cpo)).status_code == 200
    status_patch = example("location_patch_example_status.json")
    assert (await client.patch(f"{LOC}/3256", json=status_patch, headers=cpo)).status_code == 200
    tariff_patch = example("location_patch_example_tariff.json")
    assert (await client.patch(f"{LOC}/3256/2", json=tariff_patch, headers=cpo)).status_code == 200
    removed = example("location_patch_example_remove_evse.json")
    assert (await client.patch(f"{LOC}/3257", json=removed, headers=cpo)).status_code == 200

    location = await get_data(client, LOC, cpo)
    assert location["name"] == "Interparking Gent Zuid"
    assert location["last_updated"] == "2019-06-24T12:39:09Z"
    evse = await get_data(client, f"{LOC}/3256", cpo)
    assert evse["status"] == "CHARGING" and evse["last_updated"] == "2019-06-24T12:39:09Z"
    connector = await get_data(client, f"{LOC}/3256/2", cpo)
    assert connector["tariff_ids"] == ["15"] and connector["last_updated"] == "2019-06-24T12:39:09Z"
    assert [e["status"] for e in location["evses"]] == ["CHARGING", "REMOVED"]
    assert location["evses"][0]["connectors"][1] == connector


async def test_spec_add_evse_example_is_incomplete_then_put_completed(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    """The spec's `location_put_example_add_evse.json` lacks Connector fields 2.2.1 requires (power_type,
    max_voltage, max_amperage, last_updated) and has floor/physical_reference of the wrong shape: it is
    refused with 2001 naming them. Completed, it is added and bumps the Location's `last_updated`."""
    await put(client, LOC, example("location_example.json"), cpo)
    evse = example("location_put_example_add_evse.json")
    refused = await put(client, f"{LOC}/3256", evse, cpo)
    assert refused.status_code == 400
    assert refused.json()["status_code"] == 2001
    assert "connectors.0.power_type" in refused.json()["status_message"]

    evse["uid"] = "3258"
    evse["physical_reference"] = "3"
    evse.pop("floor")
    evse["connectors"][0].update(
        power_type="AC_3_PHASE", max_voltage=230, max_amperage=16, last_updated="2019-06-24T12:39:09Z"
    )
    created = await put(client, f"{LOC}/3258", evse, cpo)
    assert created.status_code == 201, created.text
    assert await get_data(client, f"{LOC}/3258", cpo) == evse
    location = await get_data(client, LOC, cpo)
    assert [e["uid"] for e in location["evses"]] == ["3256", "3257", "3258"]
    assert location["last_updated"] == "2019-06-24T12:39:09Z"
    assert (await put(client, f"{LOC}/3258", evse, cpo)).status_code == 200
    assert await count(sessionmaker, IngestedEvse) == 3


async def test_connector_put_creates_then_replaces(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    await put(client, LOC, example("location_example.json"), cpo)
    connector = example("location_example.json")["evses"][1]["connectors"][0]
    connector.update(id="2", last_updated="2020-02-02T02:02:02Z")
    assert (await put(client, f"{LOC}/3257/2", connector, cpo)).status_code == 201
    connector["max_amperage"] = 32
    assert (await put(client, f"{LOC}/3257/2", connector, cpo)).status_code == 200
    assert await get_data(client, f"{LOC}/3257/2", cpo) == connector
    evse = await get_data(client, f"{LOC}/3257", cpo)
    assert [c["id"] for c in evse["connectors"]] == ["1", "2"]
    assert evse["last_updated"] == "2020-02-02T02:02:02Z"
    assert (await get_data(client, LOC, cpo))["last_updated"] == "2020-02-02T02:02:02Z"


async def test_location_put_keeps_evses_it_does_not_list(
    client: httpx.AsyncClient, cpo: dict[str, str]
) -> None:
    """EVSEs are removed only by status REMOVED (8.1): a Location PUT without one leaves it."""
    location = example("location_example.json")
    await put(client, LOC, location, cpo)
    location["evses"] = location["evses"][:1]
    location["last_updated"] = "2020-01-01T00:00:00Z"
    assert (await put(client, LOC, location, cpo)).status_code == 200
    stored = await get_data(client, LOC, cpo)
    assert [e["uid"] for e in stored["evses"]] == ["3256", "3257"]


async def test_unknown_parents_and_objects(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    evse = example("location_example.json")["evses"][0]
    connector = evse["connectors"][0]
    patch = {"status": "CHARGING", "last_updated": "2020-01-01T00:00:00Z"}
    for method, url, body in [
        ("PUT", f"{LOC}/3256", evse),
        ("PUT", f"{LOC}/3256/1", connector),
        ("PATCH", f"{LOC}/3256", patch),
        ("PATCH", f"{LOC}/3256/1", {"last_updated": "2020-01-01T00:00:00Z"}),
    ]:
        response = await client.request(method, url, json=body, headers=cpo)
        assert response.status_code == 404, (method, url)
        assert response.json()["status_code"] == 2003
    response = await client.patch(
        LOC, json={"name": "x", "last_updated": "2020-01-01T00:00:00Z"}, headers=cpo
    )
    assert (response.status_code, response.json()["status_code"]) == (404, 2000)
    await put(client, LOC, example("location_example.json"), cpo)
    for method, url, body in [
        ("PATCH", f"{LOC}/9999", patch),
        ("PATCH", f"{LOC}/3256/9", {"last_updated": "2020-01-01T00:00:00Z"}),
        ("PUT", f"{LOC}/9999/1", connector),
        ("GET", f"{LOC}/9999", None),
        ("GET", f"{LOC}/3256/9", None),
        ("GET", f"{V}/locations/BE/BEC/NOPE", None),
    ]:
        response = await client.request(method, url, json=body, headers=cpo)
        assert (response.status_code, response.json()["status_code"]) == (404, 2000), (method, url)


async def test_patch_without_last_updated_is_refused(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    await put(client, LOC, example("location_example.json"), cpo)
    for url, body in [(LOC, {"name": "x"}), (f"{LOC}/3256", {"status": "CHARGING"}), (f"{LOC}/3256/1", {})]:
        response = await client.patch(url, json=body, headers=cpo)
        assert response.status_code == 400
        assert response.json()["status_code"] == 2001
        assert "last_updated" in response.json()["status_message"]
    assert await get_data(client, LOC, cpo) == example("location_example.json")


async def test_out_of_order_writes_change_nothing(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    location = example("location_example.json")
    await put(client, LOC, location, cpo)
    older = dict(location, name="Old name", last_updated="2014-01-01T00:00:00Z")
    response = await put(client, LOC, older, cpo)
    assert (response.status_code, response.json()["status_code"]) == (200, 1000)
    assert "Ignored" in response.json()["status_message"]
    stale = {"status": "OUTOFORDER", "last_updated": "2015-06-28T08:12:00Z"}  # EVSE is 08:12:01
    assert (await client.patch(f"{LOC}/3256", json=stale, headers=cpo)).json()["status_code"] == 1000
    stale_connector = {"max_amperage": 99, "last_updated": "2015-03-16T10:10:01Z"}
    assert (await client.patch(f"{LOC}/3256/1", json=stale_connector, headers=cpo)).status_code == 200
    assert await get_data(client, LOC, cpo) == location


async def test_patch_may_not_change_keys_or_break_the_object(
    client: httpx.AsyncClient, cpo: dict[str, str]
) -> None:
    await put(client, LOC, example("location_example.json"), cpo)
    for url, body in [
        (LOC, {"id": "LOC2", "last_updated": "2020-01-01T00:00:00Z"}),
        (LOC, {"address": None, "last_updated": "2020-01-01T00:00:00Z"}),
        (f"{LOC}/3256", {"uid": "3999", "last_updated": "2020-01-01T00:00:00Z"}),
        (f"{LOC}/3256", {"status": "NOT_A_STATUS", "last_updated": "2020-01-01T00:00:00Z"}),
        (f"{LOC}/3256/1", {"id": "7", "last_updated": "2020-01-01T00:00:00Z"}),
    ]:
        response = await client.patch(url, json=body, headers=cpo)
        assert (response.status_code, response.json()["status_code"]) == (400, 2001), (url, body)
    assert await get_data(client, LOC, cpo) == example("location_example.json")


async def test_concurrent_evse_patches_end_in_the_newest_state(
    live_node: RunningServer, sessionmaker: SessionMaker
) -> None:
    """Many PATCHes of two EVSEs at once, in shuffled `last_updated` order: each EVSE ends with the status of
    its newest PATCH (rows locked per Location and EVSE; a writer that waited never works on a stale row).
    SQLite: every transaction takes the write lock when it begins (`emsp.db`), so there is no stale row."""
    _, cpo = await pushing_partner(sessionmaker, ("BE", "BEC"))
    url = f"{live_node.url}{LOC}"
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.put(url, json=example("location_example.json"), headers=cpo)).status_code == 201
        plan = [(uid, n, STATUSES[n % len(STATUSES)]) for n in range(120) for uid in ("3256", "3257")]
        random.Random(3).shuffle(plan)

        async def patch(uid: str, n: int, status: str) -> int:
            body = {"status": status, "last_updated": f"2030-01-01T00:{n // 60:02d}:{n % 60:02d}Z"}
            return (await http.patch(f"{url}/{uid}", json=body, headers=cpo)).status_code

        codes = await asyncio.gather(*(patch(*p) for p in plan))
        assert set(codes) == {200}
        location = (await http.get(url, headers=cpo)).json()["data"]
    newest = STATUSES[119 % len(STATUSES)]
    assert [(e["uid"], e["status"], e["last_updated"]) for e in location["evses"]] == [
        ("3256", newest, "2030-01-01T00:01:59Z"),
        ("3257", newest, "2030-01-01T00:01:59Z"),
    ]
    assert location["last_updated"] == "2030-01-01T00:01:59Z"


async def test_status_patch_fast_and_regular_paths_store_the_same(
    client: httpx.AsyncClient, cpo: dict[str, str], sessionmaker: SessionMaker
) -> None:
    """On PostgreSQL a body of only status + last_updated takes `evse_fastpath`; one more field takes the
    regular path. Both store the same EVSE and move the Location alike (and answer with the routing
    headers swapped)."""
    location = example("location_example.json")
    await put(client, LOC, location, cpo)
    routed = dict(cpo, **{"OCPI-from-country-code": "BE", "OCPI-from-party-id": "BEC"})
    fast = {"status": "CHARGING", "last_updated": "2021-01-01T10:00:00Z"}
    regular = dict(fast, physical_reference=location["evses"][1]["physical_reference"])
    for uid, body in (("3256", fast), ("3257", regular)):
        response = await client.patch(f"{LOC}/{uid}", json=body, headers=routed)
        assert (response.status_code, response.json()["status_code"]) == (200, 1000)
        assert (
            response.headers["OCPI-to-party-id"] == "BEC" and response.headers["OCPI-from-party-id"] == "EMS"
        )
    stored = await get_data(client, LOC, cpo)
    for i, evse in enumerate(stored["evses"]):
        assert evse == dict(location["evses"][i], status="CHARGING", last_updated="2021-01-01T10:00:00Z")
    assert stored["last_updated"] == "2021-01-01T10:00:00Z"
    stale = await client.patch(
        f"{LOC}/3256", json=dict(fast, status="BLOCKED", last_updated="2020-01-01T00:00:00Z"), headers=cpo
    )
    assert "Ignored" in stale.json()["status_message"]
    assert (await get_data(client, f"{LOC}/3256", cpo))["status"] == "CHARGING"
    _, other = await pushing_partner(sessionmaker, ("NL", "XYZ"))
    refused = await client.patch(
        f"{LOC}/3256", json=dict(fast, last_updated="2022-01-01T00:00:00Z"), headers=other
    )
    assert (refused.status_code, refused.json()["status_code"]) == (404, 2000)
    assert (await get_data(client, f"{LOC}/3256", cpo))["last_updated"] == "2021-01-01T10:00:00Z"
