"""TariffRestrictions evaluated for one ChargingPeriod (mod_tariffs 11.4.6).

A restriction is checked at the START of each charging period: the CPO SHALL start a new ChargingPeriod
whenever another Tariff Element becomes active (mod_cdrs, ChargingPeriod), so a period never straddles a
restriction boundary in a well-formed CDR and periods are not split here.

Semantics chosen where the spec is loose (each is tested):
- Times and dates are the Location's local time (zoneinfo), taken from the period's UTC start, so DST is
  handled by the tz database; durations are real elapsed (UTC) time.
- `start_time` inclusive, `end_time` exclusive. `end_time` 00:00 means the end of the day. When
  `end_time` < `start_time` the window wraps past midnight; `start_time` == `end_time` is the whole day.
- With a wrapping window, `day_of_week` names the day the window STARTS: 22:00-06:00 on FRIDAY covers
  Saturday 02:00, not Friday 02:00 (tandemdrive/ocpi-tariffs#64). Without one it is the local weekday.
- `start_date` inclusive, `end_date` exclusive, on the local calendar date of the period start.
- `min_kwh` / `max_kwh` compare the energy charged BEFORE the period (min inclusive, max exclusive).
- `min_duration` / `max_duration` compare the time elapsed since the charging session started (seconds,
  min inclusive, max exclusive as the spec says).
- `min_current` / `min_power` hold when the period's MIN_CURRENT / MIN_POWER (else the average CURRENT /
  POWER) is >= the limit; `max_current` / `max_power` hold when MAX_* (else the average) is < the limit.
  "Less than 32A" and "more than 32A" of the spec's complex example then split at 32A. A period that
  carries neither value does not meet the restriction (a peak says nothing about the minimum).
- `reservation` is not checked here: the engine decides which elements may price reservation time.

HOW IT IS CHECKED. The restrictions are split in two. The weekly part (time window and weekdays) depends only
on the local position in the week, so `week_table` evaluates it once per compiled tariff, for every
stretch of the week between two restriction boundaries; `in_week` is that evaluation. The rest (dates,
kWh, duration, current, power) becomes `residual`: one small function over the `PeriodContext`, or None
when nothing is left, checked per period only for the elements the week table has let through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from decimal import Decimal

from cdr_pricing.values import TariffRestrictions

__all__ = ["DAY", "WEEK", "CompiledRestrictions", "PeriodContext", "Residual"]

DAY = 86_400
WEEK = 7 * DAY
_MICRO = 1_000_000


def _second_of_day(value: time | None, default: int) -> int:
    if value is None:
        return default
    return value.hour * 3600 + value.minute * 60 + value.second


class PeriodContext:
    """What the residual restrictions look at, set per charging period.

    The engine allocates it without `__init__` and sets only the fields that some residual of the tariff
    reads (`CompiledTariff.needs_*`); `__init__` gives every field a neutral value for other callers.
    """

    __slots__ = (
        "current",
        "elapsed_us",
        "energy_before",
        "local_ordinal",
        "max_current",
        "max_power",
        "min_current",
        "min_power",
        "power",
    )

    def __init__(self) -> None:
        self.local_ordinal = 0
        self.elapsed_us = 0
        self.energy_before = Decimal(0)
        self.min_current: Decimal | None = None
        self.max_current: Decimal | None = None
        self.current: Decimal | None = None
        self.min_power: Decimal | None = None
        self.max_power: Decimal | None = None
        self.power: Decimal | None = None


Residual = Callable[[PeriodContext], bool]
"""The restrictions of an element other than its time window and weekdays, for one period."""


def _first(first: Decimal | None, second: Decimal | None) -> Decimal | None:
    return second if first is None else first


def _dates(low: int, high: int) -> Residual:
    return lambda ctx: low <= ctx.local_ordinal < high


def _duration(low: int, high: int) -> Residual:
    return lambda ctx: low <= ctx.elapsed_us < high


def _kwh(low: Decimal | None, high: Decimal | None) -> Residual:
    def holds(ctx: PeriodContext) -> bool:
        energy = ctx.energy_before
        return not ((low is not None and energy < low) or (high is not None and energy >= high))

    return holds


def _electric(source: TariffRestrictions) -> Residual:
    min_current, max_current = source.min_current, source.max_current
    min_power, max_power = source.min_power, source.max_power

    def holds(ctx: PeriodContext) -> bool:
        if min_current is not None:
            value = _first(ctx.min_current, ctx.current)
            if value is None or value < min_current:
                return False
        if max_current is not None:
            value = _first(ctx.max_current, ctx.current)
            if value is None or value >= max_current:
                return False
        if min_power is not None:
            value = _first(ctx.min_power, ctx.power)
            if value is None or value < min_power:
                return False
        if max_power is not None:
            value = _first(ctx.max_power, ctx.power)
            if value is None or value >= max_power:
                return False
        return True

    return holds


def _all(checks: tuple[Residual, ...]) -> Residual:
    def holds(ctx: PeriodContext) -> bool:
        for check in checks:  # in order, stopping at the first that fails
            if not check(ctx):
                return False
        return True

    return holds


class CompiledRestrictions:
    """One element's restrictions: the weekly part as plain numbers, the rest as one `residual` check."""

    __slots__ = (
        "_days",
        "_end_s",
        "_has_window",
        "_start_s",
        "_wraps",
        "residual",
        "source",
        "uses_dates",
        "uses_duration",
        "uses_electric",
        "uses_energy",
    )

    def __init__(self, source: TariffRestrictions) -> None:
        self.source = source
        start = _second_of_day(source.start_time, 0)
        end = _second_of_day(source.end_time, DAY) or DAY  # 00:00 as an end is the end of the day
        self._has_window = not (start == end or (start == 0 and end == DAY))
        self._start_s = start
        self._end_s = end
        self._wraps = end < start
        self._days = source.day_of_week
        self.uses_dates = source.start_date is not None or source.end_date is not None
        self.uses_duration = source.min_duration is not None or source.max_duration is not None
        self.uses_energy = source.min_kwh is not None or source.max_kwh is not None
        self.uses_electric = any(
            v is not None
            for v in (source.min_current, source.max_current, source.min_power, source.max_power)
        )
        checks: list[Residual] = []
        if self.uses_dates:
            checks.append(
                _dates(
                    source.start_date.toordinal() if source.start_date else 0,
                    source.end_date.toordinal() if source.end_date else 10**9,
                )
            )
        if self.uses_duration:
            checks.append(
                _duration(
                    -1 if source.min_duration is None else source.min_duration * _MICRO,
                    2**62 if source.max_duration is None else source.max_duration * _MICRO,
                )
            )
        if self.uses_energy:
            checks.append(_kwh(source.min_kwh, source.max_kwh))
        if self.uses_electric:
            checks.append(_electric(source))
        self.residual: Residual | None = (
            None if not checks else checks[0] if len(checks) == 1 else _all(tuple(checks))
        )

    def in_week(self, weekday: int, second: int) -> bool:
        """Whether the time window and weekdays hold at local `second` of the day on `weekday` (Monday 0)."""
        day = weekday
        if self._has_window:
            if not self._wraps:
                if not self._start_s <= second < self._end_s:
                    return False
            elif second < self._end_s:
                day = (day - 1) % 7  # the part after midnight of a window that began yesterday
            elif second < self._start_s:
                return False
        return not self._days or day in self._days

    def week_cuts(self) -> set[int]:
        """Seconds of the week (Monday 00:00 = 0) where `in_week` may change: days, window start and end."""
        cuts = {day * DAY for day in range(7)}
        if self._has_window:
            for day in range(7):
                cuts.add(day * DAY + self._start_s)
                if self._end_s < DAY:
                    cuts.add(day * DAY + self._end_s)
        return cuts
