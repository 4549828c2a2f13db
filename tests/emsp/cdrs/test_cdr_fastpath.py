"""The CDR receiver's PostgreSQL fast path (`emsp.cdrs.fastpath`) stores exactly what the regular pipeline
stores, and steps aside (writing nothing) whenever the regular path must answer."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from emsp.cdrs.fastpath import FastOutcome, ingest_fast
from emsp.cdrs.pipeline import PricingPolicy, ingest_cdr
from emsp.cdrs.tables import CdrSource
from emsp.db import SessionMaker, session_scope
from ocpi.models.cdrs import Cdr
from partners.tokens import hash_token
from tests.support.builders import make_partner
from tests.support.cdrs import (
    CDR_TABLES,
    admin,
    cdr_json,
    location_json,
    setup_billing,
    store_location,
    store_tariff,
    tariff_json,
)

pytestmark = pytest.mark.postgres_only

POLICY = PricingPolicy(tolerance=Decimal("0.01"), std_currency="EUR")
# Columns that differ between two stored copies of the same CDR by nature (keys, clocks, the CDR's own id).
_VOLATILE = {"id", "cpo_cdr_id", "verification_id", "verified_at", "created_at", "cdr_ref"}


@pytest.fixture
async def world(
    is_postgres: bool, sessionmaker: SessionMaker, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> tuple[int, str]:
    """A CONNECTED CPO BE/BEC, its Location LOC1 and Tariff T1, a markup plan, an OCPI-tariff plan for
    LOC2 in CHF with an exchange rate, VAT for BE. Returns (partner id, token)."""
    if not is_postgres:
        pytest.skip("the CDR fast path runs on PostgreSQL only (SQLite always takes the regular path)")
    async with sessionmaker() as session:
        partner, token = await make_partner(session, country_code="BE", party_id="BEC")
        await session.commit()
        assert partner.id is not None
        partner_id = partner.id
    await store_location(sessionmaker, location_json(), partner_id)
    await store_location(sessionmaker, location_json("LOC2"), partner_id)
    await store_tariff(sessionmaker, tariff_json(), partner_id)
    await setup_billing(client, admin_headers)
    plan_tariff = tariff_json("CHF-PLAN", currency="CHF", country_code="NL", party_id="EMS")
    await admin(client, admin_headers, "PUT", "/msp-plans/chf",
                {"name": "CHF", "kind": "OCPI_TARIFF", "currency": "CHF", "tariff": plan_tariff},
                expect=201)  # fmt: skip
    await admin(client, admin_headers, "POST", "/msp-plan-assignments",
                {"plan": "chf", "scope": "LOCATION", "country_code": "BE", "party_id": "BEC",
                 "location_id": "LOC2"}, expect=201)  # fmt: skip
    await admin(client, admin_headers, "POST", "/fx-rates",
                {"base_currency": "EUR", "quote_currency": "CHF", "rate": "0.95",
                 "valid_from": "2024-01-01T00:00:00Z"}, expect=201)  # fmt: skip
    return partner_id, token


async def _raw(db_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))


async def _fast(db_url: str, body: dict[str, Any], token: str) -> FastOutcome | None:
    conn = await _raw(db_url)
    try:
        cdr = Cdr.model_validate(body)
        return await ingest_fast(
            conn, cdr, json.dumps(body), [hash_token(token)], None,
            tolerance=POLICY.tolerance, std_currency=POLICY.std_currency,
        )  # fmt: skip
    finally:
        await conn.close()


async def _regular(sessionmaker: SessionMaker, body: dict[str, Any], partner_id: int) -> int:
    async with session_scope(sessionmaker) as session:
        result = await ingest_cdr(
            session, Cdr.model_validate(body), json.dumps(body),
            partner_id=partner_id, source=CdrSource.PUSH, policy=POLICY,
        )  # fmt: skip
        return result.cdr.id


async def _stored(sessionmaker: SessionMaker, cdr_pk: int) -> dict[str, Any]:
    """The verification, its lines and the MSP CDR of a stored CDR, without the volatile columns."""

    def clean(row: Any) -> dict[str, Any]:
        return {k: v for k, v in row._mapping.items() if k not in _VOLATILE}

    async with sessionmaker() as session:
        conn = await session.connection()
        ver = (await conn.execute(text("SELECT * FROM cdr_verifications WHERE cpo_cdr_id = :i"),
                                  {"i": cdr_pk})).one()  # fmt: skip
        lines = (await conn.execute(
            text("SELECT * FROM cdr_verification_lines WHERE verification_id = :v ORDER BY component"),
            {"v": ver.id},
        )).all()  # fmt: skip
        msp = (await conn.execute(text("SELECT * FROM msp_cdrs WHERE cpo_cdr_id = :i"), {"i": cdr_pk})).all()
    assert len(msp) == 1
    return {"verification": clean(ver), "lines": [clean(line) for line in lines], "msp": clean(msp[0])}


def _variants() -> dict[str, dict[str, Any]]:
    billed_wrong = cdr_json(total_energy_cost={"excl_vat": 9.00, "incl_vat": 10.89})
    unknown_location = cdr_json()
    unknown_location["cdr_location"]["id"] = "NOWHERE"
    own_tariff = cdr_json(tariffs=[tariff_json("OWN")])
    own_tariff["charging_periods"][0]["tariff_id"] = "OWN"
    chf_plan = cdr_json()
    chf_plan["cdr_location"]["id"] = "LOC2"
    no_vat = cdr_json()
    no_vat["cdr_location"]["country"] = "DEU"
    return {
        "billed right": cdr_json(),
        "billed wrong": billed_wrong,
        "unknown location": unknown_location,
        "own tariff": own_tariff,
        "OCPI-tariff plan in CHF": chf_plan,
        "no VAT rate": no_vat,
    }


@pytest.mark.parametrize("variant", list(_variants()))
async def test_fast_path_stores_what_the_regular_path_stores(
    world: tuple[int, str], db_url: str, sessionmaker: SessionMaker, variant: str
) -> None:
    partner_id, token = world
    body = _variants()[variant]
    fast_body, regular_body = copy.deepcopy(body), copy.deepcopy(body)
    fast_body["id"], regular_body["id"] = "FAST-1", "REGULAR-1"
    outcome = await _fast(db_url, fast_body, token)
    assert outcome is not None
    regular_pk = await _regular(sessionmaker, regular_body, partner_id)
    fast, regular = await _stored(sessionmaker, outcome.cdr_id), await _stored(sessionmaker, regular_pk)
    assert fast == regular
    assert await _fast(db_url, fast_body, token) is None  # stored already: the regular path answers


async def _count_cdr_rows(sessionmaker: SessionMaker) -> dict[str, int]:
    async with sessionmaker() as session:
        conn = await session.connection()
        return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in CDR_TABLES}


async def test_fast_path_steps_aside_and_writes_nothing(
    world: tuple[int, str], db_url: str, sessionmaker: SessionMaker
) -> None:
    _, token = world
    before = await _count_cdr_rows(sessionmaker)
    credit = cdr_json("CREDIT-1", credit=True, credit_reference_id="CDR-1",
                      total_cost={"excl_vat": -7.00, "incl_vat": -8.47})  # fmt: skip
    foreign = cdr_json(country_code="DE", party_id="XYZ")
    assert await _fast(db_url, credit, token) is None
    assert await _fast(db_url, cdr_json(), "not-a-token") is None
    assert await _fast(db_url, foreign, token) is None
    assert await _count_cdr_rows(sessionmaker) == before
    stored = await _fast(db_url, cdr_json(), token)
    assert stored is not None
    changed = cdr_json(total_cost={"excl_vat": 8.00, "incl_vat": 9.68})
    assert await _fast(db_url, changed, token) is None  # another body under the id: the regular path refuses
    after = await _count_cdr_rows(sessionmaker)
    assert after == {t: n + 1 for t, n in before.items() if t != "cdr_verification_lines"} | {
        "cdr_verification_lines": after["cdr_verification_lines"]
    }
