"""Verify what the CPO billed: recompute a CDR's cost with the CPO's own tariff and compare per component.

The tariff: the CDR's own `tariffs[]` when present (the one its charging periods name, or the only one),
else the version in force at the CDR start of the tariff on the connector the CDR names (stored by ingest;
of several connector tariffs, the one of type REGULAR or without a type). The time zone: the stored
Location's (`cdr_location.id`), since 2.2.1 CDRs carry none. Either missing → `NO_PRICE` with the reason;
a missing price is never taken as 0.

A Credit CDR is checked against the CDR it credits: its `total_cost` must be the negated original total.
Components are compared on excl. VAT, and on incl. VAT when both sides have it; a difference larger than the
tolerance (`EMSP_CDR_PRICE_TOLERANCE`) is a mismatch. A component the CPO left out counts as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert
from sqlmodel.ext.asyncio.session import AsyncSession

import cdr_pricing
from cdr_pricing import PricedCdr, PricingError
from emsp.cdrs.lookup import ChargingSite, tariff_in_force_at
from emsp.cdrs.store import StoredCdr
from emsp.cdrs.tables import (
    CdrVerification,
    CdrVerificationLine,
    CostComponentName,
    CpoCdr,
    VerificationStatus,
)
from ocpi.models.cdrs import Cdr
from ocpi.models.common import Price
from ocpi.types import utcnow

if TYPE_CHECKING:
    from emsp.cdrs.reads import PricingReads

_ZERO = Decimal(0)


@dataclass(frozen=True)
class TariffChoice:
    tariff: Any | None  # an OCPI Tariff model (the CDR's own) or a CompiledTariff; None: none to use
    source: str | None = None  # CDR_TARIFFS or TARIFF_IN_FORCE
    ref: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Verification:
    """Column values of the `cdr_verifications` row and of its lines (plain dicts: built on every
    ingest), and the recomputed CPO cost when there is one."""

    row: dict[str, Any]
    lines: list[dict[str, Any]]
    priced: PricedCdr | None


def _received(cdr: Cdr) -> dict[CostComponentName, Price | None]:
    return {
        CostComponentName.TOTAL: cdr.total_cost,
        CostComponentName.FIXED: cdr.total_fixed_cost,
        CostComponentName.RESERVATION: cdr.total_reservation_cost,
        CostComponentName.ENERGY: cdr.total_energy_cost,
        CostComponentName.TIME: cdr.total_time_cost,
        CostComponentName.PARKING: cdr.total_parking_cost,
    }


def _calculated(priced: PricedCdr) -> dict[CostComponentName, cdr_pricing.Cost | None]:
    return {
        CostComponentName.TOTAL: priced.total_cost,
        CostComponentName.FIXED: priced.total_fixed_cost,
        CostComponentName.RESERVATION: priced.total_reservation_cost,
        CostComponentName.ENERGY: priced.total_energy_cost,
        CostComponentName.TIME: priced.total_time_cost,
        CostComponentName.PARKING: priced.total_parking_cost,
    }


def choose_cdr_tariff(cdr: Cdr) -> TariffChoice | None:
    """The tariff from the CDR's own `tariffs[]`, or None when the CDR lists none."""
    if not cdr.tariffs:
        return None
    named = {p.tariff_id.lower() for p in cdr.charging_periods if p.tariff_id}
    candidates = [t for t in cdr.tariffs if not named or t.id.lower() in named]
    if len(candidates) != 1:
        return TariffChoice(
            None,
            "CDR_TARIFFS",
            problem=f"the CDR's periods use {len(candidates) or 'none'} of its {len(cdr.tariffs)} tariffs; "
            "recomputing with several tariffs is not supported",
        )
    tariff = candidates[0]
    return TariffChoice(tariff, "CDR_TARIFFS", ref=f"{tariff.country_code}/{tariff.party_id}/{tariff.id}")


