"""Field types shared by every OCPI object (spec types.asciidoc, OCPI 2.2.1 section 16).

- `CiString(n)`: case-insensitive, printable ASCII, at most n characters. Compared case-insensitively
  (see `ci_equal`); stored as sent. Models use the aliases `CiString2` ... `CiString48`.
- `String(n)`: any unicode, at most n characters. Models use the aliases `String2` ... `String5000`.
- `URL`: a `string(255)` (16.8).
- `DateTime`: always UTC. Read with or without `Z` (no zone means UTC); written as
  `YYYY-MM-DDThh:mm:ss[.fff]Z` as the spec's examples show.
- `Number`: a `Decimal` (money and quantities are never floats), written as a JSON number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, StringConstraints

_PRINTABLE_ASCII = r"^[\x20-\x7e]*$"


def CiString(max_length: int) -> Any:
    """`CiString(n)` of the spec: printable ASCII, case-insensitive, at most `max_length` characters.

    Returns a type usable by pydantic; mypy cannot use a call result as a type, so typed code uses the
    aliases below (`CiString36` ...), which are the very same types.
    """
    return Annotated[str, StringConstraints(max_length=max_length, pattern=_PRINTABLE_ASCII)]


def String(max_length: int) -> Any:
    """`string(n)` of the spec: unicode text of at most `max_length` characters (see `CiString`)."""
    return Annotated[str, StringConstraints(max_length=max_length)]


# One alias per length the 2.2.1 objects use. Written out (not `CiString(2)`) so that mypy sees `str`.
CiString2 = Annotated[str, StringConstraints(max_length=2, pattern=_PRINTABLE_ASCII)]
CiString3 = Annotated[str, StringConstraints(max_length=3, pattern=_PRINTABLE_ASCII)]
CiString4 = Annotated[str, StringConstraints(max_length=4, pattern=_PRINTABLE_ASCII)]
CiString32 = Annotated[str, StringConstraints(max_length=32, pattern=_PRINTABLE_ASCII)]
CiString36 = Annotated[str, StringConstraints(max_length=36, pattern=_PRINTABLE_ASCII)]
CiString39 = Annotated[str, StringConstraints(max_length=39, pattern=_PRINTABLE_ASCII)]
CiString48 = Annotated[str, StringConstraints(max_length=48, pattern=_PRINTABLE_ASCII)]

String2 = Annotated[str, StringConstraints(max_length=2)]
String3 = Annotated[str, StringConstraints(max_length=3)]
String4 = Annotated[str, StringConstraints(max_length=4)]
String10 = Annotated[str, StringConstraints(max_length=10)]
String16 = Annotated[str, StringConstraints(max_length=16)]
String20 = Annotated[str, StringConstraints(max_length=20)]
String45 = Annotated[str, StringConstraints(max_length=45)]
String64 = Annotated[str, StringConstraints(max_length=64)]
String100 = Annotated[str, StringConstraints(max_length=100)]
String255 = Annotated[str, StringConstraints(max_length=255)]
String512 = Annotated[str, StringConstraints(max_length=512)]
String5000 = Annotated[str, StringConstraints(max_length=5000)]

AsciiString64 = Annotated[str, StringConstraints(max_length=64, pattern=_PRINTABLE_ASCII)]
"""A case-sensitive `string(64)` restricted to printable ASCII (the credentials token, 7.3.1)."""

URL = String255
"""`URL` (16.8): a `string(255)`."""


def ci_equal(a: str | None, b: str | None) -> bool:
    """Spec CiString comparison."""
    if a is None or b is None:
        return a is b
    return a.casefold() == b.casefold()


def to_utc(value: Any) -> Any:
    """Normalise a spec DateTime to an aware UTC datetime; naive values are UTC (types.asciidoc 16.2)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"invalid DateTime {value!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


def format_datetime(value: datetime) -> str:
    """Write a DateTime as the spec does: UTC with a `Z`, milliseconds only when present.

    `isoformat` rather than `strftime`: `%Y` does not pad years before 1000 to four digits.
    """
    value = to_utc(value)
    naive = value.replace(tzinfo=None)
    if naive.microsecond:
        return naive.isoformat(timespec="milliseconds") + "Z"
    return naive.isoformat(timespec="seconds") + "Z"


DateTime = Annotated[
    datetime,
    BeforeValidator(to_utc),
    PlainSerializer(format_datetime, return_type=str, when_used="json-unless-none"),
]


def _decimal_to_json(value: Decimal) -> int | float:
    # JSON numbers: integral values as int, others as float built from the exact decimal text.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


Number = Annotated[
    Decimal,
    PlainSerializer(_decimal_to_json, when_used="json-unless-none"),
]
"""A spec `number`: read into Decimal (strings, ints and floats are accepted), written as a JSON number."""


def utcnow() -> datetime:
    return datetime.now(UTC)
