"""The CDR pricing job, every minute: price the CDRs stored without pricing (pulled ones,
`emsp.cdrs.pull.price_unpriced`), and every `EMSP_CDR_PRICING_RETRY_SECONDS` price again those whose pricing
failed (no plan, VAT or exchange rate yet, an unknown credited CDR ...: `retry_failed_pricing`).

Thin, as the other jobs: open a session, call the plain functions. On PostgreSQL it runs only on the node
holding the advisory lock, so two nodes never price the same CDR at once.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cdrs.pipeline import PricingPolicy, retry_failed_pricing
from emsp.cdrs.pull import price_unpriced
from emsp.db import session_scope
from emsp.node import Node

log = logging.getLogger("emsp.cdrs.jobs")

_LOCK_KEY = 0x43445250  # "CDRP"
_LAST_RUN = "cdrs.retry_pricing.last_run"


async def _locked(session: AsyncSession) -> bool:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    result = await session.exec(text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=_LOCK_KEY))
    return bool(result.scalar())


async def retry_pricing_job(node: Node) -> None:
    settings = node.settings
    now = time.monotonic()
    last = node.extras.get(_LAST_RUN)
    retry_due = last is None or now - last >= settings.cdr_pricing_retry_seconds
    policy = PricingPolicy(settings.cdr_price_tolerance, settings.standard_currency.upper())
    async with session_scope(node.sessionmaker) as session:
        if not await _locked(session):
            return
        fresh = await price_unpriced(session, policy)
        retried = await retry_failed_pricing(session, policy, limit=500) if retry_due else 0
    if retry_due:
        node.extras[_LAST_RUN] = now
    if fresh or retried:
        log.info("priced %d new CDRs; %d whose pricing had failed", fresh, retried)
