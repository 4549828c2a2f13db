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
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from cdr_pricing.values import TariffRestrictions

__all__ = ["CompiledRestrictions", "PeriodContext"]

_DAY = 86_400
_MICRO = 1_000_000


def _second_of_day(value: time | None, default: int) -> int:
    if value is None:
        return default
    return value.hour * 3600 + value.minute * 60 + value.second


class PeriodContext:
    """What restrictions look at, computed once per charging period."""

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
        "second_of_day",
        "weekday",
    )

    def __init__(
        self,
        second_of_day: int,
        weekday: int,
        local_ordinal: int,
        elapsed_us: int,
        energy_before: Decimal,
        min_current: Decimal | None,
        max_current: Decimal | None,
        current: Decimal | None,
        min_power: Decimal | None,
        max_power: Decimal | None,
        power: Decimal | None,
    ) -> None:
        self.second_of_day = second_of_day
        self.weekday = weekday
        self.local_ordinal = local_ordinal
        self.elapsed_us = elapsed_us
        self.energy_before = energy_before
        self.min_current = min_current
        self.max_current = max_current
        self.current = current
        self.min_power = min_power
        self.max_power = max_power
        self.power = power


def _first(*values: Decimal | None) -> Decimal | None:
    for value in values:
        if value is not None:
            return value
    return None


class CompiledRestrictions:
    """One element's restrictions, precomputed into plain numbers for a fast `holds`.

    Absent bounds become sentinels (day 0 / day 10**9, -1 / 2**62 microseconds), so a group of checks is
    one chained comparison; groups that the element does not use are skipped by a flag.
    """

    __slots__ = (
        "_days",
        "_end_ordinal",
        "_end_s",
        "_has_calendar",
        "_has_electric",
        "_has_energy",
        "_has_window",
        "_max_current",
        "_max_duration_us",
        "_max_kwh",
        "_max_power",
        "_min_current",
        "_min_duration_us",
        "_min_kwh",
        "_min_power",
        "_start_ordinal",
        "_start_s",
        "_wraps",
        "source",
    )

    def __init__(self, source: TariffRestrictions) -> None:
        self.source = source
        start = _second_of_day(source.start_time, 0)
        end = _second_of_day(source.end_time, _DAY) or _DAY  # 00:00 as an end is the end of the day
        self._has_window = not (start == end or (start == 0 and end == _DAY))
        self._start_s = start
        self._end_s = end
        self._wraps = end < start
        self._days = source.day_of_week
        self._start_ordinal = source.start_date.toordinal() if source.start_date else 0
        self._end_ordinal = source.end_date.toordinal() if source.end_date else 10**9
        self._has_calendar = bool(self._has_window or self._days or source.start_date or source.end_date)
        self._min_kwh = source.min_kwh
        self._max_kwh = source.max_kwh
        self._has_energy = source.min_kwh is not None or source.max_kwh is not None
        self._min_duration_us = -1 if source.min_duration is None else source.min_duration * _MICRO
        self._max_duration_us = 2**62 if source.max_duration is None else source.max_duration * _MICRO
        self._min_current = source.min_current
        self._max_current = source.max_current
        self._min_power = source.min_power
        self._max_power = source.max_power
        self._has_electric = any(
            v is not None
            for v in (source.min_current, source.max_current, source.min_power, source.max_power)
        )

    def holds(self, ctx: PeriodContext) -> bool:
        """True when every restriction (except `reservation`) holds at the start of the period."""
        if self._has_calendar:
            day = ctx.weekday
            if self._has_window:
                second = ctx.second_of_day
                if not self._wraps:
                    if not self._start_s <= second < self._end_s:
                        return False
                elif second < self._end_s:
                    day = (day - 1) % 7  # the part after midnight of a window that began yesterday
                elif second < self._start_s:
                    return False
            if self._days and day not in self._days:
                return False
            if not self._start_ordinal <= ctx.local_ordinal < self._end_ordinal:
                return False
        if not self._min_duration_us <= ctx.elapsed_us < self._max_duration_us:
            return False
        if self._has_energy:
            energy = ctx.energy_before
            if (self._min_kwh is not None and energy < self._min_kwh) or (
                self._max_kwh is not None and energy >= self._max_kwh
            ):
                return False
        return not self._has_electric or self._holds_electric(ctx)

    @property
    def uses_electric(self) -> bool:
        """Whether a current or power restriction is set."""
        return self._has_electric

    @property
    def uses_duration(self) -> bool:
        """Whether min_duration or max_duration is set."""
        return self.source.min_duration is not None or self.source.max_duration is not None

    @property
    def uses_energy(self) -> bool:
        """Whether min_kwh or max_kwh is set."""
        return self._has_energy

    def _holds_electric(self, ctx: PeriodContext) -> bool:
        if self._min_current is not None:
            value = _first(ctx.min_current, ctx.current)
            if value is None or value < self._min_current:
                return False
        if self._max_current is not None:
            value = _first(ctx.max_current, ctx.current)
            if value is None or value >= self._max_current:
                return False
        if self._min_power is not None:
            value = _first(ctx.min_power, ctx.power)
            if value is None or value < self._min_power:
                return False
        if self._max_power is not None:
            value = _first(ctx.max_power, ctx.power)
            if value is None or value >= self._max_power:
                return False
        return True
