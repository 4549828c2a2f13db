"""The money of an MSP CDR, from a priced CDR: cost lines, VAT once on the total, standard-currency copy.

Pure functions over values; the arithmetic rules are `cdr_pricing`'s (ROUND_HALF_UP to the currency's minor
unit, `cdr_pricing.money`):
- lines (`fixed`, `reservation`, `parking`, `energy`, `time`, `additional`) are excl. VAT, each rounded;
  `additional` holds the plan's fixed fee and any min/max-price adjustment (or, for a markup on the CPO's
  cost, the part of the CPO total not broken down into components);
- `total_excl_vat` is the sum of the lines; VAT = round(total_excl × VAT% / 100), applied once;
- standard currency: each line × the exchange rate, rounded to the standard currency's minor unit, and the
  totals summed and taxed the same way (so lines always add up to totals, in both currencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cdr_pricing import Cost, PricedCdr, convert_currency, minor_unit, round_money
from cdr_pricing.money import EXACT
from ocpi.models.cdrs import Cdr
from ocpi.models.common import Price

LINE_NAMES = ("fixed", "reservation", "parking", "energy", "time", "additional")
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)

Lines = dict[str, Decimal | None]


@dataclass(frozen=True)
class MspCosts:
    currency: str
    lines: Lines
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    std_currency: str
    fx_rate: Decimal
    std_lines: Lines
    std_total_excl_vat: Decimal
    std_total_vat: Decimal
    std_total_incl_vat: Decimal


def _excl(price: Price | None) -> Decimal | None:
    return None if price is None else price.excl_vat


def received_lines(cdr: Cdr) -> Lines:
    """The CPO's billed cost (the CDR's `total_*_cost`, excl. VAT) as lines; the part of `total_cost` not
    broken down into components (e.g. a min/max price adjustment) is `additional`."""
    lines: Lines = {
        "fixed": _excl(cdr.total_fixed_cost),
        "reservation": _excl(cdr.total_reservation_cost),
        "parking": _excl(cdr.total_parking_cost),
        "energy": _excl(cdr.total_energy_cost),
        "time": _excl(cdr.total_time_cost),
    }
    rest = cdr.total_cost.excl_vat - sum((v for v in lines.values() if v is not None), _ZERO)
    lines["additional"] = rest if rest else None
    return lines


def lines_of(priced: PricedCdr, extra: Decimal = _ZERO) -> Lines:
    """The excl-VAT lines of a priced CDR; `extra` (already rounded) is added to `additional`."""
    adjustment = None if priced.price_limit_adjustment is None else priced.price_limit_adjustment.excl_vat
    if extra:
        adjustment = (adjustment or _ZERO) + extra
    return {
        "fixed": _cost_excl(priced.total_fixed_cost),
        "reservation": _cost_excl(priced.total_reservation_cost),
        "parking": _cost_excl(priced.total_parking_cost),
        "energy": _cost_excl(priced.total_energy_cost),
        "time": _cost_excl(priced.total_time_cost),
        "additional": adjustment,
    }


def _cost_excl(cost: Cost | None) -> Decimal | None:
    return None if cost is None else cost.excl_vat


def markup_lines(base: Lines, currency: str, percent: Decimal, fixed_fee: Decimal) -> Lines:
    """Each line of `base` × (1 + percent/100), rounded once; `fixed_fee` (in `currency`, rounded) is added
    to `additional`. The same rule as `cdr_pricing.reprice_with_markup`, on the CPO's billed lines."""
    quantum = minor_unit(currency)
    factor = EXACT.divide(EXACT.add(_HUNDRED, percent), _HUNDRED)
    lines: Lines = {
        name: None if amount is None else round_money(EXACT.multiply(amount, factor), quantum)
        for name, amount in base.items()
    }
    fee = round_money(fixed_fee, quantum)
    if fee:
        lines["additional"] = (lines["additional"] or _ZERO) + fee
    return lines


def _vat(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    return round_money(EXACT.divide(EXACT.multiply(amount, percent), _HUNDRED), minor_unit(currency))


def finish(
    currency: str, lines: Lines, vat_percent: Decimal, std_currency: str, fx_rate: Decimal
) -> MspCosts:
    """Totals, VAT, and the standard-currency copy of `lines`."""
    total = sum((v for v in lines.values() if v is not None), _ZERO)
    if currency == std_currency:
        std_lines = dict(lines)
    else:
        std_lines = {
            name: None if v is None else convert_currency(v, fx_rate, to_currency=std_currency)
            for name, v in lines.items()
        }
    std_total = sum((v for v in std_lines.values() if v is not None), _ZERO)
    vat = _vat(total, vat_percent, currency)
    std_vat = _vat(std_total, vat_percent, std_currency)
    return MspCosts(
        currency=currency,
        lines=lines,
        total_excl_vat=total,
        total_vat=vat,
        total_incl_vat=total + vat,
        std_currency=std_currency,
        fx_rate=fx_rate,
        std_lines=std_lines,
        std_total_excl_vat=std_total,
        std_total_vat=std_vat,
        std_total_incl_vat=std_total + std_vat,
    )
