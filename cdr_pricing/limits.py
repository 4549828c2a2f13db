"""Tariff.min_price / max_price (mod_tariffs 11.3.1 and its notes).

"The total cost of a Charging Session excluding VAT can never be lower than the min_price excluding VAT",
and likewise including VAT, and likewise for max_price: the excl-VAT total is clamped by the bounds'
excl-VAT amounts and the incl-VAT total by their incl-VAT amounts, independently. A bound without
`incl_vat` (optional in 2.2.1) gets one derived from the session's own VAT ratio (incl / excl before
clamping, or none when the session cost nothing). A clamped total is written to the minor unit
(10 becomes 10.00).
"""

from __future__ import annotations

from decimal import Decimal

from cdr_pricing.money import EXACT, Cost, round_money
from cdr_pricing.values import BoundPrice

__all__ = ["apply_price_limits"]


def _incl_bound(bound: BoundPrice, total: Cost, quantum: Decimal) -> Decimal:
    if bound.incl_vat is not None:
        return bound.incl_vat
    if not total.excl_vat:
        return bound.excl_vat
    ratio = EXACT.divide(total.incl_vat, total.excl_vat)
    return round_money(EXACT.multiply(bound.excl_vat, ratio), quantum)


def apply_price_limits(
    total: Cost, min_price: BoundPrice | None, max_price: BoundPrice | None, quantum: Decimal
) -> Cost:
    """`total` raised to `min_price` and lowered to `max_price` (min first, then max)."""
    excl, incl = total.excl_vat, total.incl_vat
    if min_price is not None:
        excl = max(excl, min_price.excl_vat)
        incl = max(incl, _incl_bound(min_price, total, quantum))
    if max_price is not None:
        excl = min(excl, max_price.excl_vat)
        incl = min(incl, _incl_bound(max_price, total, quantum))
    if excl == total.excl_vat and incl == total.incl_vat:
        return total
    return Cost(round_money(excl, quantum), round_money(incl, quantum))
