"""A Tariff prepared for pricing many CDRs: per dimension, the elements that can price it, in order.

"When the list of Tariff Elements contains more than one Element with the same Tariff Dimension, the first
Tariff Element with that Dimension in the list with matching Tariff Restrictions will be used" (mod_tariffs
11.3.1). Compiling once per Tariff keeps that search, the parsing of restrictions and the choice of cost
line out of the per-CDR path. `compile_tariff` memoises by identity, so pricing many CDRs with one Tariff
value compiles it once.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from threading import Lock

from cdr_pricing.errors import InvalidTariff
from cdr_pricing.money import EXACT, minor_unit
from cdr_pricing.restrictions import CompiledRestrictions, Residual
from cdr_pricing.result import ComponentFacts, CostComponent
from cdr_pricing.values import (
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
)
from cdr_pricing.week_table import WeekTable

__all__ = [
    "WEEK_ENERGY",
    "WEEK_EXPIRED_FLAT",
    "WEEK_EXPIRED_TIME",
    "WEEK_FLAT",
    "WEEK_PARKING",
    "WEEK_RESERVATION_FLAT",
    "WEEK_RESERVATION_TIME",
    "WEEK_TIME",
    "Candidate",
    "CompiledTariff",
    "LineKey",
    "compile_tariff",
]

# Positions of the candidate lists in `CompiledTariff.week`.
WEEK_ENERGY, WEEK_TIME, WEEK_PARKING, WEEK_FLAT = 0, 1, 2, 3
WEEK_RESERVATION_TIME, WEEK_RESERVATION_FLAT, WEEK_EXPIRED_TIME, WEEK_EXPIRED_FLAT = 4, 5, 6, 7

LineKey = tuple[CostComponent, Decimal | None]
"""A cost line: a cost component at one VAT rate (see `lines`)."""

_CACHE_SIZE = 512
_cache: OrderedDict[int, tuple[Tariff, CompiledTariff]] = OrderedDict()
_cache_lock = Lock()
_UNRESTRICTED = TariffRestrictions()
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_KWH_PER_WH = Decimal("0.001")
_COST_COMPONENT = {
    TariffDimension.FLAT: CostComponent.FIXED,
    TariffDimension.ENERGY: CostComponent.ENERGY,
    TariffDimension.TIME: CostComponent.TIME,
    TariffDimension.PARKING_TIME: CostComponent.PARKING_TIME,
}
_PER_HOUR = (TariffDimension.TIME, TariffDimension.PARKING_TIME)
_DIMENSIONS = tuple(TariffDimension)


class Candidate:
    """An element that may price a dimension, with what the engine needs at hand.

    `static` is the first fields of the `AppliedComponent` it makes: (cost component, dimension, element
    index, price, vat, step_size). `slot` is where its cost is summed: 2 x its line's index (`line`), + 1
    when the price is per hour of a volume counted in seconds (TIME, PARKING_TIME). `residual` is what
    remains to check per period once the week table has let it through (None: nothing). A plain slotted
    class: the engine reads these attributes several times per period, and slot access is the fastest
    there is.
    """

    __slots__ = (
        "component",
        "element_index",
        "line",
        "price",
        "residual",
        "restrictions",
        "slot",
        "static",
        "step",
    )

    def __init__(
        self,
        element_index: int,
        component: PriceComponent,
        restrictions: CompiledRestrictions | None,
        static: ComponentFacts,
        slot: int,
    ) -> None:
        self.element_index = element_index
        self.component = component
        self.restrictions = restrictions
        self.static = static
        self.slot = slot
        self.line = slot >> 1
        self.price = component.price
        self.residual: Residual | None = None if restrictions is None else restrictions.residual
        #: step_size as a volume (kWh for ENERGY, seconds otherwise), or None when there is no rounding.
        unit = _KWH_PER_WH if static[1] is TariffDimension.ENERGY else _ONE
        self.step: Decimal | None = (
            None if component.step_size <= 0 else EXACT.multiply(unit, component.step_size)
        )


def _cost_component(element: TariffElement, dimension: TariffDimension) -> CostComponent:
    if element.restrictions is not None and element.restrictions.reservation is not None:
        return CostComponent.RESERVATION
    return _COST_COMPONENT[dimension]


def _line_keys(elements: tuple[TariffElement, ...]) -> list[LineKey]:
    """Every cost line the tariff can produce, in CostComponent order, then no VAT, then by VAT rate."""
    keys = {(_cost_component(e, c.type), c.vat) for e in elements for c in e.price_components}
    order = list(CostComponent)
    return sorted(keys, key=lambda key: (order.index(key[0]), key[1] is not None, key[1] or Decimal(0)))


def _validate(tariff: Tariff) -> None:
    if not tariff.currency:
        raise InvalidTariff("Tariff.currency is required")
    if not tariff.elements:
        raise InvalidTariff("Tariff.elements must hold at least one TariffElement")
    for index, element in enumerate(tariff.elements):
        if not element.price_components:
            raise InvalidTariff(f"elements[{index}].price_components must not be empty")
        for component in element.price_components:
            if component.step_size < 0:
                raise InvalidTariff(f"elements[{index}]: step_size must be >= 0, got {component.step_size}")


_Prepared = tuple[
    int,
    TariffElement,
    ReservationRestriction | None,
    CompiledRestrictions | None,
    dict[TariffDimension, PriceComponent | None],
]


def _restricts_more_than_reservation(r: TariffRestrictions) -> bool:
    """`replace(r, reservation=None) != TariffRestrictions()`, without building the copy."""
    return not (
        r.start_time is None
        and r.end_time is None
        and r.start_date is None
        and r.end_date is None
        and r.min_kwh is None
        and r.max_kwh is None
        and r.min_current is None
        and r.max_current is None
        and r.min_power is None
        and r.max_power is None
        and r.min_duration is None
        and r.max_duration is None
        and r.day_of_week == _UNRESTRICTED.day_of_week
    )


def _prepare(elements: tuple[TariffElement, ...]) -> list[_Prepared]:
    """Per element, once: its index, its reservation kind, its compiled restrictions (None when it has none
    but the reservation kind, shared by the candidates it makes), its first price component per dimension."""
    prepared: list[_Prepared] = []
    for index, element in enumerate(elements):
        restrictions = element.restrictions
        kind = restrictions.reservation if restrictions else None
        compiled = None
        if restrictions is not None and _restricts_more_than_reservation(restrictions):
            compiled = CompiledRestrictions(restrictions)
        components = {
            dimension: next((c for c in element.price_components if c.type is dimension), None)
            for dimension in _DIMENSIONS
        }
        prepared.append((index, element, kind, compiled, components))
    return prepared


class CompiledTariff:
    """Candidates per dimension for regular, reserved and expired-reservation periods, and the lines.

    `week` holds the same eight candidate lists (energy, time, parking, flat, reservation time and flat,
    expired-reservation time and flat: the `WEEK_*` positions) filtered by time window and weekday for each
    stretch of the week (`week_table`); the engine prices from it.
    """

    __slots__ = (
        "energy",
        "expired_flat",
        "expired_time",
        "flat",
        "line_component",
        "line_keys",
        "line_table",
        "needs_dates",
        "needs_duration",
        "needs_electric",
        "needs_energy",
        "parking",
        "quantum",
        "reservation_flat",
        "reservation_time",
        "tariff",
        "time",
        "vat_factors",
        "week",
        "zero",
    )

    def __init__(self, tariff: Tariff) -> None:
        _validate(tariff)
        self.tariff = tariff
        self.line_keys: list[LineKey] = _line_keys(tariff.elements)
        regular = (None,)
        reserved = (ReservationRestriction.RESERVATION,)
        # An expired reservation prefers RESERVATION_EXPIRES elements, then falls back to RESERVATION ones
        # (mod_tariffs 11.4.3 note).
        expired = (ReservationRestriction.RESERVATION_EXPIRES, ReservationRestriction.RESERVATION)
        prepared = _prepare(tariff.elements)
        self.energy = self._candidates(prepared, TariffDimension.ENERGY, regular)
        self.time = self._candidates(prepared, TariffDimension.TIME, regular)
        self.parking = self._candidates(prepared, TariffDimension.PARKING_TIME, regular)
        self.flat = self._candidates(prepared, TariffDimension.FLAT, regular)
        self.reservation_time = self._candidates(prepared, TariffDimension.TIME, reserved)
        self.reservation_flat = self._candidates(prepared, TariffDimension.FLAT, reserved)
        self.expired_time = self._candidates(prepared, TariffDimension.TIME, expired)
        self.expired_flat = self._candidates(prepared, TariffDimension.FLAT, expired)
        # What the restrictions look at (the engine skips computing the rest).
        groups = (self.energy, self.time, self.parking, self.flat, self.expired_time, self.expired_flat)
        used = [c.restrictions for group in groups for c in group if c.restrictions is not None]
        self.needs_electric = any(r.uses_electric for r in used)
        self.needs_duration = any(r.uses_duration for r in used)
        self.needs_energy = any(r.uses_energy for r in used)
        self.needs_dates = any(r.uses_dates for r in used)
        self.week: WeekTable[Candidate] = WeekTable(
            (
                self.energy,
                self.time,
                self.parking,
                self.flat,
                self.reservation_time,
                self.reservation_flat,
                self.expired_time,
                self.expired_flat,
            )
        )
        #: per line, the position of its cost component in CostComponent order.
        order = list(CostComponent)
        self.line_component = tuple(order.index(kind) for kind, _ in self.line_keys)
        #: 1 + VAT/100 per line (None: no VAT), exact.
        self.vat_factors = tuple(
            None if vat is None else EXACT.divide(EXACT.add(_HUNDRED, vat), _HUNDRED)
            for _, vat in self.line_keys
        )
        #: the currency's minor unit, and 0 written to it (see `money`).
        self.quantum = minor_unit(tariff.currency)
        self.zero = EXACT.quantize(Decimal(0), self.quantum)
        #: per line, for `lines`: (index, its two sums' slots (per unit, per hour), cost component, vat,
        #: VAT factor, CostComponent position).
        self.line_table = tuple(
            (index, 2 * index, 2 * index + 1, kind, vat, self.vat_factors[index], self.line_component[index])
            for index, (kind, vat) in enumerate(self.line_keys)
        )

    def _candidates(
        self,
        prepared: list[_Prepared],
        dimension: TariffDimension,
        reservations: tuple[ReservationRestriction | None, ...],
    ) -> tuple[Candidate, ...]:
        found: list[Candidate] = []
        for wanted in reservations:
            for index, element, kind, compiled, components in prepared:
                component = components[dimension]
                if kind is not wanted or component is None:
                    continue
                cost = _cost_component(element, dimension)
                static = (cost, dimension, index, component.price, component.vat, component.step_size)
                slot = 2 * self.line_keys.index((cost, component.vat)) + (1 if dimension in _PER_HOUR else 0)
                found.append(Candidate(index, component, compiled, static, slot))
        return tuple(found)


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Prepare `tariff` for pricing (validates it: raises `InvalidTariff`). Memoised by identity."""
    key = id(tariff)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is tariff:
            return hit[1]
    compiled = CompiledTariff(tariff)
    with _cache_lock:
        _cache[key] = (tariff, compiled)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
