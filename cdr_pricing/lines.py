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


_COMPONENT_COUNT = len(CostComponent)
_new = tuple.__new__


def round_lines(
    compiled: CompiledTariff, sums: Sequence[Decimal], used: Sequence[bool]
) -> tuple[tuple[LineRow, ...], list[Cost | None], Cost]:
    """Round each used line and total the lines per component (in the exact context of pricing).

    `sums[2 i]` is line i's amount of per-unit components, `sums[2 i + 1]` its price x seconds of per-hour
    ones. Lines come out in CostComponent order, then by VAT rate (no VAT first); the totals are a list in
    CostComponent order, None where no line belongs; last comes the sum of all lines. Amounts are rounded
    to the tariff currency's minor unit (`compiled.quantum`).
    """
    quantum = compiled.quantum
    all_excl = all_incl = compiled.zero
    lines = []
    totals: list[Cost | None] = [None] * _COMPONENT_COUNT
    for index, per_unit, per_hour, kind, vat, factor, position in compiled.line_table:
        if not used[index]:
            continue
        price_seconds = sums[per_hour]
        exact = sums[per_unit] + price_seconds / _HOUR if price_seconds else sums[per_unit]
        excl = exact.quantize(quantum, ROUND_HALF_UP)
        incl = excl if factor is None else (excl * factor).quantize(quantum, ROUND_HALF_UP)
        lines.append((kind, vat, exact, excl, incl))
        previous = totals[position]
        # A component's incl total is summed from 0 (so it is never -0), its excl total from its first line.
        totals[position] = _new(
            Cost, (excl, _ZERO + incl) if previous is None else (previous[0] + excl, previous[1] + incl)
        )
        all_excl += excl
        all_incl += incl
    return tuple(lines), totals, _new(Cost, (all_excl, all_incl))


def component_totals(lines: Sequence[LineRow]) -> dict[CostComponent, Cost]:
    """The total of each cost component that has lines."""
    totals: dict[CostComponent, Cost] = {}
    for kind, _, _, excl, incl in lines:
        previous = totals.get(kind)
        totals[kind] = Cost(excl, incl) if previous is None else previous + Cost(excl, incl)
    return totals
