"""Cost lines: priced volume grouped by cost component and VAT rate, each rounded exactly once.

This is where the ROUNDING and VAT POLICY of the package docstring is carried out:
1. every applied component's cost is exact (Decimal, no rounding): price x billed volume, per hour for
   time dimensions (volumes in seconds, divided by 3600 once per line);
2. the exact amounts are summed per (cost component, VAT rate): one `CostLine` each;
3. a line's excl-VAT amount is rounded to the currency's minor unit, ROUND_HALF_UP;
4. its incl-VAT amount is that rounded amount x (1 + VAT/100), rounded the same way (no VAT: the same);
5. a component total is the sum of its lines; the total is the sum of the component totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from cdr_pricing.compiled import CompiledTariff
from cdr_pricing.money import Cost
from cdr_pricing.result import CostComponent, LineRow

__all__ = ["component_totals", "round_lines"]

_ZERO = Decimal(0)
_HOUR = Decimal(3600)


_COMPONENTS = tuple(CostComponent)
_new = tuple.__new__


def round_lines(
    compiled: CompiledTariff, sums: Sequence[Decimal], used: Sequence[bool], quantum: Decimal
) -> tuple[tuple[LineRow, ...], list[Cost | None], Cost]:
    """Round each used line and total the lines per component (in the `localcontext(EXACT)` of pricing).

    `sums[2 i]` is line i's amount of per-unit components, `sums[2 i + 1]` its price x seconds of per-hour
    ones. Lines come out in CostComponent order, then by VAT rate (no VAT first); the totals are a list in
    CostComponent order, None where no line belongs; last comes the sum of all lines.
    """
    all_excl = all_incl = _ZERO.quantize(quantum)
    lines = []
    excl_totals: list[Decimal | None] = [None] * len(_COMPONENTS)
    incl_totals: list[Decimal] = [_ZERO] * len(_COMPONENTS)
    factors = compiled.vat_factors
    kinds = compiled.line_component
    for index, (kind, vat) in enumerate(compiled.line_keys):
        if not used[index]:
            continue
        price_seconds = sums[2 * index + 1]
        exact = sums[2 * index] + price_seconds / _HOUR if price_seconds else sums[2 * index]
        excl = exact.quantize(quantum, ROUND_HALF_UP)
        factor = factors[index]
        incl = excl if factor is None else (excl * factor).quantize(quantum, ROUND_HALF_UP)
        lines.append((kind, vat, exact, excl, incl))
        position = kinds[index]
        previous = excl_totals[position]
        excl_totals[position] = excl if previous is None else previous + excl
        incl_totals[position] += incl
        all_excl += excl
        all_incl += incl
    totals = [
        None if excl is None else _new(Cost, (excl, incl))
        for excl, incl in zip(excl_totals, incl_totals, strict=True)
    ]
    return tuple(lines), totals, _new(Cost, (all_excl, all_incl))


def component_totals(lines: Sequence[LineRow]) -> dict[CostComponent, Cost]:
    """The total of each cost component that has lines."""
    totals: dict[CostComponent, Cost] = {}
    for kind, _, _, excl, incl in lines:
        previous = totals.get(kind)
        totals[kind] = Cost(excl, incl) if previous is None else previous + Cost(excl, incl)
    return totals
