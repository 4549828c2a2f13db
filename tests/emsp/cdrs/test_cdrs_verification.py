"""Verification of what the CPO billed: recomputation with the CPO's tariff (the CDR's own, or the version
in force from ingest) in the stored Location's time zone; per-component received vs calculated; mismatches
beyond the tolerance flagged; no usable tariff → "no price available", never 0."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from tests.conftest import FIXTURES
from tests.support.builders import make_partner
from tests.support.cdrs import (
    admin,
    cdr_json,
    location_json,
    post_cdr,
    setup_billing,
    store_location,
    store_tariff,
    tariff_json,
)


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> tuple[int, str]:
    async with sessionmaker() as session:
        partner, token = await make_partner(session, country_code="BE", party_id="BEC")
        await session.commit()
    assert partner.id is not None
    return partner.id, token


async def _verification(client: httpx.AsyncClient, headers: dict[str, str], response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    cdr_id = response.headers["location"].rsplit("/", 1)[1]
    return (await admin(client, headers, "GET", f"/cdrs/{cdr_id}"))["verification"]


def _components(verification: Any) -> dict[str, tuple[Any, ...]]:
    return {
        c["component"]: (
            c["received_excl_vat"],
            c["calculated_excl_vat"],
            c["calculated_incl_vat"],
            c["mismatch"],
        )
        for c in verification["components"]
    }


async def test_tariff_in_force_from_ingest_matches(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    await store_location(sessionmaker, location_json(), cpo[0])
    await store_tariff(sessionmaker, tariff_json(), cpo[0])
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], cdr_json()))
    assert verification["status"] == "MATCH"
    assert verification["tariff_source"] == "TARIFF_IN_FORCE"
    assert verification["tariff_ref"] == "BE/BEC/T1 v1"
    assert verification["time_zone"] == "Europe/Brussels"
    assert _components(verification) == {
        "TOTAL": ("7.00", "7.00", "8.47", False),
        "FIXED": ("1.00", "1.00", "1.21", False),
        "RESERVATION": (None, None, None, False),
        "ENERGY": ("6.00", "6.00", "7.26", False),
        "TIME": (None, None, None, False),
        "PARKING": (None, None, None, False),
    }


async def test_overcharge_is_flagged_and_listed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    await store_location(sessionmaker, location_json(), cpo[0])
    await store_tariff(sessionmaker, tariff_json(), cpo[0])
    over = cdr_json(
        "OVER-1",
        total_cost={"excl_vat": 7.50, "incl_vat": 9.08},
        total_energy_cost={"excl_vat": 6.50, "incl_vat": 7.87},
    )
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], over))
    assert verification["status"] == "MISMATCH"
    assert verification["reason"] == "differs on TOTAL, ENERGY"
    assert verification["max_difference"] == "0.5"
    parts = _components(verification)
    assert parts["ENERGY"] == ("6.50", "6.00", "7.26", True)
    assert parts["FIXED"][3] is False
    await post_cdr(client, cpo[1], cdr_json("FAIR-1"))
    listed = await admin(client, admin_headers, "GET", "/cdrs/mismatches")
    assert [i["cdr_id"] for i in listed["items"]] == ["OVER-1"]
    assert listed["items"][0]["verification"]["max_difference"] == "0.5"
    matched = await admin(client, admin_headers, "GET", "/cdrs/mismatches?status=MATCH")
    assert [i["cdr_id"] for i in matched["items"]] == ["FAIR-1"]


async def test_difference_within_tolerance_is_a_match(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    await store_location(sessionmaker, location_json(), cpo[0])
    await store_tariff(sessionmaker, tariff_json(), cpo[0])
    off_by_a_cent = cdr_json(
        total_cost={"excl_vat": 7.01, "incl_vat": 8.48},
        total_energy_cost={"excl_vat": 6.01, "incl_vat": 7.27},
    )
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], off_by_a_cent))
    assert verification["status"] == "MATCH"  # EMSP_CDR_PRICE_TOLERANCE 0.01: "more than" the tolerance
    assert verification["tolerance"] == "0.01"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (None, "no price available: location LOC1 is not known"),
        (location_json(tariff_ids=[]), "no price available: connector 1 has no tariff"),
        (location_json(tariff_ids=["GONE"]), "no price available: no tariff in force on the connector"),
    ],
)
async def test_no_usable_tariff_is_no_price_never_zero(
    location: dict[str, Any] | None,
    reason: str,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
    cpo: tuple[int, str],
) -> None:
    if location is not None:
        await store_location(sessionmaker, location, cpo[0])
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], cdr_json()))
    assert verification["status"] == "NO_PRICE"
    assert verification["reason"].startswith(reason)
    assert verification["components"] == []
    assert verification["max_difference"] is None


async def test_spec_cdr_with_its_own_tariff(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    """The spec's CDR example (TIME 2.00/h, step 300 s, 1.973 h → 2 h → 4.00 + 10 % VAT), at the spec's
    Location example (Europe/Brussels)."""
    examples = FIXTURES / "ocpi_examples"
    location = json.loads((examples / "location_example.json").read_text())
    await store_location(sessionmaker, location, cpo[0])
    body = (examples / "cdr_example.json").read_bytes()
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], body))
    assert verification["status"] == "MATCH"
    assert verification["tariff_source"] == "CDR_TARIFFS"
    assert _components(verification)["TIME"] == ("4.00", "4.00", "4.40", False)


async def test_version_in_force_at_the_session_start_is_used(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    await store_location(sessionmaker, location_json(), cpo[0])
    await store_tariff(sessionmaker, tariff_json(), cpo[0])
    dearer = tariff_json(last_updated="2024-03-06T00:00:00Z")
    dearer["elements"][0]["price_components"][1]["price"] = 0.40
    await store_tariff(sessionmaker, dearer, cpo[0])
    before = await _verification(client, admin_headers, await post_cdr(client, cpo[1], cdr_json("OLD")))
    assert (before["status"], before["tariff_ref"]) == ("MATCH", "BE/BEC/T1 v1")
    after_body = cdr_json(
        "NEW",
        start_date_time="2024-03-07T09:00:00Z",
        end_date_time="2024-03-07T11:00:00Z",
        charging_periods=[
            {"start_date_time": "2024-03-07T09:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 20}]}
        ],
    )
    after = await _verification(client, admin_headers, await post_cdr(client, cpo[1], after_body))
    assert (after["status"], after["tariff_ref"]) == ("MISMATCH", "BE/BEC/T1 v2")
    assert _components(after)["ENERGY"][:2] == ("6.00", "8.00")


async def test_restrictions_are_read_in_the_locations_time_zone(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: tuple[int, str]
) -> None:
    """10:00-12:00 local costs 0.50/kWh, other hours 0.30. The session starts 09:00Z = 10:00 in Brussels."""
    await store_location(sessionmaker, location_json(), cpo[0])
    peak = tariff_json()
    peak["elements"] = [
        {
            "price_components": [{"type": "ENERGY", "price": 0.50, "vat": 21.0, "step_size": 1}],
            "restrictions": {"start_time": "10:00", "end_time": "12:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1}]},
    ]
    await store_tariff(sessionmaker, peak, cpo[0])
    body = cdr_json(
        total_cost={"excl_vat": 10.00}, total_energy_cost={"excl_vat": 10.00}, total_fixed_cost=None
    )
    body.pop("total_fixed_cost")
    verification = await _verification(client, admin_headers, await post_cdr(client, cpo[1], body))
    assert verification["status"] == "MATCH", verification
    assert _components(verification)["ENERGY"][:2] == ("10.00", "10.00")


async def test_billing_does_not_depend_on_verification(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo: tuple[int, str]
) -> None:
    """No tariff to check with: the CDR is still billed (markup on what the CPO charged)."""
    await setup_billing(client, admin_headers)
    await post_cdr(client, cpo[1], cdr_json())
    [item] = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["items"]
    assert (item["status"], item["total_excl_vat"]) == ("PRICED", "8.20")
