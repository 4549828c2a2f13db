"""A Tariff prepared for pricing many CDRs: per dimension, the elements that can price it, in order.

"When the list of Tariff Elements contains more than one Element with the same Tariff Dimension, the first
Tariff Element with that Dimension in the list with matching Tariff Restrictions will be used" (mod_tariffs
11.3.1). Compiling once per Tariff keeps that search, the parsing of restrictions and the choice of cost
line out of the per-CDR path. `compile_tariff` memoises by identity, so pricing many CDRs with one Tariff
value compiles it once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from decimal import Decimal
from threading import Lock

from cdr_pricing.errors import InvalidTariff
from cdr_pricing.money import EXACT
from cdr_pricing.restrictions import CompiledRestrictions
from cdr_pricing.result import ComponentFacts, CostComponent
from cdr_pricing.values import (
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
)

__all__ = ["Candidate", "CompiledTariff", "LineKey", "compile_tariff"]

LineKey = tuple[CostComponent, Decimal | None]
"""A cost line: a cost component at one VAT rate (see `lines`)."""

_CACHE_SIZE = 512
_cache: OrderedDict[int, tuple[Tariff, CompiledTariff]] = OrderedDict()
_cache_lock = Lock()
_UNRESTRICTED = TariffRestrictions()
_HUNDRED = Decimal(100)
_COST_COMPONENT = {
    TariffDimension.FLAT: CostComponent.FIXED,
    TariffDimension.ENERGY: CostComponent.ENERGY,
    TariffDimension.TIME: CostComponent.TIME,
    TariffDimension.PARKING_TIME: CostComponent.PARKING_TIME,
}
_PER_HOUR = (TariffDimension.TIME, TariffDimension.PARKING_TIME)


class Candidate:
    """An element that may price a dimension, with what the engine needs at hand.

    `static` is the first fields of the `AppliedComponent` it makes: (cost component, dimension, element
    index, price, vat, step_size). `slot` is where its cost is summed: 2 x its line's index, + 1 when the
    price is per hour of a volume counted in seconds (TIME, PARKING_TIME). A plain slotted class: the
    engine reads these attributes several times per period, and slot access is the fastest there is.
    """

    __slots__ = ("component", "element_index", "price", "restrictions", "slot", "static")

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
        self.price = component.price


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


class CompiledTariff:
    """Candidates per dimension for regular, reserved and expired-reservation periods, and the lines."""

    __slots__ = (
        "energy",
        "expired_flat",
        "expired_time",
        "flat",
        "line_component",
        "line_keys",
        "needs_duration",
        "needs_electric",
        "needs_energy",
        "parking",
        "reservation_flat",
        "reservation_time",
        "tariff",
        "time",
        "vat_factors",
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
        self.energy = self._candidates(TariffDimension.ENERGY, regular)
        self.time = self._candidates(TariffDimension.TIME, regular)
        self.parking = self._candidates(TariffDimension.PARKING_TIME, regular)
        self.flat = self._candidates(TariffDimension.FLAT, regular)
        self.reservation_time = self._candidates(TariffDimension.TIME, reserved)
        self.reservation_flat = self._candidates(TariffDimension.FLAT, reserved)
        self.expired_time = self._candidates(TariffDimension.TIME, expired)
        self.expired_flat = self._candidates(TariffDimension.FLAT, expired)
        # What the restrictions look at (the engine skips computing the rest).
        groups = (self.energy, self.time, self.parking, self.flat, self.expired_time, self.expired_flat)
        used = [c.restrictions for group in groups for c in group if c.restrictions is not None]
        self.needs_electric = any(r.uses_electric for r in used)
        self.needs_duration = any(r.uses_duration for r in used)
        self.needs_energy = any(r.uses_energy for r in used)
        #: per line, the position of its cost component in CostComponent order.
        order = list(CostComponent)
        self.line_component = tuple(order.index(kind) for kind, _ in self.line_keys)
        #: 1 + VAT/100 per line (None: no VAT), exact.
        self.vat_factors = tuple(
            None if vat is None else EXACT.divide(EXACT.add(_HUNDRED, vat), _HUNDRED)
            for _, vat in self.line_keys
        )

    def _line(self, key: LineKey) -> int:
        if key not in self.line_keys:
            self.line_keys.append(key)
        return self.line_keys.index(key)

    def _candidates(
        self, dimension: TariffDimension, reservations: tuple[ReservationRestriction | None, ...]
    ) -> tuple[Candidate, ...]:
        elements: tuple[TariffElement, ...] = self.tariff.elements
        found: list[Candidate] = []
        for wanted in reservations:
            for index, element in enumerate(elements):
                restrictions = element.restrictions
                kind = restrictions.reservation if restrictions else None
                component = next((c for c in element.price_components if c.type is dimension), None)
                if kind is not wanted or component is None:
                    continue
                compiled = None
                if restrictions is not None and replace(restrictions, reservation=None) != _UNRESTRICTED:
                    compiled = CompiledRestrictions(restrictions)
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
