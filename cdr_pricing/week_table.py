"""The weekly part of every element's restrictions, evaluated once per compiled tariff.

Time windows and weekdays depend only on the local position in the week (seconds since Monday 00:00).
Between two consecutive boundaries (midnights, and every window's start and end on each day) no weekly
restriction changes its verdict, so the week is cut at those boundaries and, for each stretch and each
candidate list of the tariff (energy, time, ...), the candidates whose weekly part holds are kept, in
tariff order. The list stops at the first candidate that has no other restriction: it always prices, so
later ones can never be reached (mod_tariffs 11.3.1: the first matching element is used).

The engine then finds a period's stretch with one `bisect` and checks only the `residual` restrictions
(dates, kWh, duration, current, power) of the few candidates left. A stretch's lists are filtered the first
time a period falls in it, and kept.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Generic, Protocol, TypeVar

from cdr_pricing.restrictions import DAY, CompiledRestrictions

__all__ = ["WeekTable"]


class _Restricted(Protocol):
    @property
    def restrictions(self) -> CompiledRestrictions | None: ...


C = TypeVar("C", bound=_Restricted)


class WeekTable(Generic[C]):
    """Per stretch of the week, each candidate list filtered by the weekly restrictions.

    `bounds[i]` is the first second of the week of stretch `i` (`bounds[0]` is 0); `choices[i][k]` is
    list `k` filtered for that stretch, filled on first use by `choice(i)` (None until then), so that
    compiling a tariff stays cheap when it prices a single CDR. `unrestricted[k]` is list `k` reduced to its
    first candidate without restrictions (for the periods where no restricted element may price; see
    `walk`).
    """

    __slots__ = ("bounds", "choices", "lists", "unrestricted")

    def __init__(self, lists: tuple[tuple[C, ...], ...]) -> None:
        cuts = {day * DAY for day in range(7)}
        seen: set[int] = set()  # an element's restrictions are shared by the candidates it makes
        for candidates in lists:
            for candidate in candidates:
                restrictions = candidate.restrictions
                if restrictions is not None and id(restrictions) not in seen:
                    seen.add(id(restrictions))
                    cuts |= restrictions.week_cuts()
        self.lists = lists
        self.bounds = sorted(cuts)
        self.choices: list[tuple[tuple[C, ...], ...] | None] = [None] * len(self.bounds)
        self.unrestricted = tuple(
            next(((c,) for c in candidates if c.restrictions is None), ()) for candidates in lists
        )

    def choice(self, stretch: int) -> tuple[tuple[C, ...], ...]:
        """The filtered lists of stretch number `stretch` (computed once; the same value every time)."""
        found = self.choices[stretch]
        if found is None:
            found = tuple(_filter(candidates, self.bounds[stretch]) for candidates in self.lists)
            self.choices[stretch] = found
        return found

    def at(self, position: int) -> tuple[tuple[C, ...], ...]:
        """The filtered lists at second `position` of the week (0 <= position < 7 days)."""
        return self.choice(bisect_right(self.bounds, position) - 1)


def _filter(candidates: tuple[C, ...], position: int) -> tuple[C, ...]:
    weekday, second = divmod(position, DAY)
    kept: list[C] = []
    for candidate in candidates:
        restrictions = candidate.restrictions
        if restrictions is None:
            kept.append(candidate)
            break
        if restrictions.in_week(weekday, second):
            kept.append(candidate)
            if restrictions.residual is None:
                break
    return tuple(kept)
