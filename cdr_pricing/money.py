"""Money: amounts, the one rounding rule, VAT, and currency conversion.

Every rounding of money in `cdr_pricing` goes through `round_money` (ROUND_HALF_UP to the currency's
minor unit: 2 decimals unless ISO 4217 says otherwise). The pricing policy built on it is described in the
package docstring.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

__all__ = [
    "Cost",
    "apply_vat",
    "convert_currency",
    "minor_unit",
    "round_money",
]

#: Decimal context for the few divisions; wide enough that a terminating quotient is exact.
EXACT = Context(prec=50, rounding=ROUND_HALF_UP)

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)

# ISO 4217 currencies whose minor unit is not 2 decimals (the rest use 2).
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip
_QUANTA = {digits: Decimal(1).scaleb(-digits) for digits in range(5)}


def minor_unit(currency: str | None) -> Decimal:
    """The quantum amounts in `currency` are rounded to: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    digits = _MINOR_UNITS.get(currency.upper(), 2) if currency else 2
    return _QUANTA[digits]


def round_money(amount: Decimal, quantum: Decimal) -> Decimal:
    """Round to `quantum` (see `minor_unit`), half away from zero (ROUND_HALF_UP)."""
    return amount.quantize(quantum, ROUND_HALF_UP, EXACT)


def apply_vat(amount_excl: Decimal, vat_percent: Decimal | None, quantum: Decimal) -> Decimal:
    """The incl-VAT amount of an already rounded excl-VAT amount; no VAT (None) means incl = excl."""
    if vat_percent is None:
        return amount_excl
    gross = EXACT.multiply(amount_excl, EXACT.add(_HUNDRED, vat_percent))
    return round_money(EXACT.divide(gross, _HUNDRED), quantum)


class Cost(NamedTuple):
    """A rounded amount excluding and including VAT (the spec's `Price` class, types.asciidoc).

    An immutable pair; a NamedTuple rather than a frozen dataclass because pricing builds a few per CDR
    and a tuple is several times cheaper to create. `+` and `-` add and subtract both amounts (they do
    not concatenate).
    """

    excl_vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: tuple[object, ...]) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return _new_cost(Cost, (self[0] + other[0], self[1] + other[1]))

    def __sub__(self, other: Cost) -> Cost:
        return _new_cost(Cost, (self[0] - other[0], self[1] - other[1]))

    def as_json(self) -> dict[str, str]:
        """`{"excl_vat": "5.50", "incl_vat": "6.05"}`: decimal strings, never floats."""
        return {"excl_vat": format(self.excl_vat, "f"), "incl_vat": format(self.incl_vat, "f")}


_new_cost = tuple.__new__


def convert_currency(amount: Decimal, rate: Decimal, *, to_currency: str | None = None) -> Decimal:
    """`amount` × `rate`, rounded ROUND_HALF_UP to the minor unit of `to_currency` (2 decimals if None).

    `rate` is units of the target currency per unit of the source currency. Convert each amount once,
    from the exact or rounded source amount you hold; converting back does not promise the original.
    """
    if rate <= 0:
        raise ValueError(f"exchange rate must be positive, got {rate}")
    return round_money(EXACT.multiply(amount, rate), minor_unit(to_currency))
