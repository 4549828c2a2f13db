"""A CDR arrives (architecture data flow 4): store it as received → verify the CPO's cost → price it for the
driver (MSP CDR). Used alike by the CDRs receiver (POST), the CDR pull and the retry job.

Storing and pricing happen in the caller's transaction. Expected problems (no plan, no rate ...) give a
FAILED MSP CDR ("pricing failed: <reason>") for the retry job (`retry_failed_pricing`); so does any other
error raised while pricing (a bug, a corrupt plan), and the CDR stays stored. Pricing reads before it writes
and writes with plain INSERTs, so it needs no savepoint; an error of the database itself (connection lost)
fails the whole request and nothing is stored: the CPO sends the CDR again.

The ingest path uses prebuilt statements and plain values (no table-model instances): it runs on every POST.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.reprice import Revision, base_fields, build_msp_cdr, save_revision, with_defaults
from emsp.billing.tables import MspCdr, MspCdrStatus
from emsp.cdrs.lookup import charging_site
from emsp.cdrs.reads import SessionReads
from emsp.cdrs.store import StoredCdr, find_cdr, store_cdr
from emsp.cdrs.tables import CdrFlag, CdrSource, CpoCdr
from emsp.cdrs.verify import save_verification, verify_cdr, verify_credit
from ocpi.models.cdrs import Cdr

log = logging.getLogger("emsp.cdrs")


@dataclass(frozen=True)
class PricingPolicy:
    """The settings pricing needs (from `Settings`: EMSP_CDR_PRICE_TOLERANCE, EMSP_STANDARD_CURRENCY)."""

    tolerance: Decimal
    std_currency: str


@dataclass(frozen=True)
class IngestResult:
    cdr: StoredCdr
    created: bool
    msp_cdr: Revision | None


async def ingest_cdr(
    session: AsyncSession,
    cdr: Cdr,
    raw_json: str,
    *,
    partner_id: int | None,
    source: CdrSource,
    policy: PricingPolicy,
) -> IngestResult:
    """Store `cdr` (idempotent; raises `CdrConflict`) and, when new, verify and price it."""
    stored = await store_cdr(session, cdr, raw_json, partner_id=partner_id, source=source)
    if not stored.created:
        return IngestResult(stored.cdr, created=False, msp_cdr=None)
    msp = await price_cdr(session, stored.cdr, cdr, policy, first=True)
    return IngestResult(stored.cdr, created=True, msp_cdr=msp)


async def price_cdr(
    session: AsyncSession, row: StoredCdr, cdr: Cdr, policy: PricingPolicy, *, first: bool = False
) -> Revision:
    """Verify and price one stored CDR; returns its current MSP CDR (new revision only if it changed)."""
    try:
        msp = await _verify_and_price(session, row, cdr, policy, first=first)
    except Exception as exc:
        log.exception("pricing CDR %s/%s/%s failed", row.country_code, row.party_id, row.cdr_id)
        msp = _failed(row, policy, f"internal error while pricing ({type(exc).__name__})")
    saved, created = await save_revision(session, msp, first=first)
    if created and not first and not row.credit:  # (a CDR priced for the first time has no credits yet)
        await _reprice_credits_of(session, row, policy)
    return saved


async def _verify_and_price(
    session: AsyncSession, row: StoredCdr, cdr: Cdr, policy: PricingPolicy, *, first: bool
) -> dict[str, Any]:
    reads = SessionReads(session)
    loc = cdr.cdr_location
    site = await charging_site(
        session, row.country_code, row.party_id, loc.id, loc.evse_uid, loc.connector_id
    )
    if row.credit:
        original = await session.get(CpoCdr, row.credited_cdr_id) if row.credited_cdr_id else None
        verification = verify_credit(row, cdr, original, policy.tolerance)
    else:
        verification = await verify_cdr(reads, row, cdr, site, policy.tolerance)
    msp = await build_msp_cdr(reads, row, cdr, site, std_currency=policy.std_currency)
    await save_verification(session, verification, first=first)
    return msp


def _failed(row: StoredCdr, policy: PricingPolicy, reason: str) -> dict[str, Any]:
    fields = base_fields(row, policy.std_currency)
    fields.update(status=MspCdrStatus.FAILED.value, failure_reason=reason)
    return with_defaults(fields)


async def reprice(session: AsyncSession, row: CpoCdr, policy: PricingPolicy) -> Revision:
    """Re-run verification and pricing of a stored CDR (after a plan, rate or tariff change, or a failure).

    A credit CDR whose original was unknown is linked first if the original has arrived since. A new
    revision of a credited CDR re-derives its credits' corrective MSP CDRs too (`price_cdr`).
    """
    if row.credit and row.credited_cdr_id is None and row.credit_reference_id:
        original = await find_cdr(session, row.country_code, row.party_id, row.credit_reference_id)
        if original is not None:
            row.credited_cdr_id, row.flag = original.id, None
            session.add(row)
            await session.flush()
    cdr = Cdr.model_validate_json(row.raw_json)
    return await price_cdr(session, StoredCdr.of(row), cdr, policy)


async def _reprice_credits_of(session: AsyncSession, original: StoredCdr, policy: PricingPolicy) -> None:
    """A Credit CDR's MSP CDR negates the current MSP CDR of the CDR it credits: when that one gets a new
    revision, so do its credits (only if their result changes), or the pair would no longer net to zero."""
    credits = select(CpoCdr).where(col(CpoCdr.credited_cdr_id) == original.id).order_by(col(CpoCdr.id))
    for credit in (await session.exec(credits)).scalars().all():
        await price_cdr(session, StoredCdr.of(credit), Cdr.model_validate_json(credit.raw_json), policy)


async def retry_failed_pricing(session: AsyncSession, policy: PricingPolicy, *, limit: int = 100) -> int:
    """Reprice CDRs whose current MSP CDR is FAILED (oldest first); returns how many are now PRICED."""
    newer = aliased(MspCdr)
    current_failed = (
        select(MspCdr.cpo_cdr_id)
        .where(
            col(MspCdr.status) == MspCdrStatus.FAILED,
            ~exists().where(newer.cpo_cdr_id == MspCdr.cpo_cdr_id, newer.revision > MspCdr.revision),
        )
        .order_by(col(MspCdr.cpo_cdr_id))
        .limit(limit)
    )
    ids = list((await session.exec(current_failed)).scalars())
    priced = 0
    for cdr_id in ids:
        row = await session.get(CpoCdr, cdr_id)
        if row is not None and (await reprice(session, row, policy)).status == MspCdrStatus.PRICED:
            priced += 1
    return priced


async def count_flagged(session: AsyncSession) -> int:
    stmt = select(func.count()).where(col(CpoCdr.flag) == CdrFlag.UNKNOWN_CREDIT_REFERENCE)
    return int((await session.exec(stmt)).scalar_one())
