"""The week table gives, at every second of the week, what checking each element's window and weekdays
directly gives (hypothesis), and the engine's use of it leaves the first matching element in front."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cdr_pricing.restrictions import DAY, WEEK, CompiledRestrictions
from cdr_pricing.values import TariffRestrictions
from cdr_pricing.week_table import WeekTable


@dataclass(frozen=True)
class FakeCandidate:
    name: int
    restrictions: CompiledRestrictions | None


times = st.one_of(st.none(), st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59])))


@st.composite
def candidate_lists(draw: st.DrawFn) -> tuple[tuple[FakeCandidate, ...], ...]:
    lists = []
    name = 0
    for _ in range(draw(st.integers(1, 3))):
        found = []
        for _ in range(draw(st.integers(1, 5))):
            name += 1
            if draw(st.booleans()):
                source = TariffRestrictions(
                    start_time=draw(times),
                    end_time=draw(times),
                    day_of_week=frozenset(draw(st.sets(st.integers(0, 6), max_size=6))),
                    min_duration=draw(st.one_of(st.none(), st.integers(0, 7200))),
                )
                found.append(FakeCandidate(name, CompiledRestrictions(source)))
            else:
                found.append(FakeCandidate(name, None))
        lists.append(tuple(found))
    return tuple(lists)


def direct(candidates: tuple[FakeCandidate, ...], position: int) -> tuple[FakeCandidate, ...]:
    """Candidates whose window and weekdays hold, up to the first that has nothing else to check."""
    weekday, second = divmod(position, DAY)
    kept = []
    for candidate in candidates:
        restrictions = candidate.restrictions
        if restrictions is None or restrictions.in_week(weekday, second):
            kept.append(candidate)
            if restrictions is None or restrictions.residual is None:
                break
    return tuple(kept)


@settings(max_examples=200, deadline=None)
@given(candidate_lists(), st.lists(st.integers(0, WEEK - 1), min_size=1, max_size=50))
def test_the_table_agrees_with_direct_checks(
    lists: tuple[tuple[FakeCandidate, ...], ...], positions: list[int]
) -> None:
    table = WeekTable(lists)
    # Every boundary, the second before it, and some random seconds.
    probes = set(positions) | {b for b in table.bounds} | {(b - 1) % WEEK for b in table.bounds} | {WEEK - 1}
    for position in sorted(probes):
        assert table.at(position) == tuple(direct(c, position) for c in lists), position


def test_a_window_that_wraps_belongs_to_the_day_it_starts() -> None:
    friday_night = CompiledRestrictions(
        TariffRestrictions(start_time=time(22), end_time=time(6), day_of_week=frozenset({4}))
    )
    table = WeekTable(((FakeCandidate(1, friday_night), FakeCandidate(2, None)),))
    saturday_2am, friday_2am, friday_11pm = 5 * DAY + 2 * 3600, 4 * DAY + 2 * 3600, 4 * DAY + 23 * 3600
    assert [c.name for c in table.at(saturday_2am)[0]] == [1]
    assert [c.name for c in table.at(friday_11pm)[0]] == [1]
    assert [c.name for c in table.at(friday_2am)[0]] == [2]


def test_residual_restrictions_keep_later_candidates_in_the_list() -> None:
    first_hour_free = CompiledRestrictions(TariffRestrictions(max_duration=3600))
    table = WeekTable(((FakeCandidate(1, first_hour_free), FakeCandidate(2, None), FakeCandidate(3, None)),))
    assert table.bounds == [day * DAY for day in range(7)]  # nothing weekly: one stretch per day
    for position in (0, 12_345, WEEK - 1):
        assert [c.name for c in table.at(position)[0]] == [1, 2]


def test_a_stretch_is_filtered_once_on_first_use() -> None:
    evenings = CompiledRestrictions(TariffRestrictions(start_time=time(18), end_time=time(23)))
    table = WeekTable(((FakeCandidate(1, evenings), FakeCandidate(2, None)),))
    assert all(choice is None for choice in table.choices)
    first = table.at(19 * 3600)
    assert table.at(20 * 3600) is first
    assert sum(choice is not None for choice in table.choices) == 1
