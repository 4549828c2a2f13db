"""Price a CPO CDR for the driver: the MSP CDR, as a new revision when the result changed.

`build_msp_cdr` computes (reads plans and rates, writes nothing): an expected problem (no plan, no VAT rate,
no exchange rate, no time zone, a tariff that cannot price the CDR, a credit whose original is unknown) gives
a FAILED MSP CDR with the reason, for the retry job; never a made-up amount. `save_revision` stores it as
revision n+1 unless the current revision has the same result (`result_sha256`): repricing is deterministic
and a re-run without changes adds nothing. Earlier revisions are never modified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

import cdr_pricing
from cdr_pricing import PricingError
from emsp.billing.compute import LINE_NAMES, MspCosts, finish, lines_of, markup_lines, received_lines
from emsp.billing.plans import PlanChoice, SiteKey, plan_tariff, resolve_plan
from emsp.billing.rates import country_alpha2, fx_rate_at
from emsp.billing.tables import MspCdr, MspCdrStatus, PlanKind
from emsp.cdrs.lookup import ChargingSite
from emsp.cdrs.store import StoredCdr
from emsp.cdrs.verify import pricing_input, zone_for
from ocpi.models.cdrs import Cdr
from ocpi.types import utcnow

if TYPE_CHECKING:
    from emsp.cdrs.reads import PricingReads

_ZERO = Decimal(0)


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Priced:
    currency: str
    lines: dict[str, Decimal | None]


def base_fields(row: StoredCdr, std_currency: str) -> dict[str, Any]:
    return {
        "cpo_cdr_id": row.id,
        "credit": row.credit,
        "cpo_country_code": row.country_code,
        "cpo_party_id": row.party_id,
        "cdr_ref": row.cdr_id,
        "token_uid": row.token_uid,
        "contract_id": row.contract_id,
        "location_id": row.location_id,
        "evse_uid": row.evse_uid,
        "country": country_alpha2(row.location_country) or row.location_country[:2],
        "start_date_time": row.start_date_time,
        "end_date_time": row.end_date_time,
        "energy_kwh": row.total_energy,
        "time_hours": row.total_time,
        "parking_hours": row.total_parking_time or _ZERO,
        "currency": row.currency,
        "std_currency": std_currency,
        "cpo_total_excl_vat": row.total_cost_excl_vat,
    }


def site_key(row: StoredCdr) -> SiteKey:
    return SiteKey(
        country_code=row.country_code,
        party_id=row.party_id,
        location_id=row.location_id_norm,
        evse_uid=row.evse_uid_norm,
        contract_id=row.contract_id_norm,
    )


async def _plan_lines(
    reads: PricingReads, choice: PlanChoice, row: StoredCdr, cdr: Cdr, site: ChargingSite | None
) -> Priced:
    plan = choice.plan
    if plan.kind == PlanKind.MARKUP:
        fee = plan.markup_fixed or _ZERO
        if fee and plan.currency != row.currency:
            fx = await fx_rate_at(reads, plan.currency, row.currency, row.start_date_time)
            if fx is None:
                raise _Failed(f"no exchange rate {plan.currency}->{row.currency} for the plan's fixed fee")
            fee = fee * fx.rate
        lines = markup_lines(received_lines(cdr), row.currency, plan.markup_percent or _ZERO, fee)
        return Priced(row.currency, lines)
    compiled = plan_tariff(plan)
    time_zone = zone_for(compiled.tariff, site.time_zone if site else None)
    if not time_zone:
        raise _Failed(f"time zone of location {row.location_id} unknown (location not stored)")
    try:
        priced = cdr_pricing.price_cdr(pricing_input(cdr), compiled, time_zone)
    except PricingError as exc:
        raise _Failed(f"plan {plan.code} cannot price the CDR: {exc}") from None
    return Priced(priced.currency.upper(), lines_of(priced))


async def _price(
    reads: PricingReads, row: StoredCdr, cdr: Cdr, site: ChargingSite | None, std_currency: str
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    country = country_alpha2(row.location_country)
    if country is None:
        raise _Failed(f"unknown country {row.location_country!r} of the charging location")
    choice = await resolve_plan(reads, site_key(row))
    if choice is None:
        raise _Failed("no MSP tariff plan applies (no assignment, not even DEFAULT)")
    fields.update(
        plan_id=choice.plan.id,
        plan_code=choice.plan.code,
        plan_version=choice.plan.version,
        plan_rule=choice.rule,
        subscription=choice.subscription,
    )
    vat = await reads.vat(country, row.start_date_time)
    if vat is None:
        raise _Failed(f"no VAT rate for {country} at {row.start_date_time.isoformat()}")
    priced = await _plan_lines(reads, choice, row, cdr, site)
    fx = await fx_rate_at(reads, priced.currency, std_currency, row.start_date_time)
    if fx is None:
        raise _Failed(
            f"no exchange rate {priced.currency}->{std_currency} at {row.start_date_time.isoformat()}"
        )
    costs = finish(priced.currency, priced.lines, vat.rate_percent, std_currency, fx.rate)
    fields.update(_cost_fields(costs), vat_percent=vat.rate_percent, vat_rate_id=vat.id)
    fields["fx_rate_id"] = fx.row_id
    return fields


def _cost_fields(costs: MspCosts) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "currency": costs.currency,
        "std_currency": costs.std_currency,
        "fx_rate": costs.fx_rate,
    }
    for name in LINE_NAMES:
        fields[f"{name}_cost"] = costs.lines[name]
        fields[f"std_{name}_cost"] = costs.std_lines[name]
    fields.update(
        total_excl_vat=costs.total_excl_vat,
        total_vat=costs.total_vat,
        total_incl_vat=costs.total_incl_vat,
        std_total_excl_vat=costs.std_total_excl_vat,
        std_total_vat=costs.std_total_vat,
        std_total_incl_vat=costs.std_total_incl_vat,
    )
    return fields


_TOTALS = ["total_excl_vat", "total_vat", "total_incl_vat"]
_NEGATED = [f"{n}_cost" for n in LINE_NAMES] + [f"std_{n}_cost" for n in LINE_NAMES] + _TOTALS
_NEGATED += [f"std_{name}" for name in _TOTALS]
_COPIED = ["plan_id", "plan_code", "plan_version", "plan_rule", "subscription", "currency", "std_currency",
           "fx_rate", "fx_rate_id", "vat_percent", "vat_rate_id"]  # fmt: skip


async def _credit(reads: PricingReads, row: StoredCdr) -> dict[str, Any]:
    """A Credit CDR's MSP CDR negates the current MSP CDR of the CDR it credits."""
    if row.credited_cdr_id is None:
        raise _Failed(f"credited CDR {row.credit_reference_id} is not known")
    original = await reads.current_msp_cdr(row.credited_cdr_id)
    if original is None or original.status != MspCdrStatus.PRICED:
        raise _Failed(f"credited CDR {row.credit_reference_id} has no priced MSP CDR")
    fields: dict[str, Any] = {name: getattr(original, name) for name in _COPIED}
    for name in _NEGATED:
        value = getattr(original, name)
        fields[name] = None if value is None else -value
    fields["corrects_msp_cdr_id"] = original.id
    return fields


