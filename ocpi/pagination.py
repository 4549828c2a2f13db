"""Pagination of list GETs (spec transport_and_format.asciidoc, "Pagination", "Paginated Request",
"Paginated Response", "Pagination Examples").

- Request parameters every list GET supports: `date_from` (inclusive, on `last_updated`), `date_to`
  (exclusive), `offset` (default 0) and `limit` (the server may return fewer and caps it).
- Response headers: `Link: <url>; rel="next"` only when this is not the last page, carrying the filters of
  the original request; `X-Total-Count`, the objects matching the filters (ignoring offset and limit);
  `X-Limit`, the server's maximum page size, even when fewer objects are returned.

Server side: `parse_page_params`, `build_link`, `next_offset`, `pagination_headers`.
Client side: `parse_next_link`, `lower_offset`, `replace_query_params` (used by
`ocpi.client.OcpiClient.iter_pages`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ocpi import headers
from ocpi.errors import InvalidParameters
from ocpi.types import format_datetime, to_utc

DATE_FROM = "date_from"
DATE_TO = "date_to"
OFFSET = "offset"
LIMIT = "limit"
PAGINATION_PARAMS = (DATE_FROM, DATE_TO, OFFSET, LIMIT)

MAX_OFFSET = 2**63 - 1  # fits a database BIGINT; anything larger is a client error, not a server crash
_DIGITS = re.compile(r"[0-9]{1,64}")
# "+01:00" arrives as " 01:00" when a client forgets to percent-encode the "+" of an offset.
_SPACE_FOR_PLUS = re.compile(r" (\d{2}:?\d{2})$")


@dataclass(frozen=True, slots=True)
class PageParams:
    """The pagination parameters of one list GET (spec "Paginated Request").

    `date_from` and `date_to` are aware UTC datetimes; `offset` >= 0; `limit` > 0, or None for
    "the server's default".
    """

    date_from: datetime | None = None
    date_to: datetime | None = None
    offset: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise ValueError("offset must be >= 0")
        if self.limit is not None and self.limit <= 0:
            raise ValueError("limit must be > 0")
        for name in (DATE_FROM, DATE_TO):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")

    def to_query(self) -> dict[str, str]:
        """The query parameters of this request, in the spec's order; unset ones and offset 0 left out."""
        query: dict[str, str] = {}
        if self.offset:
            query[OFFSET] = str(self.offset)
        if self.limit is not None:
            query[LIMIT] = str(self.limit)
        if self.date_from is not None:
            query[DATE_FROM] = format_datetime(self.date_from)
        if self.date_to is not None:
            query[DATE_TO] = format_datetime(self.date_to)
        return query


def parse_page_params(query: Mapping[str, str], *, max_limit: int, default_limit: int) -> PageParams:
    """Read `date_from`, `date_to`, `offset` and `limit` from a request's query string.

    Raises `InvalidParameters` (2001) for an offset or limit that is not a non-negative integer, a limit of
    0, or a date that is not a DateTime. A limit above `max_limit` is capped (the spec lets the server
    return fewer objects and announce its maximum in `X-Limit`); no limit means `default_limit`. Empty
    values count as absent.
    """
    if not 0 < default_limit <= max_limit:
        raise ValueError("need 0 < default_limit <= max_limit")
    offset = _parse_int(query, OFFSET)
    if offset is not None and offset > MAX_OFFSET:
        raise InvalidParameters(f"offset must be at most {MAX_OFFSET}")
    limit = _parse_int(query, LIMIT)
    if limit == 0:
        raise InvalidParameters("limit must be greater than 0")
    return PageParams(
        date_from=_parse_datetime(query, DATE_FROM),
        date_to=_parse_datetime(query, DATE_TO),
        offset=offset or 0,
        limit=default_limit if limit is None else min(limit, max_limit),
    )


def _parse_int(query: Mapping[str, str], name: str) -> int | None:
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    # int() would also take "+5", "1_000" and non-ASCII digits: accept plain decimal digits only.
    if not _DIGITS.fullmatch(raw):
        raise InvalidParameters(f"{name} must be a non-negative integer, got {raw[:40]!r}")
    return int(raw)


def _parse_datetime(query: Mapping[str, str], name: str) -> datetime | None:
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = to_utc(_SPACE_FOR_PLUS.sub(r"+\1", raw))
    except ValueError:
        value = None
    if not isinstance(value, datetime):
        raise InvalidParameters(f"{name} must be a DateTime, got {raw[:40]!r}")
    return value


def replace_query_params(url: str, updates: Mapping[str, str | None]) -> str:
    """`url` with the query parameters in `updates` set (in place, or appended when absent) or, for None,
    removed. Other parameters keep their order and values.
    """
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    done: set[str] = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in updates:
            kept.append((key, value))
        elif key not in done:  # replaced where it stood; repeats of it dropped
            done.add(key)
            new = updates[key]
            if new is not None:
                kept.append((key, new))
    kept.extend((key, value) for key, value in updates.items() if key not in done and value is not None)
    # ":" stays readable in DateTimes, as in the spec's examples; "+" and "&" are encoded.
    return urlunsplit(parts._replace(query=urlencode(kept, safe=":")))