async def choose_tariff(reads: PricingReads, cdr: Cdr, site: ChargingSite | None) -> TariffChoice:
    own = choose_cdr_tariff(cdr)
    if own is not None:
        return own
    if site is None:
        return TariffChoice(None, problem=f"location {cdr.cdr_location.id} is not known")
    if not site.tariff_ids:
        return TariffChoice(None, problem=f"connector {cdr.cdr_location.connector_id} has no tariff")
    found = []
    for tariff_id in site.tariff_ids:
        at = cdr.start_date_time
        tariff = await tariff_in_force_at(reads, cdr.country_code, cdr.party_id, tariff_id, at)
        if tariff is not None:
            found.append(tariff)
    regular = [t for t in found if t.data.get("type") in (None, "REGULAR")]
    if len(regular) != 1:
        what = "no tariff in force" if not found else f"{len(regular)} regular tariffs in force"
        return TariffChoice(None, "TARIFF_IN_FORCE", problem=f"{what} on the connector at the CDR start")
    return TariffChoice(regular[0].compiled, "TARIFF_IN_FORCE", ref=regular[0].ref)


def pricing_input(cdr: Cdr) -> cdr_pricing.Cdr:
    """The CDR as the pricing engine reads it, made from the fields it reads only (converting the whole
    model, location and token included, cost more than pricing it)."""
    return cdr_pricing.cdr_from_ocpi(
        {
            "id": cdr.id,
            "currency": cdr.currency,
            "start_date_time": cdr.start_date_time,
            "end_date_time": cdr.end_date_time,
            "total_energy": cdr.total_energy,
            "charging_periods": [period.model_dump() for period in cdr.charging_periods],
        }
    )


def zone_for(tariff: cdr_pricing.Tariff, time_zone: str | None) -> str | None:
    """The zone to price in: the Location's; or UTC when the tariff has no local-time restriction (times,
    dates, days), since then the zone cannot change the price; None when a zone is needed but unknown."""
    if time_zone:
        return time_zone
    local = any(
        r is not None and (r.start_time or r.end_time or r.start_date or r.end_date or r.day_of_week)
        for r in (element.restrictions for element in tariff.elements)
    )
    return None if local else "UTC"


def _line(
    component: CostComponentName, received: Price | None, calculated: Any, tolerance: Decimal
) -> dict[str, Any]:
    recv_excl = received.excl_vat if received else _ZERO
    calc_excl = calculated.excl_vat if calculated else _ZERO
    diff = recv_excl - calc_excl
    mismatch = abs(diff) > tolerance
    recv_incl = received.incl_vat if received else None
    calc_incl = calculated.incl_vat if calculated else None
    if recv_incl is not None and calc_incl is not None and abs(recv_incl - calc_incl) > tolerance:
        mismatch = True
    return {
        "component": component.value,
        "received_excl_vat": received.excl_vat if received else None,
        "received_incl_vat": recv_incl,
        "calculated_excl_vat": calculated.excl_vat if calculated else None,
        "calculated_incl_vat": calc_incl,
        "difference_excl_vat": diff,
        "mismatch": mismatch,
    }


def compare(cdr: Cdr, calculated: dict[CostComponentName, Any], tolerance: Decimal) -> list[dict[str, Any]]:
    received = _received(cdr)
    return [_line(name, received[name], calculated.get(name), tolerance) for name in CostComponentName]


def _row(
    row_id: int,
    status: VerificationStatus,
    reason: str | None,
    tolerance: Decimal,
    choice: TariffChoice | None,
    time_zone: str | None,
    max_difference: Decimal | None = None,
) -> dict[str, Any]:
    return {
        "cpo_cdr_id": row_id,
        "status": status.value,
        "reason": reason,
        "tariff_source": choice.source if choice else None,
        "tariff_ref": choice.ref if choice else None,
        "time_zone": time_zone,
        "tolerance": tolerance,
        "max_difference": max_difference,
        "verified_at": utcnow(),
    }


