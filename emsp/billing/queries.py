"""What finance reads: MSP CDRs by period, CPO party, token, contract, location, country, plan; with totals;
one by one with the CPO CDR beside it; in batches for exports (keyset by id, so memory stays flat).

The period selects by the charging session's start (`start_date_time`): `date_from` inclusive, `date_to`
exclusive. Only each CDR's current revision is listed unless `all_revisions` is asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cdr_pricing import minor_unit, round_money
from emsp.billing.compute import LINE_NAMES
from emsp.billing.tables import MspCdr
from emsp.db import SessionMaker
from ocpi.types import format_datetime


@dataclass(frozen=True)
class MspCdrFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    cpo_country_code: str | None = None
    cpo_party_id: str | None = None
    token_uid: str | None = None
    contract_id: str | None = None
    location_id: str | None = None
    country: str | None = None
    plan_code: str | None = None
    status: str | None = None
    invoiced: bool | None = None
    cpo_cdr_id: int | None = None
    all_revisions: bool = False


def _conditions(f: MspCdrFilter) -> list[Any]:
    conds: list[Any] = []
    if f.date_from is not None:
        conds.append(col(MspCdr.start_date_time) >= f.date_from)
    if f.date_to is not None:
        conds.append(col(MspCdr.start_date_time) < f.date_to)
    exact = {
        MspCdr.cpo_country_code: f.cpo_country_code and f.cpo_country_code.upper(),
        MspCdr.cpo_party_id: f.cpo_party_id and f.cpo_party_id.upper(),
        MspCdr.country: f.country and f.country.upper(),
        MspCdr.plan_code: f.plan_code,
        MspCdr.status: f.status,
        MspCdr.invoiced: f.invoiced,
        MspCdr.cpo_cdr_id: f.cpo_cdr_id,
    }
    conds.extend(col(column) == value for column, value in exact.items() if value is not None)
    folded = {
        MspCdr.token_uid: f.token_uid,
        MspCdr.contract_id: f.contract_id,
        MspCdr.location_id: f.location_id,
    }
    conds.extend(func.lower(col(column)) == value.lower() for column, value in folded.items() if value)
    if not f.all_revisions:
        newer = aliased(MspCdr)
        conds.append(~exists().where(newer.cpo_cdr_id == MspCdr.cpo_cdr_id, newer.revision > MspCdr.revision))
    return conds


async def list_msp_cdrs(
    session: AsyncSession, f: MspCdrFilter, *, offset: int, limit: int
) -> tuple[int, list[MspCdr]]:
    conds = _conditions(f)
    total = (await session.exec(select(func.count()).select_from(MspCdr).where(*conds))).one()
    stmt = select(MspCdr).where(*conds).order_by(col(MspCdr.start_date_time), col(MspCdr.id))
    rows = (await session.exec(stmt.offset(offset).limit(limit))).all()
    return int(total), list(rows)


async def msp_totals(session: AsyncSession, f: MspCdrFilter) -> dict[str, Any]:
    """Count, and sums of the PRICED ones per currency (CDR/plan currency and the standard currency).

    Sums are done in Python over exact decimals (SQLite keeps them as text)."""
    conds = _conditions(f)
    stmt = select(
        MspCdr.status,
        MspCdr.currency,
        MspCdr.total_excl_vat,
        MspCdr.total_incl_vat,
        MspCdr.std_currency,
        MspCdr.std_total_excl_vat,
        MspCdr.std_total_vat,
        MspCdr.std_total_incl_vat,
    ).where(*conds)
    count, failed = 0, 0
    by_currency: dict[str, list[Decimal]] = {}
    by_std: dict[str, list[Decimal]] = {}
    zero = Decimal(0)
    for status, cur, excl, incl, std, s_excl, s_vat, s_incl in await session.exec(stmt):
        count += 1
        if status != "PRICED":
            failed += 1
            continue
        acc = by_currency.setdefault(cur, [zero, zero])
        acc[0] += excl or zero
        acc[1] += incl or zero
        sacc = by_std.setdefault(std, [zero, zero, zero])
        sacc[0] += s_excl or zero
        sacc[1] += s_vat or zero
        sacc[2] += s_incl or zero
    return {
        "count": count,
        "failed": failed,
        "by_currency": {
            c: {"excl_vat": money_text(v[0], c), "incl_vat": money_text(v[1], c)}
            for c, v in sorted(by_currency.items())
        },
        "standard_currency": {
            c: {"excl_vat": money_text(v[0], c), "vat": money_text(v[1], c), "incl_vat": money_text(v[2], c)}
            for c, v in sorted(by_std.items())
        },
    }


async def iter_msp_cdrs(
    sessionmaker: SessionMaker, f: MspCdrFilter, *, batch: int = 500
) -> AsyncIterator[MspCdr]:
    """Every matching MSP CDR by id, `batch` rows per query, each batch in a short read-only session."""
    conds = _conditions(f)
    after = 0
    while True:
        async with sessionmaker() as session:
            stmt = select(MspCdr).where(*conds, col(MspCdr.id) > after).order_by(col(MspCdr.id)).limit(batch)
            rows = list((await session.exec(stmt)).all())
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].id or after


def number_text(value: Decimal | None) -> str | None:
    """A quantity or rate as a plain decimal string without trailing zeros (same text on every database)."""
    return None if value is None else format(value.normalize(), "f")


def money_text(value: Decimal | None, currency: str | None) -> str | None:
    """An amount with the currency's minor-unit decimals ("4.40"), whatever the database returned."""
    return None if value is None else format(round_money(value, minor_unit(currency)), "f")


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


MSP_CDR_COLUMNS = [
    "id", "cpo_cdr_id", "revision", "status", "failure_reason", "credit", "corrects_msp_cdr_id",
    "supersedes_invoiced", "cpo_country_code", "cpo_party_id", "cdr_ref", "token_uid", "contract_id",
    "subscription", "location_id", "evse_uid", "country", "start_date_time", "end_date_time", "energy_kwh",
    "time_hours", "parking_hours", "plan_code", "plan_version", "plan_rule", "currency",
    *[f"{n}_cost" for n in LINE_NAMES], "total_excl_vat", "total_vat", "total_incl_vat", "vat_percent",
    "vat_rate_id", "std_currency", "fx_rate", "fx_rate_id", *[f"std_{n}_cost" for n in LINE_NAMES],
    "std_total_excl_vat", "std_total_vat", "std_total_incl_vat", "cpo_total_excl_vat", "created_at",
    "invoiced", "invoiced_at",
]  # fmt: skip


_MONEY = {
    *(f"{n}_cost" for n in LINE_NAMES),
    "total_excl_vat",
    "total_vat",
    "total_incl_vat",
    "cpo_total_excl_vat",
}


def msp_cdr_view(row: MspCdr) -> dict[str, Any]:
    """An MSP CDR as JSON: amounts as decimal strings with the currency's decimals (never floats), other
    numbers without trailing zeros, times as OCPI DateTimes."""
    view = {name: _text(getattr(row, name)) for name in MSP_CDR_COLUMNS}
    for name in _MONEY:
        view[name] = money_text(getattr(row, name), row.currency)
        view["std_" + name] = money_text(getattr(row, "std_" + name, None), row.std_currency)
    view.pop("std_cpo_total_excl_vat")
    return view
