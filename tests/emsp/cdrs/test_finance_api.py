"""Finance admin API: MSP CDR filters and totals, JSON pages, streamed CSV / JSON exports, and bad input on
the finance and billing configuration endpoints (HTTP 400 / 404 / 409, nothing stored)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from emsp.db import SessionMaker
from tests.support.builders import make_partner
from tests.support.cdrs import admin, cdr_json, post_cdr, setup_billing

Headers = dict[str, str]
CONFIG_TABLES = ("msp_tariff_plans", "msp_plan_assignments", "msp_contracts", "msp_location_group_members",
                 "vat_rates", "fx_rates", "msp_cdrs")  # fmt: skip


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _, token = await make_partner(session, country_code="BE", party_id="BEC")
        await session.commit()
    return token


async def _seed(client: httpx.AsyncClient, headers: Headers, token: str) -> None:
    """Three CDRs: March 5 (contract A, LOC1), March 20 (contract B, LOC2), April 2 (contract A, LOC1)."""
    await setup_billing(client, headers)
    for cdr_id, day, contract, location in (
        ("M1", "2024-03-05", "NL-EMS-A", "LOC1"),
        ("M2", "2024-03-20", "NL-EMS-B", "LOC2"),
        ("A1", "2024-04-02", "NL-EMS-A", "LOC1"),
    ):
        body = cdr_json(cdr_id, start_date_time=f"{day}T09:00:00Z", end_date_time=f"{day}T11:00:00Z")
        body["charging_periods"][0]["start_date_time"] = f"{day}T09:00:00Z"
        body["cdr_token"]["contract_id"] = contract
        body["cdr_location"]["id"] = location
        assert (await post_cdr(client, token, body)).status_code == 201


async def test_filters_pages_and_totals(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    await _seed(client, admin_headers, cpo_token)
    march = await admin(client, admin_headers, "GET", "/msp-cdrs?from=2024-03-01&to=2024-04-01")
    assert [i["cdr_ref"] for i in march["items"]] == ["M1", "M2"]
    assert march["totals"]["by_currency"] == {"EUR": {"excl_vat": "16.40", "incl_vat": "19.84"}}
    assert march["totals"]["standard_currency"]["EUR"] == {
        "excl_vat": "16.40",
        "vat": "3.44",
        "incl_vat": "19.84",
    }
    by_contract = await admin(client, admin_headers, "GET", "/msp-cdrs?contract_id=nl-ems-a")
    assert [i["cdr_ref"] for i in by_contract["items"]] == ["M1", "A1"]
    for query, expected in (
        ("location_id=LOC2", ["M2"]),
        ("cpo_country_code=BE&cpo_party_id=BEC", ["M1", "M2", "A1"]),
        ("cpo_country_code=DE", []),
        ("token_uid=04AABBCCDD&country=BE", ["M1", "M2", "A1"]),
        ("plan=std&status=PRICED&invoiced=false", ["M1", "M2", "A1"]),
    ):
        found = await admin(client, admin_headers, "GET", f"/msp-cdrs?{query}")
        assert [i["cdr_ref"] for i in found["items"]] == expected, query
    page = await admin(client, admin_headers, "GET", "/msp-cdrs?limit=2")
    assert (len(page["items"]), page["total"], page["next_offset"]) == (2, 3, 2)
    last = await admin(client, admin_headers, "GET", "/msp-cdrs?limit=2&offset=2")
    assert ([i["cdr_ref"] for i in last["items"]], last["next_offset"]) == (["A1"], None)


async def test_exports_stream_csv_and_json(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    await _seed(client, admin_headers, cpo_token)
    response = await client.get(
        "/admin/v1/msp-cdrs/export?from=2024-03-01&to=2024-04-01", headers=admin_headers
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["cdr_ref"], r["total_incl_vat"], r["invoiced"], r["fx_rate"]) for r in rows] == [
        ("M1", "9.92", "false", "1"), ("M2", "9.92", "false", "1"),
    ]  # fmt: skip
    as_json = await client.get("/admin/v1/msp-cdrs/export?format=json", headers=admin_headers)
    assert [i["cdr_ref"] for i in as_json.json()] == ["M1", "M2", "A1"]
    empty = await client.get("/admin/v1/msp-cdrs/export?format=json&cpo_party_id=ZZZ", headers=admin_headers)
    assert empty.json() == []


async def test_one_msp_cdr_beside_its_cpo_cdr(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    await _seed(client, admin_headers, cpo_token)
    first = (await admin(client, admin_headers, "GET", "/msp-cdrs?limit=1"))["items"][0]
    shown = await admin(client, admin_headers, "GET", f"/msp-cdrs/{first['id']}")
    assert shown["msp_cdr"] == first
    assert shown["cpo_cdr"]["total_cost_excl_vat"] == "7.00"
    assert shown["cpo_cdr"]["cdr"]["id"] == "M1"  # as received
    assert [r["revision"] for r in shown["revisions"]] == [1]


async def _snapshot(sessionmaker: SessionMaker) -> list[list[tuple[Any, ...]]]:
    async with sessionmaker() as session:
        return [
            [tuple(r) for r in await session.exec(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in CONFIG_TABLES
        ]  # type: ignore[call-overload]


BAD = [
    ("GET", "/msp-cdrs?from=2024-04-01&to=2024-03-01", None, 400),
    ("GET", "/msp-cdrs?from=yesterday", None, 400),
    ("GET", "/msp-cdrs?limit=0", None, 400),
    ("GET", "/msp-cdrs?status=MAYBE", None, 400),
    ("GET", "/msp-cdrs/export?format=xml", None, 400),
    ("GET", "/msp-cdrs/999999", None, 404),
    ("POST", "/msp-cdrs/999999/invoiced", None, 404),
    ("GET", "/cdrs/mismatches?status=WRONG", None, 400),
    ("POST", "/cdrs/999999/reprice", None, 404),
    ("PUT", "/msp-plans/p1", {"name": "x", "kind": "MARKUP"}, 400),
    (
        "PUT",
        "/msp-plans/p1",
        {"name": "x", "kind": "MARKUP", "markup_percent": "10", "markup_fixed": "1"},
        400,
    ),
    ("PUT", "/msp-plans/p1", {"name": "x", "kind": "MARKUP", "markup_percent": "-101"}, 400),
    ("PUT", "/msp-plans/p1", {"name": "x", "kind": "MARKUP", "markup_percent": "1", "currency": "EURO"}, 400),
    ("PUT", "/msp-plans/p1", {"name": "x", "kind": "OCPI_TARIFF", "tariff": {"id": "T"}}, 400),
    ("PUT", "/msp-plans/p1", {"name": "x", "kind": "MARKUP", "markup_percent": "1", "surprise": 1}, 400),
    ("POST", "/msp-plan-assignments", {"plan": "nope", "scope": "DEFAULT"}, 404),
    ("POST", "/msp-plan-assignments", {"plan": "std", "scope": "EVSE", "country_code": "BE"}, 400),
    (
        "POST",
        "/msp-plan-assignments",
        {"plan": "std", "scope": "CPO_PARTY", "country_code": "BE", "party_id": "BEC", "location_id": "L"},
        400,
    ),
    ("POST", "/msp-plan-assignments", {"plan": "std", "scope": "DEFAULT"}, 409),
    ("POST", "/msp-plan-assignments", {"plan": "std", "scope": "DEFAULT", "subscription": "gold"}, 400),
    ("DELETE", "/msp-plan-assignments/999999", None, 404),
    ("PUT", "/msp-contracts/C1", {"subscription": "has space"}, 400),
    ("PUT", "/vat-rates/XX", {"rate_percent": "20"}, 400),
    ("PUT", "/vat-rates/BE", {"rate_percent": "120"}, 400),
    ("PUT", "/vat-rates/BE", {"rate_percent": "abc"}, 400),
    (
        "POST",
        "/fx-rates",
        {"base_currency": "EUR", "quote_currency": "EUR", "rate": "1", "valid_from": "2024-01-01T00:00:00Z"},
        400,
    ),
    (
        "POST",
        "/fx-rates",
        {"base_currency": "ABC", "quote_currency": "EUR", "rate": "1", "valid_from": "2024-01-01T00:00:00Z"},
        400,
    ),
    (
        "POST",
        "/fx-rates",
        {"base_currency": "CHF", "quote_currency": "EUR", "rate": "0", "valid_from": "2024-01-01T00:00:00Z"},
        400,
    ),
    ("POST", "/fx-rates", {"base_currency": "CHF", "quote_currency": "EUR", "rate": "0.9"}, 400),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), BAD, ids=[f"{m} {p} {s}" for m, p, _, s in BAD]
)
async def test_bad_input_is_refused_and_changes_nothing(
    method: str,
    path: str,
    body: Any,
    status: int,
    client: httpx.AsyncClient,
    admin_headers: Headers,
    sessionmaker: SessionMaker,
) -> None:
    await setup_billing(client, admin_headers)
    before = await _snapshot(sessionmaker)
    response = await client.request(method, "/admin/v1" + path, json=body, headers=admin_headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert await _snapshot(sessionmaker) == before


async def test_admin_key_is_required(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/msp-cdrs"), ("GET", "/msp-cdrs/export"), ("PUT", "/vat-rates/BE"),
                         ("GET", "/cdrs/mismatches"), ("POST", "/fx-rates")):  # fmt: skip
        response = await client.request(method, "/admin/v1" + path, json={})
        assert response.status_code == 401, path
