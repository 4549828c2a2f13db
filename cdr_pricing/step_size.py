"""step_size: once per session, on the total, added to the last period (mod_cdrs "step_size", 10.4.x).

The normative text (mod_cdrs, 2.2.1-d2 and the release-2.2.1-bugfixes branch):
- step_size is taken into account once per session for ENERGY, and once for TIME and PARKING_TIME
  combined; it is NOT applied when switching between elements of one dimension, nor when switching
  from charging (TIME) to parking (PARKING_TIME): "the charging duration is not rounded up, as it is
  followed by another time based period".
- It rounds up the TOTAL volume of the dimension over the session (4.3 + 1.1 kWh = 5.4 kWh -> 5.5 kWh
  with 500 Wh steps; NOT 1.1 -> 1.5), using the step_size of the price component of the LAST period
  that dimension was priced in; the extra volume is billed at that last period's price.
  The maintainers confirm this reading in ocpi/ocpi#494 and #546.

`StepSizeRule.COMBINED_TIME_AND_PARKING` (the default) implements that: of TIME and PARKING_TIME only the
dimension of the last time-based priced period is rounded. The worked examples of mod_tariffs (the
"complex" tariff, tariff_4) were written before that text and round TIME and PARKING_TIME each on its
own; `StepSizeRule.EACH_DIMENSION` reproduces them for partners who bill that way.

Units: ENERGY volumes are kWh and step_size is Wh; time volumes are seconds and step_size is seconds.
A step_size of 0 (or less) means no rounding. Rounding never lowers a volume.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from cdr_pricing.money import EXACT

__all__ = ["StepSizeRule", "round_up_to_step", "time_groups_to_round"]

_ZERO = Decimal(0)


class StepSizeRule(StrEnum):
    """How step_size treats TIME and PARKING_TIME (ENERGY and reservation time are always on their own)."""

    COMBINED_TIME_AND_PARKING = "COMBINED_TIME_AND_PARKING"
    EACH_DIMENSION = "EACH_DIMENSION"


def round_up_to_step(total: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of `step` that is >= `total`; `total` itself when it is <= 0 or step <= 0."""
    if total <= _ZERO or step <= _ZERO:
        return total
    quotient, remainder = EXACT.divmod(total, step)
    if remainder == _ZERO:
        return total
    return EXACT.multiply(quotient + 1, step)


def time_groups_to_round(rule: StepSizeRule, time_period: int, parking_period: int) -> tuple[bool, bool]:
    """Whether TIME and PARKING_TIME get step_size, given the last period each was priced in (-1: never).

    EACH_DIMENSION rounds both. COMBINED_TIME_AND_PARKING rounds only the dimension of the last
    time-based priced period; within one period parking follows charging.
    """
    if rule is StepSizeRule.EACH_DIMENSION:
        return True, True
    if parking_period < 0:
        return True, False
    return time_period > parking_period, time_period <= parking_period
