"""MSP CDRs: plan selection precedence, VAT by country, exchange rates, OCPI-tariff plans, revisions (an
invoiced revision is never touched), failed pricing and its retry. Amounts are computed by hand in each
test's docstring."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from emsp.cdrs.pipeline import PricingPolicy, retry_failed_pricing
from emsp.db import SessionMaker, session_scope
from tests.support.builders import make_partner
from tests.support.cdrs import admin, cdr_json, post_cdr, setup_billing

Headers = dict[str, str]


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        partner, token = await make_partner(session, country_code="BE", party_id="BEC")
        assert partner.id is not None
        from partners.tables import PartnerRole

        session.add(PartnerRole(partner_id=partner.id, role="CPO", country_code="DE", party_id="XYZ"))
        await session.commit()
    return token


async def _markup_plan(client: httpx.AsyncClient, headers: Headers, code: str, percent: str) -> None:
    body = {"name": code, "kind": "MARKUP", "markup_percent": percent}
    await admin(client, headers, "PUT", f"/msp-plans/{code}", body, expect=201)


async def _assign(client: httpx.AsyncClient, headers: Headers, plan: str, scope: str, **keys: str) -> int:
    body = {"plan": plan, "scope": scope, **keys}
    return int((await admin(client, headers, "POST", "/msp-plan-assignments", body, expect=201))["id"])


def _at(location_id: str, evse_uid: str = "3256", **token: str) -> dict[str, Any]:
    body = cdr_json(f"{location_id}-{evse_uid}-{token.get('contract_id', 'x')}")
    body["cdr_location"].update(id=location_id, evse_uid=evse_uid)
    body["cdr_token"].update(token)
    return body


async def _msp(client: httpx.AsyncClient, headers: Headers, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    cdr_id = response.headers["location"].rsplit("/", 1)[1]
    revisions = (await admin(client, headers, "GET", f"/cdrs/{cdr_id}"))["revisions"]
    return revisions[-1]  # type: ignore[no-any-return]


async def test_plan_precedence_evse_location_group_party_subscription_default(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    h = admin_headers
    for code, percent in (
        ("evse", "1"),
        ("loc", "2"),
        ("grp", "3"),
        ("party", "4"),
        ("sub", "5"),
        ("dflt", "6"),
    ):
        await _markup_plan(client, h, code, percent)
    await admin(client, h, "PUT", "/vat-rates/BE", {"rate_percent": "21"})
    await admin(client, h, "PUT", "/msp-contracts/NL-EMS-PREMIUM-1", {"subscription": "premium"})
    await admin(client, h, "PUT", "/location-groups/airports/members",
                {"country_code": "BE", "party_id": "BEC", "location_id": "LOC2"}, expect=201)  # fmt: skip
    be = {"country_code": "BE", "party_id": "BEC"}
    await _assign(client, h, "evse", "EVSE", **be, location_id="loc1", evse_uid="3256")
    await _assign(client, h, "loc", "LOCATION", **be, location_id="LOC1")
    await _assign(client, h, "grp", "LOCATION_GROUP", location_group="airports")
    await _assign(client, h, "party", "CPO_PARTY", **be)
    await _assign(client, h, "sub", "SUBSCRIPTION", subscription="premium")
    await _assign(client, h, "dflt", "DEFAULT")
    premium = {"contract_id": "NL-EMS-PREMIUM-1"}
    cases = [
        (_at("LOC1", "3256", **premium), "evse", "EVSE BE/BEC/loc1/3256"),
        (_at("LOC1", "9999", **premium), "loc", "LOCATION BE/BEC/loc1"),
        (_at("LOC2", "1", **premium), "grp", "LOCATION_GROUP airports"),
        (_at("LOC3", "1", **premium), "party", "CPO_PARTY BE/BEC"),
    ]
    other_party = _at("LOC9", "1", **premium)
    other_party.update(country_code="DE", party_id="XYZ")
    cases.append((other_party, "sub", "SUBSCRIPTION for premium"))
    nobody = _at("LOC9", "1", contract_id="NL-EMS-BASIC-1")
    nobody.update(country_code="DE", party_id="XYZ")
    cases.append((nobody, "dflt", "DEFAULT"))
    for body, plan, rule in cases:
        msp = await _msp(client, h, await post_cdr(client, cpo_token, body))
        assert msp["plan_code"] == plan, (body["id"], msp["plan_rule"])
        assert msp["plan_rule"].startswith(rule)
    assert msp["subscription"] is None
    # Within one level, a rule for the driver's subscription beats the one for everybody.
    await _markup_plan(client, h, "loc-premium", "7")
    await _assign(client, h, "loc-premium", "LOCATION", **be, location_id="LOC1", subscription="premium")
    msp = await _msp(client, h, await post_cdr(client, cpo_token, _at("LOC1", "8888", **premium)))
    assert (msp["plan_code"], msp["subscription"]) == ("loc-premium", "premium")


async def test_vat_by_country_of_the_charging_location(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    """Markup 10 % + 0.50: 1.10 + 6.60 + 0.50 = 8.20 excl. BE 21 % → 1.72 (9.92); DE 19 % → 1.56 (9.76);
    FR has no rate → pricing failed."""
    await setup_billing(client, admin_headers, vat={"BEL": "21", "DE": "19"})
    results = {}
    for country in ("BEL", "DEU", "FRA"):
        body = cdr_json("VAT-" + country)
        body["cdr_location"]["country"] = country
        results[country] = await _msp(client, admin_headers, await post_cdr(client, cpo_token, body))
    be, de, fr = results["BEL"], results["DEU"], results["FRA"]
    assert (be["country"], be["vat_percent"], be["total_vat"], be["total_incl_vat"]) == (
        "BE",
        "21",
        "1.72",
        "9.92",
    )
    assert (de["country"], de["vat_percent"], de["total_vat"], de["total_incl_vat"]) == (
        "DE",
        "19",
        "1.56",
        "9.76",
    )
    assert (fr["status"], fr["total_excl_vat"]) == ("FAILED", None)
    assert fr["failure_reason"].startswith("no VAT rate for FR at 2024-03-05")


async def test_exchange_rate_in_force_at_the_cdr_is_used_and_recorded(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    """CDR in CHF, standard currency EUR. CHF→EUR 0.95 from 2024-01-01 (0.90 from 2024-04-01: later).
    Fixed fee 0.50 EUR → CHF at 1/0.95 = 1.052632 → 0.53. CHF lines 1.10 + 6.60 + 0.53 = 8.23, VAT 21 %
    1.73 → 9.96. EUR lines ×0.95: 1.05 + 6.27 + 0.50 = 7.82, VAT 1.64 → 9.46."""
    await setup_billing(client, admin_headers)
    rate_ids = []
    for rate, since in (("0.95", "2024-01-01T00:00:00Z"), ("0.90", "2024-04-01T00:00:00Z")):
        fx = {
            "base_currency": "CHF",
            "quote_currency": "EUR",
            "rate": rate,
            "valid_from": since,
            "source": "ECB",
        }
        rate_ids.append((await admin(client, admin_headers, "POST", "/fx-rates", fx, expect=201))["id"])
    msp = await _msp(client, admin_headers, await post_cdr(client, cpo_token, cdr_json(currency="CHF")))
    assert msp["status"] == "PRICED", msp["failure_reason"]
    assert (msp["currency"], msp["std_currency"], msp["fx_rate"]) == ("CHF", "EUR", "0.95")
    assert msp["fx_rate_id"] == rate_ids[0]
    lines = [msp[f"{n}_cost"] for n in ("fixed", "energy", "additional")]
    std = [msp[f"std_{n}_cost"] for n in ("fixed", "energy", "additional")]
    assert lines == ["1.10", "6.60", "0.53"] and std == ["1.05", "6.27", "0.50"]
    assert (msp["total_excl_vat"], msp["total_vat"], msp["total_incl_vat"]) == ("8.23", "1.73", "9.96")
    assert (msp["std_total_excl_vat"], msp["std_total_vat"], msp["std_total_incl_vat"]) == (
        "7.82",
        "1.64",
        "9.46",
    )
    late = cdr_json(
        "LATE", currency="CHF", start_date_time="2024-04-02T09:00:00Z", end_date_time="2024-04-02T11:00:00Z"
    )
    late["charging_periods"][0]["start_date_time"] = "2024-04-02T09:00:00Z"
    assert (await _msp(client, admin_headers, await post_cdr(client, cpo_token, late)))["fx_rate"] == "0.9"
    early = cdr_json("EARLY", currency="USD")
    failed = await _msp(client, admin_headers, await post_cdr(client, cpo_token, early))
    assert failed["status"] == "FAILED" and "no exchange rate EUR->USD" in failed["failure_reason"]


async def test_ocpi_tariff_plan(client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str) -> None:
    """Our OCPI Tariff: FLAT 0.99 + ENERGY 0.45/kWh; 20 kWh → 0.99 + 9.00 = 9.99, VAT 21 % 2.10 → 12.09.
    The tariff has no local-time restriction, so no stored Location is needed."""
    tariff = {
        "country_code": "NL", "party_id": "EMS", "id": "DRIVER-STD", "currency": "EUR",
        "elements": [{"price_components": [
            {"type": "FLAT", "price": 0.99, "vat": 9.0, "step_size": 1},
            {"type": "ENERGY", "price": 0.45, "vat": 9.0, "step_size": 1},
        ]}],
        "last_updated": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    plan = {"name": "Driver standard", "kind": "OCPI_TARIFF", "tariff": tariff}
    created = await admin(client, admin_headers, "PUT", "/msp-plans/driver", plan, expect=201)
    assert created["currency"] == "EUR" and created["tariff"]["id"] == "DRIVER-STD"
    await _assign(client, admin_headers, "driver", "DEFAULT")
    await admin(client, admin_headers, "PUT", "/vat-rates/BE", {"rate_percent": "21"})
    msp = await _msp(client, admin_headers, await post_cdr(client, cpo_token, cdr_json()))
    assert (msp["fixed_cost"], msp["energy_cost"], msp["additional_cost"]) == ("0.99", "9.00", None)
    assert (msp["total_excl_vat"], msp["total_vat"], msp["total_incl_vat"]) == ("9.99", "2.10", "12.09")
    assert msp["vat_percent"] == "21"  # the country's rate, not the tariff's 9 %


async def test_revisions_after_plan_changes_never_touch_an_invoiced_one(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str
) -> None:
    """10 % → 8.20; plan to 20 %: 1.20 + 7.20 + 0.50 = 8.90 (revision 2);
    to 15 %: 1.15 + 6.90 + 0.50 = 8.55 (revision 3)."""
    h = admin_headers
    await setup_billing(client, h)
    first = await _msp(client, h, await post_cdr(client, cpo_token, cdr_json()))
    invoiced = await admin(client, h, "POST", f"/msp-cdrs/{first['id']}/invoiced")
    assert invoiced["invoiced"] is True
    cdr_id = first["cpo_cdr_id"]
    same = await admin(client, h, "POST", f"/cdrs/{cdr_id}/reprice")
    assert same["msp_cdr"]["id"] == first["id"]  # deterministic: nothing changed, no revision
    plan = {
        "name": "Standard",
        "kind": "MARKUP",
        "markup_percent": "20",
        "markup_fixed": "0.50",
        "currency": "EUR",
    }
    assert (await admin(client, h, "PUT", "/msp-plans/std", plan))["version"] == 2
    second = (await admin(client, h, "POST", f"/cdrs/{cdr_id}/reprice"))["msp_cdr"]
    assert (second["revision"], second["total_excl_vat"], second["plan_version"]) == (2, "8.90", 2)
    assert second["supersedes_invoiced"] is True and second["invoiced"] is False
    plan["markup_percent"] = "15"
    await admin(client, h, "PUT", "/msp-plans/std", plan)
    third = (await admin(client, h, "POST", f"/cdrs/{cdr_id}/reprice"))["msp_cdr"]
    assert (third["revision"], third["total_excl_vat"], third["supersedes_invoiced"]) == (3, "8.55", False)
    shown = await admin(client, h, "GET", f"/msp-cdrs/{first['id']}")
    assert shown["msp_cdr"] == invoiced  # the invoiced revision is exactly as it was
    assert [(r["revision"], r["total_excl_vat"], r["invoiced"]) for r in shown["revisions"]] == [
        (1, "8.20", True), (2, "8.90", False), (3, "8.55", False),
    ]  # fmt: skip
    current = await admin(client, h, "GET", "/msp-cdrs")
    assert [i["revision"] for i in current["items"]] == [3]
    history = await admin(client, h, "GET", "/msp-cdrs?all_revisions=true")
    assert history["total"] == 3


async def test_failed_pricing_is_stored_and_retried(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    cpo_token: str,
    sessionmaker: SessionMaker,
) -> None:
    """No VAT rate yet: the CDR is stored and its MSP CDR FAILED; once the rate exists the retry prices it."""
    plan = {
        "name": "Standard",
        "kind": "MARKUP",
        "markup_percent": "10",
        "markup_fixed": "0.50",
        "currency": "EUR",
    }
    await admin(client, admin_headers, "PUT", "/msp-plans/std", plan, expect=201)
    await _assign(client, admin_headers, "std", "DEFAULT")
    failed = await _msp(client, admin_headers, await post_cdr(client, cpo_token, cdr_json()))
    assert failed["status"] == "FAILED"
    policy = PricingPolicy(tolerance=__import__("decimal").Decimal("0.01"), std_currency="EUR")
    async with session_scope(sessionmaker) as session:
        assert await retry_failed_pricing(session, policy) == 0  # still no rate: nothing new
    await admin(client, admin_headers, "PUT", "/vat-rates/BE", {"rate_percent": "21"})
    async with session_scope(sessionmaker) as session:
        assert await retry_failed_pricing(session, policy) == 1
    revisions = (await admin(client, admin_headers, "GET", f"/cdrs/{failed['cpo_cdr_id']}"))["revisions"]
    assert [(r["revision"], r["status"], r["total_incl_vat"]) for r in revisions] == [
        (1, "FAILED", None), (2, "PRICED", "9.92"),
    ]  # fmt: skip


async def test_unexpected_pricing_error_still_stores_the_cdr(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    """A plan whose stored tariff became unusable (written around the API): the POST still succeeds."""
    await setup_billing(client, admin_headers)
    async with session_scope(sessionmaker) as session:
        await session.exec(  # type: ignore[call-overload]
            text("UPDATE msp_tariff_plans SET kind = 'OCPI_TARIFF', tariff_json = '{}', version = 9")
        )
    response = await post_cdr(client, cpo_token, cdr_json())
    assert response.status_code == 201
    msp = await _msp(client, admin_headers, response)
    assert msp["status"] == "FAILED"
    assert msp["failure_reason"].startswith("internal error while pricing")


async def test_the_pricing_job_retries_failed_cdrs(
    client: httpx.AsyncClient, admin_headers: Headers, cpo_token: str, app: Any
) -> None:
    """The scheduled entry point (`emsp.cdrs.jobs.retry_pricing_job`) on the app's node."""
    from emsp.cdrs.jobs import retry_pricing_job

    plan = {"name": "Standard", "kind": "MARKUP", "markup_percent": "10", "currency": "EUR"}
    await admin(client, admin_headers, "PUT", "/msp-plans/std", plan, expect=201)
    await _assign(client, admin_headers, "std", "DEFAULT")
    failed = await _msp(client, admin_headers, await post_cdr(client, cpo_token, cdr_json()))
    assert failed["status"] == "FAILED"
    await admin(client, admin_headers, "PUT", "/vat-rates/BE", {"rate_percent": "21"})
    await retry_pricing_job(app.state.node)
    revisions = (await admin(client, admin_headers, "GET", f"/cdrs/{failed['cpo_cdr_id']}"))["revisions"]
    assert [r["status"] for r in revisions] == ["FAILED", "PRICED"]
    assert revisions[1]["total_excl_vat"] == "7.70"  # 1.10 + 6.60, no fixed fee
