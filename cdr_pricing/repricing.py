"""MSP repricing of a priced CDR: markup and currency conversion (pure; plan selection lives in `emsp`).

Both follow the package policy line by line (a line is one cost component at one VAT rate): the new
excl-VAT amount of a line is computed from the line's rounded CPO amount and rounded once
(ROUND_HALF_UP, minor unit of the currency), its incl-VAT amount is that x (1 + VAT/100), rounded; the
component totals are re-summed from the lines. The CPO's min/max price adjustment is carried as a whole
amount: its excl and incl parts are each scaled and rounded. The per-period explanations are kept as they
are (they describe the CPO tariff).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from cdr_pricing.lines import component_totals
from cdr_pricing.money import EXACT, Cost, apply_vat, minor_unit, round_money
from cdr_pricing.result import CostComponent, LineRow, PricedCdr

__all__ = ["convert_priced_cdr", "reprice_with_markup"]

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)


def _rebuild(
    priced: PricedCdr,
    scale: Callable[[Decimal], Decimal],
    quantum: Decimal,
    *,
    currency: str,
    extra: tuple[LineRow, ...] = (),
) -> PricedCdr:
    lines: list[LineRow] = []
    for kind, vat, exact, excl, _ in priced.line_rows:
        new_excl = round_money(scale(excl), quantum)
        lines.append((kind, vat, scale(exact), new_excl, apply_vat(new_excl, vat, quantum)))
    lines.extend(extra)
    totals = component_totals(lines)
    adjustment = priced.price_limit_adjustment
    if adjustment is not None:
        adjustment = Cost(
            round_money(scale(adjustment.excl_vat), quantum), round_money(scale(adjustment.incl_vat), quantum)
        )
    zero = _ZERO.quantize(quantum)
    total = Cost(zero, zero) if adjustment is None else adjustment
    for cost in totals.values():
        total = total + cost
    return priced._replace(
        currency=currency,
        total_cost=total,
        total_fixed_cost=totals.get(CostComponent.FIXED),
        total_reservation_cost=totals.get(CostComponent.RESERVATION),
        total_energy_cost=totals.get(CostComponent.ENERGY),
        total_time_cost=totals.get(CostComponent.TIME),
        total_parking_cost=totals.get(CostComponent.PARKING_TIME),
        price_limit_adjustment=adjustment,
        line_rows=tuple(lines),
    )


def reprice_with_markup(
    priced: PricedCdr,
    markup_percent: Decimal,
    fixed_markup: Decimal = _ZERO,
    *,
    fixed_markup_vat: Decimal | None = None,
) -> PricedCdr:
    """Every line x (1 + markup_percent/100), plus `fixed_markup` (excl. VAT) as a FIXED line.

    `markup_percent` may be negative (a discount) down to -100. `fixed_markup_vat` is the VAT percent of
    the fixed markup (None: no VAT). A zero fixed markup adds no line.
    """
    if markup_percent < -_HUNDRED:
        raise ValueError(f"markup_percent must be >= -100, got {markup_percent}")
    factor = EXACT.divide(EXACT.add(_HUNDRED, markup_percent), _HUNDRED)
    quantum = minor_unit(priced.currency)
    extra: tuple[LineRow, ...] = ()
    if fixed_markup:
        excl = round_money(fixed_markup, quantum)
        extra = (
            (
                CostComponent.FIXED,
                fixed_markup_vat,
                fixed_markup,
                excl,
                apply_vat(excl, fixed_markup_vat, quantum),
            ),
        )
    return _rebuild(
        priced, lambda amount: EXACT.multiply(amount, factor), quantum, currency=priced.currency, extra=extra
    )


def convert_priced_cdr(priced: PricedCdr, rate: Decimal, to_currency: str) -> PricedCdr:
    """The priced CDR in `to_currency`: each line's rounded amount x `rate`, rounded to its minor unit.

    `rate` is units of `to_currency` per unit of `priced.currency`. Volumes and explanations are unchanged.
    """
    if rate <= 0:
        raise ValueError(f"exchange rate must be positive, got {rate}")
    return _rebuild(
        priced, lambda amount: EXACT.multiply(amount, rate), minor_unit(to_currency), currency=to_currency
    )
