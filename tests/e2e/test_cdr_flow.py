"""End to end: CDR in → MSP CDR out, over real HTTP. A fake CPO (a real server on loopback) registers with
the live node, pushes its Location and Tariff, then POSTs CDRs to the CDRs endpoint it finds in our version
details; finance reads the MSP CDRs and the CSV export. Then the node pulls CDRs from the CPO's SENDER.

Hand computation: CPO tariff FLAT 1.00 + ENERGY 0.30/kWh; the CDR: 20 kWh → 1.00 + 6.00 = 7.00 (the CPO bills
exactly that). MSP plan: markup 10 % + 0.50 → 1.10 + 6.60 + 0.50 = 8.20 excl; VAT BE 21 % = 1.72; 9.92 incl.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from emsp.cdrs.pipeline import PricingPolicy
from emsp.cdrs.pull import price_unpriced
from emsp.db import SessionMaker, session_scope
from emsp.ingest.jobs import sync_now
from tests.conftest import make_settings
from tests.support.cdrs import (
    cdr_json,
    count_rows,
    credit_of,
    jsonable,
    location_json,
    setup_billing,
    tariff_json,
)
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.fake_cpo_cdrs import router as cdrs_router
from tests.support.partners import invite
from tests.support.servers import RunningServer

pytestmark = pytest.mark.slow


@pytest.fixture
def fake_cpo() -> Iterator[FakeCpo]:
    modules = [("cdrs", "SENDER"), ("locations", "SENDER"), ("tariffs", "SENDER")]
    fake = make_fake_cpo(name="BE Charge", country_code="BE", party_id="BEC", modules=modules,
                         extra_routers=[cdrs_router])  # fmt: skip
    with fake.running() as running:
        yield running


@pytest.fixture
async def node(live_node: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_node.url, timeout=20) as http:
        yield http


async def _connect(node: httpx.AsyncClient, admin_headers: dict[str, str], cpo: FakeCpo) -> None:
    token_a = await invite(node, admin_headers, "be-charge")
    response = await cpo.register_with(node, f"{node.base_url}/ocpi/versions", token_a)
    assert response.json()["status_code"] == 1000, response.text
    auth = cpo.auth_to_emsp()
    put = await node.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", json=location_json(), headers=auth)
    assert put.status_code in (200, 201), put.text
    put = await node.put("/ocpi/2.2.1/tariffs/BE/BEC/T1", json=tariff_json(), headers=auth)
    assert put.status_code in (200, 201), put.text
    await setup_billing(node, admin_headers)


async def _push(cpo: FakeCpo, body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        content = body if isinstance(body, str) else json.dumps(jsonable(body))
        response = await http.post(f"{cpo.state.base_url}/ocpi/2.2.1/_control/push-cdr", content=content)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _csv(node: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, str]]:
    response = await node.get(
        "/admin/v1/msp-cdrs/export?format=csv&from=2024-03-01&to=2024-04-01", headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_cdr_in_msp_cdr_out(
    node: httpx.AsyncClient, admin_headers: dict[str, str], fake_cpo: FakeCpo, sessionmaker: SessionMaker
) -> None:
    await _connect(node, admin_headers, fake_cpo)
    original = cdr_json()
    pushed = await _push(fake_cpo, original)
    assert pushed["url"] == f"{node.base_url}/ocpi/2.2.1/cdrs"  # found in our version details
    assert (pushed["http_status"], pushed["envelope"]["status_code"]) == (201, 1000)
    location = pushed["location"]
    ours = await node.get(location, headers=fake_cpo.auth_to_emsp())
    assert ours.json()["data"] == json.loads(json.dumps(jsonable(original)))

    [msp] = (await node.get("/admin/v1/msp-cdrs", headers=admin_headers)).json()["items"]
    assert (msp["status"], msp["plan_code"], msp["country"]) == ("PRICED", "std", "BE")
    assert (msp["fixed_cost"], msp["energy_cost"], msp["additional_cost"]) == ("1.10", "6.60", "0.50")
    assert (msp["total_excl_vat"], msp["total_vat"], msp["total_incl_vat"]) == ("8.20", "1.72", "9.92")
    shown = (await node.get(f"/admin/v1/msp-cdrs/{msp['id']}", headers=admin_headers)).json()
    assert shown["verification"]["status"] == "MATCH"
    assert shown["cpo_cdr"]["cdr"]["id"] == "CDR-1"

    [row] = await _csv(node, admin_headers)
    assert (row["cdr_ref"], row["total_incl_vat"], row["std_total_incl_vat"]) == ("CDR-1", "9.92", "9.92")

    again = await _push(fake_cpo, original)  # the same CDR again: success, same Location, nothing new
    assert (again["http_status"], again["envelope"]["status_code"], again["location"]) == (
        200,
        1000,
        location,
    )
    assert await _csv(node, admin_headers) == [row]

    changed = await _push(fake_cpo, cdr_json(total_cost={"excl_vat": 70.00, "incl_vat": 84.70}))
    assert (changed["http_status"], changed["envelope"]["status_code"], changed["location"]) == (
        200,
        2000,
        None,
    )

    credit = await _push(fake_cpo, credit_of(original, "CDR-1-C"))
    assert credit["http_status"] == 201
    rows = await _csv(node, admin_headers)
    assert sorted(r["total_incl_vat"] for r in rows) == ["-9.92", "9.92"]
    assert sum(Decimal(r["std_total_incl_vat"]) for r in rows) == 0
    assert (await count_rows(sessionmaker, "cdrs", "msp_cdrs")) == {"cdrs": 2, "msp_cdrs": 2}


async def test_overcharge_and_no_tariff_over_http(
    node: httpx.AsyncClient, admin_headers: dict[str, str], fake_cpo: FakeCpo
) -> None:
    await _connect(node, admin_headers, fake_cpo)
    over = cdr_json(
        "OVER", total_cost={"excl_vat": 8.00, "incl_vat": 9.68}, total_energy_cost={"excl_vat": 7.00}
    )
    assert (await _push(fake_cpo, over))["http_status"] == 201
    elsewhere = cdr_json("ELSEWHERE")
    elsewhere["cdr_location"]["id"] = "UNKNOWN-LOC"
    assert (await _push(fake_cpo, elsewhere))["http_status"] == 201
    listed = (await node.get("/admin/v1/cdrs/mismatches", headers=admin_headers)).json()
    assert [(i["cdr_id"], i["verification"]["reason"]) for i in listed["items"]] == [
        ("OVER", "differs on TOTAL, ENERGY")
    ]
    no_price = (await node.get("/admin/v1/cdrs/mismatches?status=NO_PRICE", headers=admin_headers)).json()
    [item] = no_price["items"]
    assert item["cdr_id"] == "ELSEWHERE"
    assert item["verification"]["reason"] == "no price available: location UNKNOWN-LOC is not known"
    # Billing still happens on what the CPO charged: 8.00 → 1.10 + 7.70 + 0.50 = 9.30.
    msp = (await node.get("/admin/v1/msp-cdrs?contract_id=NL-EMS-C12345678-X", headers=admin_headers)).json()
    assert sorted(i["total_excl_vat"] for i in msp["items"]) == ["8.20", "9.30"]


async def test_pull_cdrs_from_the_cpo_sender(
    node: httpx.AsyncClient,
    admin_headers: dict[str, str],
    fake_cpo: FakeCpo,
    sessionmaker: SessionMaker,
    db_url: str,
) -> None:
    await _connect(node, admin_headers, fake_cpo)
    await _push(fake_cpo, cdr_json())
    broken = cdr_json("BROKEN")
    del broken["total_cost"]
    foreign = cdr_json("FOREIGN", country_code="DE", party_id="XYZ")
    listed = [cdr_json(), cdr_json("PULLED-1"), broken, cdr_json("PULLED-2"), foreign]
    fake_cpo.app.state.cdrs = [jsonable(c) for c in listed]
    settings = make_settings(db_url)
    async with httpx.AsyncClient(timeout=20) as http, session_scope(sessionmaker) as session:
        [outcome] = await sync_now(session, http, settings, "cdrs")
        priced = await price_unpriced(session, PricingPolicy(Decimal("0.01"), "EUR"))
    assert (outcome.status, outcome.pages, outcome.items, outcome.rejected) == ("complete", 3, 3, 2)
    assert priced == 2
    rows = await _csv(node, admin_headers)
    assert sorted(r["cdr_ref"] for r in rows) == ["CDR-1", "PULLED-1", "PULLED-2"]
    assert {r["total_incl_vat"] for r in rows} == {"9.92"}
    quarantined = await count_rows(sessionmaker, "pull_quarantine")
    assert quarantined == {"pull_quarantine": 2}
