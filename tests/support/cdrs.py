"""Builders for CDR and billing tests: OCPI CDR / Location / Tariff dicts built in code, ingest of a
Location and a Tariff, billing configuration through the admin API, and a CDR POST."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from emsp.db import SessionMaker, session_scope
from emsp.ingest.locations import store_locations
from emsp.ingest.tariffs import put_tariff
from ocpi.models.locations import Location
from ocpi.models.tariffs import Tariff
from tests.support.builders import ocpi_auth

CDRS = "/ocpi/2.2.1/cdrs"
CDR_TABLES = ("cdrs", "cdr_verifications", "cdr_verification_lines", "msp_cdrs")


def price(excl: str, incl: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": Decimal(excl)}
    if incl is not None:
        out["incl_vat"] = Decimal(incl)
    return out


def cdr_json(cdr_id: str = "CDR-1", **overrides: Any) -> dict[str, Any]:
    """A CDR at BE/BEC location LOC1 (EVSE 3256, connector 1), 09:00-11:00Z on 2024-03-05, 20 kWh, 2 h,
    billed 7.00 excl (fixed 1.00 + energy 6.00, VAT 21 %) in EUR. Numbers as JSON-ready values."""
    body: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": cdr_id,
        "start_date_time": "2024-03-05T09:00:00Z",
        "end_date_time": "2024-03-05T11:00:00Z",
        "session_id": "S-" + cdr_id,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": "04AABBCCDD",
            "type": "RFID",
            "contract_id": "NL-EMS-C12345678-X",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "name": "Gent Zuid",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "postal_code": "9000",
            "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503001",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2024-03-05T09:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 20}, {"type": "TIME", "volume": 2}],
                "tariff_id": "T1",
            }
        ],
        "total_cost": {"excl_vat": 7.00, "incl_vat": 8.47},
        "total_fixed_cost": {"excl_vat": 1.00, "incl_vat": 1.21},
        "total_energy": 20,
        "total_energy_cost": {"excl_vat": 6.00, "incl_vat": 7.26},
        "total_time": 2,
        "last_updated": "2024-03-05T11:05:00Z",
    }
    body.update(overrides)
    return body


def tariff_json(tariff_id: str = "T1", **overrides: Any) -> dict[str, Any]:
    """BE/BEC tariff: FLAT 1.00 + ENERGY 0.30/kWh, VAT 21 %, from 2024-01-01."""
    body: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": tariff_id,
        "currency": "EUR",
        "type": "REGULAR",
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 1.00, "vat": 21.0, "step_size": 1},
                    {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                ]
            }
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


def location_json(
    location_id: str = "LOC1",
    *,
    country_code: str = "BE",
    party_id: str = "BEC",
    country: str = "BEL",
    time_zone: str | None = "Europe/Brussels",
    tariff_ids: list[str] | None = None,
    evse_uid: str = "3256",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": country_code,
        "party_id": party_id,
        "id": location_id,
        "publish": True,
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "country": country,
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evses": [
            {
                "uid": evse_uid,
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 16,
                        "tariff_ids": ["T1"] if tariff_ids is None else tariff_ids,
                        "last_updated": "2024-01-01T00:00:00Z",
                    }
                ],
                "last_updated": "2024-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    if time_zone is not None:
        body["time_zone"] = time_zone
    return body


async def store_location(
    sessionmaker: SessionMaker, body: dict[str, Any], partner_id: int | None = None
) -> None:
    async with session_scope(sessionmaker) as session:
        await store_locations(session, [Location.model_validate(body)], partner_id=partner_id)


async def store_tariff(
    sessionmaker: SessionMaker, body: dict[str, Any], partner_id: int | None = None
) -> None:
    async with session_scope(sessionmaker) as session:
        await put_tariff(session, Tariff.model_validate(body), partner_id=partner_id)


async def admin(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any = None,
    expect: int = 200,
) -> Any:
    response = await client.request(method, "/admin/v1" + path, json=body, headers=headers)
    assert response.status_code == expect, response.text
    return response.json() if response.content else None


async def setup_billing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    percent: str = "10",
    fixed: str = "0.50",
    vat: dict[str, str] | None = None,
) -> None:
    """A DEFAULT markup plan `std` (percent + fixed EUR) and VAT rates (default BE 21 %)."""
    plan = {
        "name": "Standard",
        "kind": "MARKUP",
        "markup_percent": percent,
        "markup_fixed": fixed,
        "currency": "EUR",
    }
    await admin(client, headers, "PUT", "/msp-plans/std", plan, expect=201)
    await admin(
        client, headers, "POST", "/msp-plan-assignments", {"plan": "std", "scope": "DEFAULT"}, expect=201
    )
    for country, rate in (vat or {"BE": "21"}).items():
        await admin(client, headers, "PUT", f"/vat-rates/{country}", {"rate_percent": rate})


async def post_cdr(client: httpx.AsyncClient, token: str, body: Any, base: str = "") -> httpx.Response:
    if isinstance(body, bytes | str):
        return await client.post(base + CDRS, content=body, headers=ocpi_auth(token))
    return await client.post(base + CDRS, json=jsonable(body), headers=ocpi_auth(token))


def jsonable(value: Any) -> Any:
    """Decimals as JSON numbers (via float of their text) for httpx's `json=`."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def credit_of(original: dict[str, Any], credit_id: str) -> dict[str, Any]:
    """The Credit CDR of `original`: same data, negated total_cost (mod_cdrs 10.1.1)."""
    body = copy.deepcopy(original)
    body.update(id=credit_id, credit=True, credit_reference_id=original["id"])
    body["total_cost"] = {k: -v for k, v in original["total_cost"].items()}
    return body


async def count_rows(sessionmaker: SessionMaker, *tables: str) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            t: int((await session.exec(text(f"SELECT count(*) FROM {t}"))).scalar_one())
            for t in tables or CDR_TABLES
        }