def lower_offset(url: str, by: int) -> str | None:
    """`url` with its `offset` lowered by `by` (not below 0); None when it has no offset above 0.

    The client's answer to a shrinking `X-Total-Count` (spec "Paginated Response": redo the previous GET
    with the offset lowered). None for a first page or a server that pages with its own cursor.
    """
    values = [value for key, value in parse_qsl(urlsplit(url).query) if key == OFFSET]
    if not values or not _DIGITS.fullmatch(values[0]) or int(values[0]) == 0:
        return None
    return replace_query_params(url, {OFFSET: str(max(0, int(values[0]) - by))})


def build_link(base_url: str, params: PageParams, next_offset: int, limit: int) -> str:
    """The `Link` header value pointing at the next page: `<url>; rel="next"`.

    The URL carries the original filters (`date_from`, `date_to`), the `limit` in force (the server's
    effective limit, so a client that sent none keeps the same page size) and the new `offset`. Any other
    query parameter already on `base_url` is kept.
    """
    if next_offset < 0 or limit <= 0:
        raise ValueError("need next_offset >= 0 and limit > 0")
    updates: dict[str, str | None] = {
        OFFSET: str(next_offset),
        LIMIT: str(limit),
        DATE_FROM: format_datetime(params.date_from) if params.date_from else None,
        DATE_TO: format_datetime(params.date_to) if params.date_to else None,
    }
    return f'<{replace_query_params(base_url, updates)}>; rel="next"'


def next_offset(offset: int, returned: int, total: int) -> int | None:
    """The offset of the next page, or None when the page just served was the last one."""
    following = offset + returned
    return following if returned > 0 and following < total else None


def pagination_headers(total: int, limit: int, next_link: str | None) -> dict[str, str]:
    """`X-Total-Count`, `X-Limit` and, when there is a next page, `Link` (spec "Paginated Response")."""
    result = {headers.TOTAL_COUNT: str(total), headers.LIMIT: str(limit)}
    if next_link:
        result[headers.LINK] = next_link
    return result


def parse_next_link(header_value: str | None, *, strict: bool = False) -> str | None:
    """The target of the `rel="next"` link in a `Link` header value (RFC 8288), or None.

    Tolerates several links in one value (or several headers joined by ","), quoted or bare `rel`, a `rel`
    with several types, any case and spacing. The URL is returned as written (it may be relative: resolve
    it against the request URL). A malformed value yields None, or raises `ValueError` when `strict`.
    """
    if not header_value or not header_value.strip():
        return None
    try:
        for target, rels in _iter_links(header_value):
            if "next" in rels:
                return target
    except ValueError:
        if strict:
            raise
    return None


def _iter_links(value: str) -> Iterator[tuple[str, set[str]]]:
    """(target, rel types) of each link-value in a `Link` header; ValueError on a malformed one."""
    pos, end = 0, len(value)
    while pos < end:
        pos = _skip(value, pos, " \t,")
        if pos >= end:
            return
        if value[pos] != "<":
            raise ValueError(f"Link value must start with '<' at position {pos}")
        close = value.find(">", pos + 1)
        if close < 0:
            raise ValueError("Link target not closed by '>'")
        target = value[pos + 1 : close].strip()
        if not target:
            raise ValueError("empty Link target")
        rels, pos = _read_link_params(value, close + 1)
        yield target, rels


def _read_link_params(value: str, pos: int) -> tuple[set[str], int]:
    """Parse `; name=value` pairs up to the next top-level ',' and return the rel types."""
    rels: set[str] = set()
    end = len(value)
    while True:
        pos = _skip(value, pos, " \t")
        if pos >= end or value[pos] == ",":
            return rels, pos
        if value[pos] != ";":
            raise ValueError(f"expected ';' in Link at position {pos}")
        pos = _skip(value, pos + 1, " \t")
        name_end = pos
        while name_end < end and value[name_end] not in "=;, \t":
            name_end += 1
        name = value[pos:name_end].lower()
        pos = _skip(value, name_end, " \t")
        param = ""
        if pos < end and value[pos] == "=":
            param, pos = _read_param_value(value, _skip(value, pos + 1, " \t"))
        if name == "rel":
            rels.update(part.lower() for part in param.split())


def _read_param_value(value: str, pos: int) -> tuple[str, int]:
    end = len(value)
    if pos < end and value[pos] == '"':
        chars: list[str] = []
        pos += 1
        while pos < end and value[pos] != '"':
            if value[pos] == "\\" and pos + 1 < end:
                pos += 1
            chars.append(value[pos])
            pos += 1
        if pos >= end:
            raise ValueError("unterminated quoted string in Link")
        return "".join(chars), pos + 1
    start = pos
    while pos < end and value[pos] not in ";,":
        pos += 1
    return value[start:pos].strip(), pos


def _skip(value: str, pos: int, chars: str) -> int:
    while pos < len(value) and value[pos] in chars:
        pos += 1
    return pos
