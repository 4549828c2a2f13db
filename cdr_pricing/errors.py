"""The closed set of errors raised by `cdr_pricing`.

```
PricingError                  base: every failure to price a CDR
├── TimeZoneMissing           no IANA time zone given (2.2.1 CDRs carry none: join the Location)
├── UnknownTimeZone           a time zone name the tz database does not know
├── InvalidTariff             a Tariff that cannot be used (bad restriction syntax, no elements ...)
├── InvalidCdr                a CDR that cannot be priced (no periods, periods out of order ...)
└── NoValidTariff             the Tariff is not in force at the session start (start/end_date_time)
```

Every error carries a human readable message; none of them wraps IO, there is none.
"""

from __future__ import annotations

__all__ = [
    "InvalidCdr",
    "InvalidTariff",
    "NoValidTariff",
    "PricingError",
    "TimeZoneMissing",
    "UnknownTimeZone",
]


class PricingError(Exception):
    """Base class of every error raised while pricing a CDR."""


class TimeZoneMissing(PricingError):
    """No time zone was given; restrictions are in the Location's local time (TariffRestrictions)."""


class UnknownTimeZone(PricingError):
    """The time zone name is not an IANA name known to the tz database."""


class InvalidTariff(PricingError):
    """The Tariff (or one of its elements, components or restrictions) is malformed."""


class InvalidCdr(PricingError):
    """The CDR cannot be priced as given."""


class NoValidTariff(PricingError):
    """The Tariff is not valid at the start of the session (Tariff.start_date_time / end_date_time)."""