async def build_msp_cdr(
    reads: PricingReads, row: StoredCdr, cdr: Cdr, site: ChargingSite | None, *, std_currency: str
) -> dict[str, Any]:
    """The column values of the MSP CDR for `row` (not stored): PRICED, or FAILED with the reason."""
    fields = base_fields(row, std_currency)
    try:
        priced = (
            await _credit(reads, row) if row.credit else await _price(reads, row, cdr, site, std_currency)
        )
        fields.update(priced, status=MspCdrStatus.PRICED.value)
    except _Failed as failed:
        fields.update(status=MspCdrStatus.FAILED.value, failure_reason=failed.reason[:500])
    return with_defaults(fields)


def with_defaults(fields: dict[str, Any]) -> dict[str, Any]:
    """Every column of `msp_cdrs` (None where not priced), the revision 1 defaults and the result digest."""
    row = dict.fromkeys(_COLUMNS)
    row.update(revision=1, credit=False, supersedes_invoiced=False, invoiced=False, created_at=utcnow())
    row.update(fields)
    row["result_sha256"] = result_sha256(row)
    return row


_HASHED = ["status", "failure_reason", "credit", "corrects_msp_cdr_id", "country", *_COPIED, *_NEGATED]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def result_sha256(fields: dict[str, Any]) -> str:
    """Digest of everything a re-run could change: same digest, same bill."""
    data = {name: _text(fields.get(name)) for name in _HASHED}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Revision:
    """What the pipeline needs of an MSP CDR revision."""

    id: int
    revision: int
    status: str
    result_sha256: str
    invoiced: bool


MSP = MspCdr.__table__  # type: ignore[attr-defined]
_COLUMNS = [c.name for c in MSP.columns if c.name != "id"]
_INSERT = insert(MSP).returning(MSP.c.id)
_CURRENT = (
    select(MSP.c.id, MSP.c.revision, MSP.c.status, MSP.c.result_sha256, MSP.c.invoiced)
    .where(MSP.c.cpo_cdr_id == bindparam("cdr_id"))
    .order_by(MSP.c.revision.desc())
    .limit(1)
)


async def current_revision(session: AsyncSession, cpo_cdr_id: int) -> Revision | None:
    found = (await session.exec(_CURRENT, params={"cdr_id": cpo_cdr_id})).first()  # type: ignore[call-overload]
    return None if found is None else Revision(*found)


async def current_msp_cdr(session: AsyncSession, cpo_cdr_id: int) -> MspCdr | None:
    found = await current_revision(session, cpo_cdr_id)
    return None if found is None else await session.get(MspCdr, found.id)


async def save_revision(
    session: AsyncSession, new: dict[str, Any], *, first: bool = False
) -> tuple[Revision, bool]:
    """Store `new` (column values) as the next revision unless the current one has the same result.

    Returns (the current revision, whether it was created). `first`: the CDR was stored in this transaction,
    so there is no revision yet (saves a query on ingest). Earlier revisions are never written to.
    """
    current = None if first else await current_revision(session, new["cpo_cdr_id"])
    if current is not None and current.result_sha256 == new["result_sha256"]:
        return current, False
    if current is not None:
        new["revision"], new["supersedes_invoiced"] = current.revision + 1, current.invoiced
    new_id = (await session.exec(_INSERT, params=new)).scalar_one()  # type: ignore[call-overload]
    return Revision(new_id, new["revision"], new["status"], new["result_sha256"], False), True