def _verdict(
    row_id: int, lines: list[dict[str, Any]], tolerance: Decimal, choice: TariffChoice, time_zone: str | None
) -> dict[str, Any]:
    mismatches = [line["component"] for line in lines if line["mismatch"]]
    status = VerificationStatus.MISMATCH if mismatches else VerificationStatus.MATCH
    reason = f"differs on {', '.join(mismatches)}" if mismatches else None
    biggest = max(abs(line["difference_excl_vat"]) for line in lines)
    return _row(row_id, status, reason, tolerance, choice, time_zone, biggest)


def _no_price(
    row_id: int, reason: str, tolerance: Decimal, choice: TariffChoice | None, tz: str | None
) -> Verification:
    text = f"no price available: {reason}"[:500]
    return Verification(_row(row_id, VerificationStatus.NO_PRICE, text, tolerance, choice, tz), [], None)


def verify_credit(row: StoredCdr, cdr: Cdr, original: CpoCdr | None, tolerance: Decimal) -> Verification:
    """A Credit CDR's total must negate the total of the CDR it credits."""
    choice = TariffChoice(None, "ORIGINAL", ref=cdr.credit_reference_id)
    if original is None:
        return _no_price(
            row.id, f"credited CDR {cdr.credit_reference_id} is not known", tolerance, choice, None
        )
    expected = Price(
        excl_vat=-original.total_cost_excl_vat,
        incl_vat=None if original.total_cost_incl_vat is None else -original.total_cost_incl_vat,
    )
    line = _line(CostComponentName.TOTAL, cdr.total_cost, expected, tolerance)
    return Verification(_verdict(row.id, [line], tolerance, choice, None), [line], None)


async def verify_cdr(
    reads: PricingReads, row: StoredCdr, cdr: Cdr, site: ChargingSite | None, tolerance: Decimal
) -> Verification:
    """Recompute `cdr` with the CPO's tariff and compare (nothing is written; see `save_verification`)."""
    time_zone = site.time_zone if site else None
    choice = await choose_tariff(reads, cdr, site)
    if choice.tariff is None:
        return _no_price(row.id, choice.problem or "no tariff", tolerance, choice, time_zone)
    try:
        tariff = choice.tariff
        if not isinstance(tariff, cdr_pricing.CompiledTariff):
            tariff = cdr_pricing.compile_tariff(cdr_pricing.tariff_from_ocpi(tariff))
        time_zone = zone_for(tariff.tariff, time_zone)
        if time_zone is None:
            reason = f"time zone of location {cdr.cdr_location.id} unknown (location not stored)"
            return _no_price(row.id, reason, tolerance, choice, None)
        priced = cdr_pricing.price_cdr(pricing_input(cdr), tariff, time_zone)
    except PricingError as exc:
        return _no_price(row.id, str(exc), tolerance, choice, time_zone)
    lines = compare(cdr, _calculated(priced), tolerance)
    return Verification(_verdict(row.id, lines, tolerance, choice, time_zone), lines, priced)


VERIFICATIONS = CdrVerification.__table__  # type: ignore[attr-defined]
LINES = CdrVerificationLine.__table__  # type: ignore[attr-defined]
_DELETE = delete(VERIFICATIONS).where(VERIFICATIONS.c.cpo_cdr_id == bindparam("cdr_id"))
_INSERT = insert(VERIFICATIONS).returning(VERIFICATIONS.c.id)
_INSERT_LINES = insert(LINES)


async def save_verification(session: AsyncSession, verification: Verification, *, first: bool = False) -> int:
    """Replace the CDR's verification with this one (`first`: there is none yet); its id."""
    row = verification.row
    if not first:
        await session.exec(_DELETE, params={"cdr_id": row["cpo_cdr_id"]})  # type: ignore[call-overload]
    verification_id = (await session.exec(_INSERT, params=row)).scalar_one()  # type: ignore[call-overload]
    if verification.lines:
        lines = [dict(line, verification_id=verification_id) for line in verification.lines]
        await session.exec(_INSERT_LINES, params=lines)  # type: ignore[call-overload]
    return int(verification_id)
