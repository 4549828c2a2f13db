"""`price_cdr`: a CDR priced under one Tariff, in the Location's time zone (mod_tariffs, mod_cdrs).

Per charging period, and per dimension, the first element (in list order) whose restrictions all hold
prices it (mod_tariffs 11.3.1). FLAT is charged once per session: the FLAT of the first element that
matches, scanning the periods in order; an element's other components do not make its FLAT apply again.
Reservation time (RESERVATION_TIME) is priced only by elements restricted to RESERVATION (or, for an
expired reservation, RESERVATION_EXPIRES first), which also add their own one-off FLAT; such elements
never price the charging session itself; a CDR whose every period is reservation time is an expired
reservation (`Cdr.reservation_expired` overrides that), and min/max_duration count from the first period
that is not reservation time. step_size is applied once per session (see `step_size`), then
the money is rounded (see `money` and the package docstring), then min_price / max_price clamp the total.

Volumes come from the period's CdrDimensions. A period that carries neither TIME nor PARKING_TIME (nor
RESERVATION_TIME) is charging for its whole length (to the next period, or the CDR end): CPOs often send
only ENERGY. A period with PARKING_TIME but no TIME has no charging time. `ChargingPeriod.tariff_id`
is not consulted: the eMSP reprices the whole CDR under the tariff it was given.
"""

from __future__ import annotations

from decimal import Decimal, getcontext, setcontext
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cdr_pricing.compiled import Candidate, CompiledTariff, compile_tariff
from cdr_pricing.errors import InvalidCdr, NoValidTariff, TimeZoneMissing, UnknownTimeZone
from cdr_pricing.limits import apply_price_limits
from cdr_pricing.lines import round_lines
from cdr_pricing.money import EXACT
from cdr_pricing.result import PricedCdr
from cdr_pricing.step_size import StepSizeRule, time_groups_to_round
from cdr_pricing.values import Cdr, Tariff
from cdr_pricing.walk import Walk, walk_periods

__all__ = ["load_time_zone", "price_cdr"]

_ZERO = Decimal(0)
_new_tuple = tuple.__new__
#: The Decimal context pricing runs in: a private copy of `EXACT`, made current for the duration of one
#: `price_cdr` call and then replaced by the caller's context again (cheaper than `localcontext`, which
#: copies the context on every call). Only its traps matter; its flags are never read.
_PRICING_CONTEXT = EXACT.copy()
_ZONES_MAX = 1024
_zones: dict[str, ZoneInfo] = {}


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimeZone(f"unknown time zone {name!r}") from exc


def load_time_zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (Location.time_zone); raises TimeZoneMissing / UnknownTimeZone."""
    if not name or not name.strip():
        raise TimeZoneMissing("a time zone is required: restrictions are in the Location's local time")
    return _zone(name.strip())


def price_cdr(
    cdr: Cdr,
    tariff: Tariff | CompiledTariff,
    time_zone: str | None,
    *,
    step_size_rule: StepSizeRule = StepSizeRule.COMBINED_TIME_AND_PARKING,
) -> PricedCdr:
    """Price `cdr` under `tariff`, evaluating restrictions in `time_zone` (the Location's IANA zone).

    Raises `TimeZoneMissing`, `UnknownTimeZone`, `InvalidTariff`, `InvalidCdr`, or `NoValidTariff` when
    the session starts outside the tariff's start_date_time / end_date_time.
    """
    compiled = tariff if isinstance(tariff, CompiledTariff) else compile_tariff(tariff)
    zone = _zones.get(time_zone)  # type: ignore[arg-type]  # None is simply not found
    if zone is None:
        zone = load_time_zone(time_zone)
        if len(_zones) >= _ZONES_MAX:
            _zones.clear()
        _zones[time_zone] = zone  # type: ignore[index]  # load_time_zone raised for None
    _check_cdr(cdr, compiled.tariff)
    caller_context = getcontext()
    setcontext(_PRICING_CONTEXT)
    try:
        walk = walk_periods(cdr, compiled, zone)
        return _result(cdr, compiled, walk, step_size_rule)
    finally:
        setcontext(caller_context)


def _check_cdr(cdr: Cdr, tariff: Tariff) -> None:
    start = cdr.start_date_time
    if start.tzinfo is None or cdr.end_date_time.tzinfo is None:
        raise InvalidCdr("CDR start/end must be timezone-aware (UTC)")
    if cdr.end_date_time < start:
        raise InvalidCdr("CDR end_date_time is before start_date_time")
    if not cdr.charging_periods:
        raise InvalidCdr("a CDR needs at least one charging period")
    if cdr.currency and cdr.currency != tariff.currency and cdr.currency.upper() != tariff.currency.upper():
        raise InvalidCdr(f"CDR currency {cdr.currency} differs from the tariff currency {tariff.currency}")
    valid_from, valid_to = tariff.start_date_time, tariff.end_date_time
    if (valid_from is not None and start < valid_from) or (valid_to is not None and start >= valid_to):
        raise NoValidTariff(f"tariff {tariff.id!r} is not in force at {start.isoformat()}")


def _round_group(walk: Walk, group: list[Any]) -> Decimal:
    """Apply step_size to one group: extend its last row and that row's cost; return the volume added.

    Runs in the exact context of pricing, so the operators are exact.
    """
    candidate: Candidate | None = group[3]
    total: Decimal = group[0]
    if candidate is None or total <= _ZERO:
        return _ZERO
    step = candidate.step
    if step is None:
        return _ZERO
    # (total // step + 1) x step - total, as step - remainder: the same value and the same exponent.
    remainder = total % step
    if not remainder:
        return _ZERO
    extra: Decimal = step - remainder
    last_row: int = group[1]
    period, facts, volume, billed = walk.rows[last_row]
    walk.rows[last_row] = (period, facts, volume, billed + extra)
    walk.sums[candidate.slot] += candidate.price * extra
    return extra


def _apply_step_sizes(walk: Walk, rule: StepSizeRule) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """step_size once per session per group (see `step_size`); returns the billed volumes."""
    energy, time, parking, reservation = walk.energy, walk.time, walk.parking, walk.reservation
    round_time, round_parking = time_groups_to_round(rule, time[2], parking[2])
    return (
        energy[0] + _round_group(walk, energy) if energy[3] else energy[0],
        time[0] + _round_group(walk, time) if round_time and time[3] else time[0],
        parking[0] + _round_group(walk, parking) if round_parking and parking[3] else parking[0],
        reservation[0] + _round_group(walk, reservation) if reservation[3] else reservation[0],
    )


def _result(cdr: Cdr, compiled: CompiledTariff, walk: Walk, rule: StepSizeRule) -> PricedCdr:
    tariff = compiled.tariff
    energy, time, parking, reservation = _apply_step_sizes(walk, rule)
    quantum = compiled.quantum
    lines, totals, subtotal = round_lines(compiled, walk.sums, walk.used)
    total = subtotal
    if tariff.min_price is not None or tariff.max_price is not None:
        total = apply_price_limits(subtotal, tariff.min_price, tariff.max_price, quantum)
    # Positional, in PricedCdr's field order: tuple.__new__ skips the keyword parsing of the constructor.
    return _new_tuple(
        PricedCdr,
        (
            tariff.currency,
            total,
            *totals,  # fixed, reservation, energy, time, parking (CostComponent order)
            None if total is subtotal else total - subtotal,
            lines,
            energy,
            time,
            parking,
            reservation,
            walk.expired,
            cdr.charging_periods,
            cdr.end_date_time,
            tuple(walk.rows),
        ),
    )
