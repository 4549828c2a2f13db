"""The per-period pass of `price_cdr`: which element prices what, in order, in one loop.

This is the hot path (bench/bench_pricing.py), written for CPython: local time by integer arithmetic when
the UTC offset cannot change during the session; time windows and weekdays not checked per period but
looked up (one `bisect` in the compiled tariff's `week_table`), so only the residual restrictions (dates,
kWh, duration, current, power) of the candidates left are called, with a context object that is filled
only with what they read; local variables instead of helper calls and of per-dimension state objects;
rows as plain tuples; cost sums in a flat list indexed by the compiled tariff's line slots. It runs inside
the exact Decimal context set by `price_cdr`, so plain Decimal operators are exact.

A step group is a list `[total volume, index of its last row, period of that row, that row's candidate]`;
`engine` applies step_size to the groups afterwards.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cdr_pricing.compiled import (
    WEEK_ENERGY,
    WEEK_EXPIRED_FLAT,
    WEEK_EXPIRED_TIME,
    WEEK_FLAT,
    WEEK_PARKING,
    WEEK_RESERVATION_FLAT,
    WEEK_RESERVATION_TIME,
    WEEK_TIME,
    Candidate,
    CompiledTariff,
)
from cdr_pricing.errors import InvalidCdr
from cdr_pricing.restrictions import DAY, WEEK, PeriodContext
from cdr_pricing.result import AppliedRow
from cdr_pricing.values import Cdr, ChargingPeriod

__all__ = ["Walk", "walk_periods"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HOUR = Decimal(3600)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_MONDAY_SHIFT = 3 * DAY  # 1970-01-01 was a Thursday: local seconds + this, modulo a week, count from Monday
_SAME_OFFSET_SPAN = timedelta(days=7)  # no zone changes its UTC offset twice within a week
_SLOT = 86_400  # seconds: UTC offsets are memoised per UTC day
_OFFSETS_MAX = 100_000  # UTC days memoised per zone
_offsets: dict[str, dict[int, int]] = {}  # zone key -> UTC day -> offset in seconds
_bare = object.__new__

StepGroup = list[Any]  # [total: Decimal, last row: int, last period: int, candidate: Candidate | None]


class Walk:
    """What the pass produced: the rows, the cost sums per slot, the step groups."""

    __slots__ = ("energy", "expired", "parking", "reservation", "rows", "sums", "time", "used")

    def __init__(
        self,
        expired: bool,
        rows: list[AppliedRow],
        sums: list[Decimal],
        used: list[bool],
        groups: tuple[StepGroup, StepGroup, StepGroup, StepGroup],
    ) -> None:
        self.expired = expired
        self.rows = rows
        self.sums = sums
        self.used = used
        self.energy, self.time, self.parking, self.reservation = groups


def _scan(periods: tuple[ChargingPeriod, ...]) -> tuple[ChargingPeriod | None, bool]:
    """The first period of the charging session proper, and whether any period is reservation time."""
    first: ChargingPeriod | None = None
    reserved = False
    for period in periods:
        if period.reservation_time:
            reserved = True
            if first is None and (period.energy or period.time or period.parking_time):
                first = period
        elif first is None:
            first = period
    return first, reserved


def _utc_offset(zone: ZoneInfo, epoch_seconds: int) -> int:
    """The zone's UTC offset in seconds at a UTC instant, memoised per zone and UTC day.

    A day is cached only when the offset is the same at both of its ends; an instant on a day with a
    transition (DST starts or ends) is always computed exactly. No zone changes its offset twice within
    a day, so equal ends mean the offset held all day.
    """
    slot = epoch_seconds // _SLOT
    memo = _offsets.get(zone.key)
    if memo is None:
        memo = _offsets[zone.key] = {}
    offset = memo.get(slot)
    if offset is not None:
        return offset
    at = _EPOCH + timedelta(seconds=epoch_seconds)
    offset = _offset_at(zone, at)
    if (
        _offset_at(zone, _EPOCH + timedelta(seconds=slot * _SLOT))
        == offset
        == _offset_at(zone, _EPOCH + timedelta(seconds=(slot + 1) * _SLOT - 1))
    ):
        if len(memo) >= _OFFSETS_MAX:
            memo.clear()
        memo[slot] = offset
    return offset


def _offset_at(zone: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return 0 if delta is None else delta.days * 86_400 + delta.seconds


def _seconds(delta: timedelta) -> Decimal:
    return Decimal((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds).scaleb(-6)


def walk_periods(cdr: Cdr, compiled: CompiledTariff, zone: ZoneInfo) -> Walk:
    """Price every period of `cdr` (validated here as it goes: order, signs, time zones)."""
    periods = cdr.charging_periods
    start, end = cdr.start_date_time, cdr.end_date_time
    first, reserved = _scan(periods)
    expired = reserved and (cdr.reservation_expired if cdr.reservation_expired is not None else first is None)
    session_start = first.start_date_time if first is not None else start
    lines = len(compiled.line_keys)
    rows: list[AppliedRow] = []
    sums = [_ZERO] * (2 * lines)
    used = [False] * lines

    # Local time: one offset for the whole session when it cannot have changed (the usual case).
    # (The memo of `_utc_offset` is read here first: the call is only made when it misses.)
    since_epoch = start - _EPOCH
    start_seconds = since_epoch.days * 86_400 + since_epoch.seconds
    memo = _offsets.get(zone.key)
    offset = memo.get(start_seconds // _SLOT) if memo is not None else None
    if offset is None:
        offset = _utc_offset(zone, start_seconds)
    fixed = end - start <= _SAME_OFFSET_SPAN and (not periods or periods[0].start_date_time >= start)
    if fixed:
        until_epoch = end - _EPOCH
        end_seconds = until_epoch.days * 86_400 + until_epoch.seconds
        end_offset = memo.get(end_seconds // _SLOT) if memo is not None else None
        if end_offset is None:
            end_offset = _utc_offset(zone, end_seconds)
        fixed = end_offset == offset
    base_seconds = start_seconds + offset
    week_base = base_seconds + _MONDAY_SHIFT

    # Residual restrictions only see what some restriction of this tariff looks at.
    ctx = _bare(PeriodContext)  # fields set below only when a residual reads them (the needs_* flags)
    electric, kwh = compiled.needs_electric, compiled.needs_energy
    timed, dated = compiled.needs_duration, compiled.needs_dates
    from_session = session_start != start  # durations count from the session start
    week = compiled.week
    bounds, choices, unrestricted = week.bounds, week.choices, week.unrestricted
    reserved_time_list = WEEK_EXPIRED_TIME if expired else WEEK_RESERVATION_TIME
    reserved_flat_list = WEEK_EXPIRED_FLAT if expired else WEEK_RESERVATION_FLAT
    flat_done = not compiled.flat
    reserved_flat_done = not (compiled.expired_flat if expired else compiled.reservation_flat)
    energy_before = _ZERO
    # Step groups: volume total, index of the last row, and that row's candidate.
    energy_total = time_total = parking_total = reservation_total = _ZERO
    energy_row = time_row = parking_row = reservation_row = -1
    energy_found: Candidate | None = None
    time_found: Candidate | None = None
    parking_found: Candidate | None = None
    reservation_found: Candidate | None = None
    last = len(periods) - 1
    previous = periods[0].start_date_time if periods else start
    found: Candidate
    for index, period in enumerate(periods):
        moment = period.start_date_time
        try:
            since_start = moment - start
        except TypeError as exc:
            raise InvalidCdr(f"charging_periods[{index}].start_date_time must be timezone-aware") from exc
        if moment < previous:
            raise InvalidCdr(f"charging_periods[{index}] starts before the period before it")
        previous = moment
        since = since_start.days * 86_400 + since_start.seconds
        if fixed:
            position = (week_base + since) % WEEK
            if dated:
                ctx.local_ordinal = (base_seconds + since) // DAY + _EPOCH_ORDINAL
        else:
            wall = moment.astimezone(zone)
            position = wall.weekday() * DAY + wall.hour * 3600 + wall.minute * 60 + wall.second
            if dated:
                ctx.local_ordinal = wall.toordinal()
        stretch = bisect_right(bounds, position) - 1
        choice = choices[stretch]
        if choice is None:
            choice = week.choice(stretch)
        if timed:
            if from_session:
                elapsed = moment - session_start
                elapsed_us = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
            else:
                elapsed_us = since * 1_000_000 + since_start.microseconds
            ctx.elapsed_us = elapsed_us
            if elapsed_us < 0:
                # Before the session start (reservation time, or a period before the CDR start): when a
                # tariff has a duration restriction, no restricted element prices such a period, as
                # every restricted element's duration bounds (absent ones too) exclude a negative time.
                choice = unrestricted
        if kwh:
            ctx.energy_before = energy_before
        if electric:
            ctx.min_current, ctx.max_current, ctx.current = (
                period.min_current,
                period.max_current,
                period.current,
            )
            ctx.min_power, ctx.max_power, ctx.power = (period.min_power, period.max_power, period.power)

        reservation = period.reservation_time
        energy = period.energy
        charging = period.time
        parking = period.parking_time
        # For each dimension: the first candidate left by the week table whose residual holds.
        if reservation:
            if reservation < _ZERO:
                raise InvalidCdr(f"charging_periods[{index}].reservation_time is negative")
            for found in choice[reserved_time_list]:
                if found.residual is None or found.residual(ctx):
                    volume = reservation * _HOUR
                    reservation_total += volume
                    reservation_row = len(rows)
                    reservation_found = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.line] = True
                    break
            if not reserved_flat_done:
                for found in choice[reserved_flat_list]:
                    if found.residual is None or found.residual(ctx):
                        rows.append((index, found.static, _ONE, _ONE))
                        sums[found.slot] += found.price
                        used[found.line] = reserved_flat_done = True
                        break
        if energy:
            for found in choice[WEEK_ENERGY]:
                if found.residual is None or found.residual(ctx):
                    energy_total += energy
                    energy_row = len(rows)
                    energy_found = found
                    rows.append((index, found.static, energy, energy))
                    sums[found.slot] += found.price * energy
                    used[found.line] = True
                    break
            if kwh:
                energy_before += energy
        if charging is not None:
            if charging < _ZERO:
                raise InvalidCdr(f"charging_periods[{index}].time is negative")
            volume = charging * _HOUR
        elif reservation or parking is not None:
            volume = _ZERO
        else:  # neither TIME nor PARKING_TIME sent: the whole period is charging
            volume = _seconds((end if index == last else periods[index + 1].start_date_time) - moment)
        if volume:
            for found in choice[WEEK_TIME]:
                if found.residual is None or found.residual(ctx):
                    time_total += volume
                    time_row = len(rows)
                    time_found = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.line] = True
                    break
        if parking:
            if parking < _ZERO:
                raise InvalidCdr(f"charging_periods[{index}].parking_time is negative")
            for found in choice[WEEK_PARKING]:
                if found.residual is None or found.residual(ctx):
                    volume = parking * _HOUR
                    parking_total += volume
                    parking_row = len(rows)
                    parking_found = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.line] = True
                    break
        if not flat_done and (not reservation or energy or charging or parking):
            for found in choice[WEEK_FLAT]:
                if found.residual is None or found.residual(ctx):
                    rows.append((index, found.static, _ONE, _ONE))
                    sums[found.slot] += found.price
                    used[found.line] = flat_done = True
                    break
    if previous > end:
        raise InvalidCdr("the last charging period starts after the CDR end_date_time")
    groups = (
        [energy_total, energy_row, rows[energy_row][0] if energy_found else -1, energy_found],
        [time_total, time_row, rows[time_row][0] if time_found else -1, time_found],
        [parking_total, parking_row, rows[parking_row][0] if parking_found else -1, parking_found],
        [
            reservation_total,
            reservation_row,
            rows[reservation_row][0] if reservation_found else -1,
            reservation_found,
        ],
    )
    return Walk(expired, rows, sums, used, groups)
