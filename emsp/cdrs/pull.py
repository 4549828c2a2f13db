"""The CDR pull: a CPO's CDRs SENDER (mod_cdrs 10.2.1, `GET` list, paginated) through the ingest pull sync
(`emsp.ingest.sync`, over `partners.pull.crawl`), module `cdrs` in `emsp.ingest.pull_specs.SPECS`.

- Each item is validated alone as a `Cdr`; its JSON object as the partner sent it (re-serialised from the
  page, key order kept) is what we store as received.
- A page is stored in one transaction by the same idempotency rule as the receiver (`emsp.cdrs.store`): a CDR
  we have (pushed earlier, or pulled before) is skipped; one with other content under a known id is set
  aside in the pull quarantine with the reason, never stored over the first.
- CDRs are never swept (a CDR is final; the CPO may list only recent ones).
- Pulled CDRs are verified and priced after the page is stored, by `price_unpriced` (the CDR pricing job
  runs it every minute; `emsp cdrs pull` runs it right after the pull), with the node's pricing settings.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import PrivateAttr, model_validator
from sqlalchemy import exists, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.tables import MspCdr
from emsp.cdrs.pipeline import PricingPolicy, price_cdr
from emsp.cdrs.store import CdrConflict, StoredCdr, store_cdr
from emsp.cdrs.tables import CdrSource, CpoCdr
from emsp.ingest.quarantine import record_rejected
from ocpi.models.cdrs import Cdr
from partners.pull import reject

MODULE = "cdrs"


class PulledCdr(Cdr):
    """A `Cdr` that remembers the JSON object it was read from (`raw_json`)."""

    _raw_json: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: Any) -> Any:
        cdr = handler(data)
        if isinstance(data, dict):
            cdr._raw_json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return cdr

    @property
    def raw_json(self) -> str:
        return self._raw_json or json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))


async def store_pulled_cdrs(session: AsyncSession, items: list[Any], partner_id: int, pull_id: str) -> None:
    """A pulled page (see the module docstring); the pull's `store` of module `cdrs`."""
    refused = []
    for item in items:
        raw = item.raw_json if isinstance(item, PulledCdr) else json.dumps(item.to_json())
        try:
            await store_cdr(session, item, raw, partner_id=partner_id, source=CdrSource.PULL)
        except CdrConflict as exc:
            refused.append(reject(json.loads(raw), str(exc)))
    await record_rejected(session, partner_id, MODULE, refused)


def _unpriced() -> Any:
    return (
        select(CpoCdr.id)  # type: ignore[call-overload]
        .where(~exists().where(col(MspCdr.cpo_cdr_id) == col(CpoCdr.id)))
        .order_by(col(CpoCdr.id))
    )


async def price_unpriced(session: AsyncSession, policy: PricingPolicy, *, limit: int = 500) -> int:
    """Verify and price stored CDRs that have no MSP CDR yet (pulled ones); returns how many."""
    ids = list((await session.exec(_unpriced().limit(limit))).scalars())
    for cdr_id in ids:
        row = await session.get(CpoCdr, cdr_id)
        assert row is not None
        await price_cdr(session, StoredCdr.of(row), Cdr.model_validate_json(row.raw_json), policy, first=True)
    return len(ids)
