"""VAT and exchange rates in force at a moment, and country / currency code checks.

A rate row holds from its `valid_from` until the next row of the same country (pair); the rate at `at` is
the row with the latest `valid_from <= at`. An exchange rate is looked up as stored (base → quote) or, when
only the opposite pair is stored, inverted (rounded to 6 decimals, as stored, and recorded as used).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pycountry
from sqlalchemy import bindparam, select

from cdr_pricing.money import EXACT
from emsp.billing.tables import FxRate, VatRate

if TYPE_CHECKING:
    from emsp.cdrs.reads import PricingReads

_ONE = Decimal(1)


def country_alpha2(code: str) -> str | None:
    """ISO 3166-1 alpha-2 of an alpha-2 or alpha-3 code (CdrLocation.country is alpha-3); None if unknown."""
    code = code.strip().upper()
    if len(code) == 2:
        found = pycountry.countries.get(alpha_2=code)
    elif len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
    else:
        return None
    return None if found is None else str(found.alpha_2)


def is_currency(code: str) -> bool:
    return len(code) == 3 and pycountry.currencies.get(alpha_3=code.upper()) is not None


@dataclass(frozen=True, slots=True)
class VatUsed:
    id: int
    rate_percent: Decimal


VAT, FX = VatRate.__table__, FxRate.__table__  # type: ignore[attr-defined]
VAT_AT = (
    select(VAT.c.id, VAT.c.rate_percent)
    .where(VAT.c.country_code == bindparam("country"), VAT.c.valid_from <= bindparam("at"))
    .order_by(VAT.c.valid_from.desc())
    .limit(1)
)
FX_AT = (
    select(FX.c.id, FX.c.rate)
    .where(
        FX.c.base_currency == bindparam("base"),
        FX.c.quote_currency == bindparam("quote"),
        FX.c.valid_from <= bindparam("at"),
    )
    .order_by(FX.c.valid_from.desc())
    .limit(1)
)


@dataclass(frozen=True)
class FxUsed:
    rate: Decimal  # units of the target currency per unit of the source currency
    row_id: int | None  # the fx_rates row used (None: same currency)
    inverted: bool = False


async def fx_rate_at(reads: PricingReads, source: str, target: str, at: datetime) -> FxUsed | None:
    """The rate converting `source` into `target` at `at`; None when no rate is stored."""
    source, target = source.upper(), target.upper()
    if source == target:
        return FxUsed(_ONE, None)
    direct = await reads.fx_latest(source, target, at)
    if direct is not None:
        return FxUsed(direct[1], direct[0])
    opposite = await reads.fx_latest(target, source, at)
    if opposite is not None and opposite[1] > 0:
        rate = EXACT.divide(_ONE, opposite[1]).quantize(Decimal("1E-6"), context=EXACT).normalize()
        return FxUsed(rate, opposite[0], inverted=True)
    return None
