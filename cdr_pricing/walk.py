"""The per-period pass of `price_cdr`: which element prices what, in order, in one loop.

This is the hot path (bench/bench_pricing.py), written for CPython: one reused context object, local time
by integer arithmetic when the UTC offset cannot change during the session, local variables instead of
helper calls, rows as plain tuples, and cost sums in a flat list indexed by the compiled tariff's line
slots. It runs inside `localcontext(EXACT)` (set by `price_cdr`), so plain Decimal operators are exact.

A step group is a list `[total volume, index of its last row, period of that row, that row's candidate]`;
`engine` applies step_size to the groups afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cdr_pricing.compiled import Candidate, CompiledTariff
from cdr_pricing.errors import InvalidCdr
from cdr_pricing.restrictions import PeriodContext
from cdr_pricing.result import AppliedRow
from cdr_pricing.values import Cdr, ChargingPeriod

__all__ = ["Walk", "walk_periods"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HOUR = Decimal(3600)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_SAME_OFFSET_SPAN = timedelta(days=7)  # no zone changes its UTC offset twice within a week
_SLOT = 86_400  # seconds: UTC offsets are memoised per UTC day
_OFFSETS_MAX = 100_000
_offsets: dict[tuple[str, int], int] = {}

StepGroup = list[Any]  # [total: Decimal, last row: int, last period: int, candidate: Candidate | None]


class Walk:
    """What the pass produced: the rows, the cost sums per slot, the step groups."""

    __slots__ = ("energy", "expired", "parking", "reservation", "rows", "sums", "time", "used")

    def __init__(self, lines: int, expired: bool) -> None:
        self.expired = expired
        self.rows: list[AppliedRow] = []
        self.sums = [_ZERO] * (2 * lines)
        self.used = [False] * lines
        self.energy: StepGroup = [_ZERO, -1, -1, None]
        self.time: StepGroup = [_ZERO, -1, -1, None]
        self.parking: StepGroup = [_ZERO, -1, -1, None]
        self.reservation: StepGroup = [_ZERO, -1, -1, None]


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
    key = (zone.key, slot)
    offset = _offsets.get(key)
    if offset is not None:
        return offset
    at = _EPOCH + timedelta(seconds=epoch_seconds)
    offset = _offset_at(zone, at)
    if (
        _offset_at(zone, _EPOCH + timedelta(seconds=slot * _SLOT))
        == offset
        == _offset_at(zone, _EPOCH + timedelta(seconds=(slot + 1) * _SLOT - 1))
    ):
        if len(_offsets) >= _OFFSETS_MAX:
            _offsets.clear()
        _offsets[key] = offset
    return offset


def _offset_at(zone: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return 0 if delta is None else delta.days * 86_400 + delta.seconds


def _set_wall_clock(ctx: PeriodContext, moment: datetime, zone: ZoneInfo) -> None:
    wall = moment.astimezone(zone)
    ctx.second_of_day = wall.hour * 3600 + wall.minute * 60 + wall.second
    ctx.weekday = wall.weekday()
    ctx.local_ordinal = wall.toordinal()


def _seconds(delta: timedelta) -> Decimal:
    return Decimal((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds).scaleb(-6)


def walk_periods(cdr: Cdr, compiled: CompiledTariff, zone: ZoneInfo) -> Walk:
    """Price every period of `cdr` (validated here as it goes: order, signs, time zones)."""
    periods = cdr.charging_periods
    start, end = cdr.start_date_time, cdr.end_date_time
    first, reserved = _scan(periods)
    expired = reserved and (cdr.reservation_expired if cdr.reservation_expired is not None else first is None)
    session_start = first.start_date_time if first is not None else start
    walk = Walk(len(compiled.line_keys), expired)
    rows, sums, used = walk.rows, walk.sums, walk.used
    energy_group, time_group, parking_group = walk.energy, walk.time, walk.parking

    # Local time: one offset for the whole session when it cannot have changed (the usual case).
    since_epoch = start - _EPOCH
    start_seconds = since_epoch.days * 86_400 + since_epoch.seconds
    offset = _utc_offset(zone, start_seconds)
    until_epoch = end - _EPOCH
    fixed = (
        end - start <= _SAME_OFFSET_SPAN
        and (not periods or periods[0].start_date_time >= start)
        and _utc_offset(zone, until_epoch.days * 86_400 + until_epoch.seconds) == offset
    )
    base_seconds = start_seconds + offset

    ctx = PeriodContext(0, 0, 0, 0, _ZERO, None, None, None, None, None, None)
    electric, kwh = compiled.needs_electric, compiled.needs_energy
    timed = compiled.needs_duration
    from_session = session_start != start
    energies, times, parkings, flats = compiled.energy, compiled.time, compiled.parking, compiled.flat
    reserved_times = compiled.expired_time if expired else compiled.reservation_time
    reserved_flats = compiled.expired_flat if expired else compiled.reservation_flat
    flat_done, reserved_flat_done = not flats, not reserved_flats
    energy_before = _ZERO
    last = len(periods) - 1
    previous = periods[0].start_date_time if periods else start
    found: Candidate | None
    for index, period in enumerate(periods):
        moment = period.start_date_time
        try:
            since_start = moment - start
        except TypeError as exc:
            raise InvalidCdr(f"charging_periods[{index}].start_date_time must be timezone-aware") from exc
        if moment < previous:
            raise InvalidCdr(f"charging_periods[{index}] starts before the period before it")
        previous = moment
        if fixed:
            local_seconds = base_seconds + since_start.days * 86_400 + since_start.seconds
            day, ctx.second_of_day = divmod(local_seconds, 86_400)
            ctx.weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
            ctx.local_ordinal = day + _EPOCH_ORDINAL
        else:
            _set_wall_clock(ctx, moment, zone)
        # Restrictions only see what some restriction of this tariff looks at.
        if timed:
            elapsed = (moment - session_start) if from_session else since_start
            ctx.elapsed_us = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
        if kwh:
            ctx.energy_before = energy_before
        if electric:
            ctx.min_current, ctx.max_current, ctx.current = (
                period.min_current,
                period.max_current,
                period.current,
            )
            ctx.min_power, ctx.max_power, ctx.power = (period.min_power, period.max_power, period.power)

        reservation, energy, charging, parking = (
            period.reservation_time,
            period.energy,
            period.time,
            period.parking_time,
        )
        # For each dimension: the first candidate whose restrictions hold (the for-else leaves None).
        if reservation:
            if reservation < _ZERO:
                raise InvalidCdr(f"charging_periods[{index}].reservation_time is negative")
            for found in reserved_times:
                if found.restrictions is None or found.restrictions.holds(ctx):
                    volume = reservation * _HOUR
                    group = walk.reservation
                    group[0] += volume
                    group[1] = len(rows)
                    group[2] = index
                    group[3] = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.slot >> 1] = True
                    break
            if not reserved_flat_done:
                for found in reserved_flats:
                    if found.restrictions is None or found.restrictions.holds(ctx):
                        rows.append((index, found.static, _ONE, _ONE))
                        sums[found.slot] += found.price
                        used[found.slot >> 1] = reserved_flat_done = True
                        break
        if energy:
            for found in energies:
                if found.restrictions is None or found.restrictions.holds(ctx):
                    energy_group[0] += energy
                    energy_group[1] = len(rows)
                    energy_group[2] = index
                    energy_group[3] = found
                    rows.append((index, found.static, energy, energy))
                    sums[found.slot] += found.price * energy
                    used[found.slot >> 1] = True
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
            for found in times:
                if found.restrictions is None or found.restrictions.holds(ctx):
                    time_group[0] += volume
                    time_group[1] = len(rows)
                    time_group[2] = index
                    time_group[3] = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.slot >> 1] = True
                    break
        if parking:
            if parking < _ZERO:
                raise InvalidCdr(f"charging_periods[{index}].parking_time is negative")
            for found in parkings:
                if found.restrictions is None or found.restrictions.holds(ctx):
                    volume = parking * _HOUR
                    parking_group[0] += volume
                    parking_group[1] = len(rows)
                    parking_group[2] = index
                    parking_group[3] = found
                    rows.append((index, found.static, volume, volume))
                    sums[found.slot] += found.price * volume
                    used[found.slot >> 1] = True
                    break
        if not flat_done and (not reservation or energy or charging or parking):
            for found in flats:
                if found.restrictions is None or found.restrictions.holds(ctx):
                    rows.append((index, found.static, _ONE, _ONE))
                    sums[found.slot] += found.price
                    used[found.slot >> 1] = flat_done = True
                    break
    if previous > end:
        raise InvalidCdr("the last charging period starts after the CDR end_date_time")
    return walk
