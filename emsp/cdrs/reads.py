"""What verification and repricing read from the database, behind one small interface, so that the same
pricing logic runs on a request session (`SessionReads`: one prebuilt statement per read) or on values read
beforehand in a single statement (`emsp.cdrs.fastpath.PrefetchedReads`, the CDR receiver's fast path on
PostgreSQL). Each read returns raw stored values; the rules applied to them (which tariff version counts,
which plan wins, inverting an exchange rate) stay in `emsp.cdrs.lookup`, `emsp.billing.plans` and
`emsp.billing.rates`, written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.plans import CANDIDATES, SiteKey, candidate_params
from emsp.billing.rates import FX_AT, VAT_AT, VatUsed
from emsp.billing.reprice import current_msp_cdr
from emsp.billing.tables import MspCdr
from emsp.cdrs.lookup import VERSION_AT, version_params


class PricingReads(Protocol):
    async def tariff_version(
        self, country_code: str, party_id: str, tariff_id: str, at: datetime
    ) -> tuple[int, dict[str, Any]] | None:
        """(version, OCPI Tariff JSON) of the latest version of the tariff with `valid_from <= at`."""

    async def plan_rows(self, site: SiteKey) -> Sequence[Sequence[Any]]:
        """The rows of `emsp.billing.plans.CANDIDATES` for `site`."""

    async def vat(self, country: str, at: datetime) -> VatUsed | None:
        """The VAT row of `country` in force at `at`."""

    async def fx_latest(self, base: str, quote: str, at: datetime) -> tuple[int, Decimal] | None:
        """(row id, rate) of the latest stored `base -> quote` rate with `valid_from <= at`."""

    async def current_msp_cdr(self, cpo_cdr_id: int) -> MspCdr | None:
        """The current MSP CDR revision of a CPO CDR (a Credit CDR negates its original's)."""


class SessionReads:
    """`PricingReads` on an `AsyncSession`: each read is one prebuilt statement."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _first(self, statement: Any, params: dict[str, Any]) -> Any:
        return (await self.session.exec(statement, params=params)).first()

    async def tariff_version(
        self, country_code: str, party_id: str, tariff_id: str, at: datetime
    ) -> tuple[int, dict[str, Any]] | None:
        found = await self._first(VERSION_AT, version_params(country_code, party_id, tariff_id, at))
        return None if found is None else (int(found[0]), found[1])

    async def plan_rows(self, site: SiteKey) -> Sequence[Sequence[Any]]:
        return (await self.session.exec(CANDIDATES, params=candidate_params(site))).all()  # type: ignore[call-overload,no-any-return]

    async def vat(self, country: str, at: datetime) -> VatUsed | None:
        found = await self._first(VAT_AT, {"country": country, "at": at})
        return None if found is None else VatUsed(found[0], found[1])

    async def fx_latest(self, base: str, quote: str, at: datetime) -> tuple[int, Decimal] | None:
        found = await self._first(FX_AT, {"base": base, "quote": quote, "at": at})
        return None if found is None else (found[0], found[1])

    async def current_msp_cdr(self, cpo_cdr_id: int) -> MspCdr | None:
        return await current_msp_cdr(self.session, cpo_cdr_id)
