"""Operator views of CPO CDRs: one CDR with its verification, and the CDRs whose billing differs from our
recomputation (verification MISMATCH), or that could not be checked (NO_PRICE)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.queries import money_text, number_text
from emsp.cdrs.tables import CdrVerification, CdrVerificationLine, CpoCdr
from ocpi.types import format_datetime

_CDR_FIELDS = [
    "id", "partner_id", "country_code", "party_id", "cdr_id", "source", "received_at", "start_date_time",
    "end_date_time", "session_id", "token_uid", "token_type", "contract_id", "location_id", "evse_uid",
    "connector_id", "location_country", "currency", "total_cost_excl_vat", "total_cost_incl_vat",
    "total_energy", "total_time", "total_parking_time", "credit", "credit_reference_id", "credited_cdr_id",
    "flag",
]  # fmt: skip
_VERIFICATION_FIELDS = [
    "status", "reason", "tariff_source", "tariff_ref", "time_zone", "tolerance", "max_difference",
    "verified_at",
]  # fmt: skip
_LINE_FIELDS = [
    "component", "received_excl_vat", "received_incl_vat", "calculated_excl_vat", "calculated_incl_vat",
    "difference_excl_vat", "mismatch",
]  # fmt: skip


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def pick_fields(obj: Any, names: list[str]) -> dict[str, Any]:
    """`names` of `obj` as JSON: decimals as plain strings (no float, no trailing zeros), OCPI DateTimes."""
    return {name: _text(getattr(obj, name)) for name in names}


def cdr_view(row: CpoCdr, *, with_body: bool = False) -> dict[str, Any]:
    view = pick_fields(row, _CDR_FIELDS)
    for name in ("total_cost_excl_vat", "total_cost_incl_vat"):
        view[name] = money_text(getattr(row, name), row.currency)
    if with_body:
        view["cdr"] = json.loads(row.raw_json)
    return view


async def verification_view(session: AsyncSession, cpo_cdr_id: int) -> dict[str, Any] | None:
    verification = (
        await session.exec(select(CdrVerification).where(col(CdrVerification.cpo_cdr_id) == cpo_cdr_id))
    ).first()
    if verification is None:
        return None
    lines = (
        await session.exec(
            select(CdrVerificationLine)
            .where(col(CdrVerificationLine.verification_id) == verification.id)
            .order_by(col(CdrVerificationLine.id))
        )
    ).all()
    currency = (await session.exec(select(CpoCdr.currency).where(col(CpoCdr.id) == cpo_cdr_id))).first()
    view = pick_fields(verification, _VERIFICATION_FIELDS)
    view["components"] = [_line_view(line, currency) for line in lines]
    return view


def _line_view(line: CdrVerificationLine, currency: str | None) -> dict[str, Any]:
    view = pick_fields(line, _LINE_FIELDS)
    for name in _LINE_FIELDS[1:-1]:
        view[name] = money_text(getattr(line, name), currency)
    return view


async def list_checked(
    session: AsyncSession,
    *,
    status: str,
    date_from: datetime | None,
    date_to: datetime | None,
    country_code: str | None,
    party_id: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """CPO CDRs whose verification has `status` (MISMATCH, NO_PRICE, MATCH), oldest session first."""
    conds: list[Any] = [col(CdrVerification.status) == status]
    if date_from is not None:
        conds.append(col(CpoCdr.start_date_time) >= date_from)
    if date_to is not None:
        conds.append(col(CpoCdr.start_date_time) < date_to)
    if country_code:
        conds.append(col(CpoCdr.country_code) == country_code.upper())
    if party_id:
        conds.append(col(CpoCdr.party_id) == party_id.upper())
    joined = select(CpoCdr, CdrVerification).join(
        CdrVerification, col(CdrVerification.cpo_cdr_id) == col(CpoCdr.id)
    )
    count = (
        select(func.count())
        .select_from(CpoCdr)
        .join(CdrVerification, col(CdrVerification.cpo_cdr_id) == col(CpoCdr.id))
    )
    total = (await session.exec(count.where(*conds))).one()
    stmt = (
        joined.where(*conds).order_by(col(CpoCdr.start_date_time), col(CpoCdr.id)).offset(offset).limit(limit)
    )
    items = []
    for cdr, verification in (await session.exec(stmt)).all():
        item = cdr_view(cdr)
        item["verification"] = pick_fields(verification, _VERIFICATION_FIELDS)
        items.append(item)
    return int(total), items
