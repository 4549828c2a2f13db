"""CDRs RECEIVER (`POST /ocpi/2.2.1/cdrs`, `GET` of the returned Location): storage as received, the
idempotency rule, credit CDRs, party scoping and bad input (nothing stored)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from tests.support.builders import make_partner, ocpi_auth
from tests.support.cdrs import (
    CDRS,
    admin,
    cdr_json,
    count_rows,
    credit_of,
    post_cdr,
    setup_billing,
)


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _, token = await make_partner(session, country_code="BE", party_id="BEC")
        await session.commit()
    return token


@pytest.fixture
async def other_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _, token = await make_partner(session, country_code="DE", party_id="XYZ")
        await session.commit()
    return token


async def test_post_stores_as_received_and_answers_location(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    body = json.dumps(cdr_json(), indent=3)  # formatting kept as sent
    response = await post_cdr(client, cpo_token, body)
    assert response.status_code == 201, response.text
    assert response.json()["status_code"] == 1000
    location = response.headers["location"]
    assert location.startswith("http://testserver/ocpi/2.2.1/cdrs/")
    fetched = await client.get(location.removeprefix("http://testserver"), headers=ocpi_auth(cpo_token))
    assert fetched.status_code == 200
    assert fetched.json()["data"] == json.loads(body)
    by_key = await client.get(f"{CDRS}/be/bec/cdr-1", headers=ocpi_auth(cpo_token))
    assert by_key.json()["data"] == json.loads(body)
    async with sessionmaker() as session:
        from sqlalchemy import text

        raw = (await session.exec(text("SELECT raw_json FROM cdrs"))).scalar_one()
    assert raw == body


async def test_same_cdr_again_is_success_with_same_location_and_nothing_new(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await setup_billing(client, admin_headers)
    first = await post_cdr(client, cpo_token, cdr_json())
    before = await count_rows(sessionmaker)
    # Same CDR, other key order and spacing, numbers spelt differently.
    again = json.dumps(dict(reversed(list(cdr_json().items()))), indent=1).replace(": 7.0", ": 7.00")
    assert again != json.dumps(cdr_json())
    second = await post_cdr(client, cpo_token, again)
    assert second.status_code == 200, second.text
    assert second.json()["status_code"] == 1000
    assert second.headers["location"] == first.headers["location"]
    assert await count_rows(sessionmaker) == before == {
        "cdrs": 1, "cdr_verifications": 1, "cdr_verification_lines": 0, "msp_cdrs": 1,
    }  # fmt: skip


async def test_other_content_under_existing_id_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await setup_billing(client, admin_headers)
    await post_cdr(client, cpo_token, cdr_json())
    before = await count_rows(sessionmaker)
    changed = cdr_json(total_cost={"excl_vat": 9.00, "incl_vat": 10.89})
    response = await post_cdr(client, cpo_token, changed)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2000
    assert "already received with different content" in envelope["status_message"]
    assert "Credit CDR" in envelope["status_message"]
    assert "location" not in response.headers
    # The key compares case-insensitively (CiString): another CDR under "cdr-1" is the same key.
    other_case = await post_cdr(client, cpo_token, cdr_json(cdr_id="cdr-1"))
    assert other_case.json()["status_code"] == 2000
    assert await count_rows(sessionmaker) == before
    msp = await admin(client, admin_headers, "GET", "/msp-cdrs")
    assert [i["cpo_total_excl_vat"] for i in msp["items"]] == ["7.00"]


async def test_credit_cdr_gives_a_corrective_msp_cdr(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str
) -> None:
    await setup_billing(client, admin_headers)
    original = cdr_json()
    await post_cdr(client, cpo_token, original)
    response = await post_cdr(client, cpo_token, credit_of(original, "CDR-1-C"))
    assert response.status_code == 201, response.text
    items = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["items"]
    assert len(items) == 2
    orig, credit = sorted(items, key=lambda i: i["id"])
    assert credit["credit"] is True and credit["status"] == "PRICED"
    assert credit["corrects_msp_cdr_id"] == orig["id"]
    for name in (
        "fixed_cost",
        "energy_cost",
        "additional_cost",
        "total_excl_vat",
        "total_vat",
        "total_incl_vat",
    ):
        assert credit[name] == "-" + orig[name], name
    totals = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["totals"]
    assert totals["by_currency"]["EUR"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
    shown = await admin(client, admin_headers, "GET", f"/msp-cdrs/{credit['id']}")
    assert shown["verification"]["status"] == "MATCH"  # the credit negates the original total
    assert shown["cpo_cdr"]["credited_cdr_id"] == orig["cpo_cdr_id"]


async def test_repricing_a_credited_cdr_re_derives_its_credit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str
) -> None:
    await setup_billing(client, admin_headers)
    original = cdr_json()
    await post_cdr(client, cpo_token, original)
    await post_cdr(client, cpo_token, credit_of(original, "CDR-1-C"))
    items = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["items"]
    orig, credit = sorted(items, key=lambda i: i["id"])
    plan = {
        "name": "Standard",
        "kind": "MARKUP",
        "markup_percent": "20",
        "markup_fixed": "0.50",
        "currency": "EUR",
    }
    await admin(client, admin_headers, "PUT", "/msp-plans/std", plan)  # the plan is corrected
    await admin(client, admin_headers, "POST", f"/cdrs/{orig['cpo_cdr_id']}/reprice")
    shown = await admin(client, admin_headers, "GET", f"/cdrs/{orig['cpo_cdr_id']}")
    new_total = shown["revisions"][-1]["total_excl_vat"]
    assert [r["revision"] for r in shown["revisions"]] == [1, 2] and new_total != orig["total_excl_vat"]
    credited = await admin(client, admin_headers, "GET", f"/cdrs/{credit['cpo_cdr_id']}")
    assert [r["revision"] for r in credited["revisions"]] == [1, 2]
    assert credited["revisions"][-1]["total_excl_vat"] == "-" + new_total  # negates the new revision
    totals = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["totals"]
    assert totals["by_currency"]["EUR"] == {"excl_vat": "0.00", "incl_vat": "0.00"}


async def test_credit_with_unknown_reference_is_accepted_flagged_and_resolved_later(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str
) -> None:
    await setup_billing(client, admin_headers)
    original = cdr_json("CDR-9")
    response = await post_cdr(client, cpo_token, credit_of(original, "CDR-9-C"))
    assert response.status_code == 201, response.text
    [item] = (await admin(client, admin_headers, "GET", "/msp-cdrs"))["items"]
    assert item["status"] == "FAILED"
    assert "CDR-9 is not known" in item["failure_reason"]
    cpo = await admin(client, admin_headers, "GET", f"/cdrs/{item['cpo_cdr_id']}")
    assert cpo["cpo_cdr"]["flag"] == "UNKNOWN_CREDIT_REFERENCE"
    # The original arrives later (e.g. by pull); the retry links and corrects.
    await post_cdr(client, cpo_token, original)
    assert (await admin(client, admin_headers, "POST", "/cdrs/reprice-failed"))["priced"] == 1
    cpo = await admin(client, admin_headers, "GET", f"/cdrs/{item['cpo_cdr_id']}")
    assert cpo["cpo_cdr"]["flag"] is None
    assert [r["status"] for r in cpo["revisions"]] == ["FAILED", "PRICED"]
    assert cpo["revisions"][1]["total_excl_vat"] == "-8.20"


async def test_party_scoping_refuses_foreign_parties(
    client: httpx.AsyncClient, cpo_token: str, other_token: str, sessionmaker: SessionMaker
) -> None:
    response = await post_cdr(client, other_token, cdr_json())  # BE/BEC is not DE/XYZ's
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000
    assert (await count_rows(sessionmaker))["cdrs"] == 0
    created = await post_cdr(client, cpo_token, cdr_json())
    path = created.headers["location"].removeprefix("http://testserver")
    assert (await client.get(path, headers=ocpi_auth(other_token))).status_code == 404
    assert (await client.get(f"{CDRS}/BE/BEC/CDR-1", headers=ocpi_auth(other_token))).status_code == 404
    assert (await client.get(f"{CDRS}/999999", headers=ocpi_auth(cpo_token))).status_code == 404
    assert (await client.get(f"{CDRS}/abc", headers=ocpi_auth(cpo_token))).status_code == 404


async def test_unauthenticated_gets_401(client: httpx.AsyncClient, sessionmaker: SessionMaker) -> None:
    assert (await client.post(CDRS, json=cdr_json())).status_code == 401
    assert (await client.post(CDRS, json=cdr_json(), headers=ocpi_auth("nope"))).status_code == 401
    assert (await count_rows(sessionmaker))["cdrs"] == 0


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


BAD_BODIES = {
    "malformed JSON": ('{"id": "X", ', "Malformed JSON"),
    "not an object": ("[1, 2]", "one CDR object"),
    "not UTF-8": (b"\xff\xfe{}", "Malformed JSON"),
    "missing total_cost": (_without(cdr_json(), "total_cost"), "total_cost"),
    "missing token uid": (_without(cdr_json(), "cdr_token", "uid"), "cdr_token.uid"),
    "wrong type": (cdr_json(total_energy="lots"), "total_energy"),
    "bad enum": (cdr_json(auth_method="MAGIC"), "auth_method"),
    "id too long": (cdr_json(cdr_id="X" * 37), "at most 36"),
    "credit without reference": (cdr_json(credit=True), "credit_reference_id"),
    "empty periods": (cdr_json(charging_periods=[]), "charging_periods"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_input_is_2001_and_stores_nothing(
    case: str, client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    body, expected = BAD_BODIES[case]
    response = await post_cdr(client, cpo_token, body)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert expected in envelope["status_message"]
    assert await count_rows(sessionmaker) == dict.fromkeys(
        ("cdrs", "cdr_verifications", "cdr_verification_lines", "msp_cdrs"), 0
    )


async def test_version_details_list_the_cdrs_receiver(client: httpx.AsyncClient, cpo_token: str) -> None:
    response = await client.get("/ocpi/2.2.1", headers=ocpi_auth(cpo_token))
    endpoints = response.json()["data"]["endpoints"]
    assert {"identifier": "cdrs", "role": "RECEIVER", "url": "http://testserver/ocpi/2.2.1/cdrs"} in endpoints
