"""Pagination parameters and headers (spec transport_and_format.asciidoc, "Pagination")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from ocpi.errors import InvalidParameters
from ocpi.pagination import (
    PageParams,
    build_link,
    lower_offset,
    next_offset,
    pagination_headers,
    parse_next_link,
    parse_page_params,
    replace_query_params,
)
from ocpi.status import StatusCode

BASE = "https://www.server.com/ocpi/cpo/2.2.1/cdrs/"


def parse(query: dict[str, str], *, max_limit: int = 100, default_limit: int = 50) -> PageParams:
    return parse_page_params(query, max_limit=max_limit, default_limit=default_limit)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_defaults_when_no_parameters() -> None:
    assert parse({}) == PageParams(date_from=None, date_to=None, offset=0, limit=50)


def test_all_parameters_parsed_as_utc() -> None:
    params = parse(
        {
            "date_from": "2016-01-01T00:00:00Z",
            "date_to": "2016-12-31T23:59:59.250+01:00",
            "offset": "150",
            "limit": "20",
        }
    )
    assert params.date_from == datetime(2016, 1, 1, tzinfo=UTC)
    assert params.date_to == datetime(2016, 12, 31, 22, 59, 59, 250000, tzinfo=UTC)
    assert params.date_to is not None and params.date_to.utcoffset() == timedelta(0)
    assert (params.offset, params.limit) == (150, 20)


def test_date_without_zone_is_utc_and_unencoded_plus_is_tolerated() -> None:
    params = parse({"date_from": "2016-01-01T10:00:00", "date_to": "2016-01-01T12:00:00 02:00"})
    assert params.date_from == datetime(2016, 1, 1, 10, tzinfo=UTC)
    assert params.date_to == datetime(2016, 1, 1, 10, tzinfo=UTC)


def test_empty_values_count_as_absent() -> None:
    assert parse({"offset": "", "limit": " ", "date_from": ""}) == PageParams(limit=50)


def test_limit_above_max_is_capped_not_an_error() -> None:
    assert parse({"limit": "2000"}).limit == 100
    assert parse({"limit": "9" * 40}).limit == 100


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", "-1"),
        ("offset", "abc"),
        ("offset", "1.5"),
        ("offset", "+5"),
        ("offset", "1_000"),
        ("offset", "9" * 25),
        ("limit", "-10"),
        ("limit", "0"),
        ("limit", "ten"),
        ("date_from", "yesterday"),
        ("date_to", "2016-13-45T00:00:00Z"),
    ],
)
def test_bad_parameters_are_2001(name: str, value: str) -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse({name: value})
    assert caught.value.status_code == StatusCode.INVALID_OR_MISSING_PARAMETERS
    assert caught.value.http_status == 400
    assert name in caught.value.status_message


def test_page_params_reject_impossible_values() -> None:
    with pytest.raises(ValueError):
        PageParams(offset=-1)
    with pytest.raises(ValueError):
        PageParams(limit=0)
    with pytest.raises(ValueError):
        PageParams(date_from=datetime(2020, 1, 1))  # naive


def test_build_link_carries_filters_limit_and_new_offset() -> None:
    params = PageParams(
        date_from=datetime(2016, 1, 1, tzinfo=UTC),
        date_to=datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC),
        offset=0,
        limit=2000,
    )
    link = build_link(BASE, params, next_offset=100, limit=100)
    assert link == (
        f"<{BASE}?offset=100&limit=100&date_from=2016-01-01T00:00:00Z"
        '&date_to=2016-12-31T23:59:59Z>; rel="next"'
    )


def test_build_link_without_filters_matches_spec_example() -> None:
    link = build_link(BASE, PageParams(limit=50), next_offset=150, limit=50)
    assert link == f'<{BASE}?offset=150&limit=50>; rel="next"'


def test_build_link_replaces_offset_already_in_base_url_and_keeps_other_params() -> None:
    link = build_link(BASE + "?offset=10&limit=5&foo=bar", PageParams(), next_offset=20, limit=10)
    url = parse_next_link(link)
    assert url is not None
    assert query_of(url) == {"offset": "20", "limit": "10", "foo": "bar"}


def test_round_trip_build_then_parse() -> None:
    params = PageParams(
        date_from=datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=timezone(timedelta(hours=2))),
        date_to=datetime(2021, 4, 1, tzinfo=UTC),
        offset=40,
        limit=20,
    )
    url = parse_next_link(build_link(BASE, params, next_offset=60, limit=20))
    assert url is not None and url.startswith(BASE + "?")
    again = parse(query_of(url))
    assert again == PageParams(params.date_from, params.date_to, offset=60, limit=20)
    assert again.date_from == datetime(2021, 3, 4, 3, 6, 7, 123000, tzinfo=UTC)


def test_to_query_round_trip() -> None:
    params = PageParams(date_from=datetime(2020, 1, 1, tzinfo=UTC), offset=5, limit=7)
    assert params.to_query() == {"offset": "5", "limit": "7", "date_from": "2020-01-01T00:00:00Z"}
    assert parse(params.to_query()) == params
    assert PageParams().to_query() == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ('<https://a.example/x?offset=10&limit=5>; rel="next"', "https://a.example/x?offset=10&limit=5"),
        ("<https://a.example/x>;rel=next", "https://a.example/x"),
        ('<https://a.example/x> ; REL = "Next"', "https://a.example/x"),
        ('<https://a.example/p>; rel="prev", <https://a.example/n>; rel="next"', "https://a.example/n"),
        ('<https://a.example/n>; title="a, b; c"; rel="next last"', "https://a.example/n"),
        ('<https://a.example/first>; rel="first",<https://a.example/n>;rel="next"', "https://a.example/n"),
        ('  < https://a.example/n >; rel="next"  ', "https://a.example/n"),
        ('<https://a.example/p>; rel="prev"', None),
        ("</ocpi/cdrs?offset=5>; rel=next", "/ocpi/cdrs?offset=5"),
    ],
)
def test_parse_next_link(header: str | None, expected: str | None) -> None:
    assert parse_next_link(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        'https://a.example/n; rel="next"',
        '<https://a.example/n; rel="next"',
        '<https://a.example/n>; rel="next',
    ],
)
def test_parse_next_link_malformed(header: str) -> None:
    assert parse_next_link(header) is None
    with pytest.raises(ValueError):
        parse_next_link(header, strict=True)


def test_pagination_headers() -> None:
    assert pagination_headers(1000, 100, None) == {"X-Total-Count": "1000", "X-Limit": "100"}
    link = build_link(BASE, PageParams(), next_offset=100, limit=100)
    assert pagination_headers(1000, 100, link) == {
        "X-Total-Count": "1000",
        "X-Limit": "100",
        "Link": link,
    }


def test_next_offset() -> None:
    assert next_offset(0, 100, 1000) == 100
    assert next_offset(900, 100, 1000) is None
    assert next_offset(950, 0, 1000) is None
    assert next_offset(0, 0, 0) is None


def test_replace_query_params_keeps_position_and_removes() -> None:
    url = "https://h/x?a=1&offset=10&b=2"
    assert replace_query_params(url, {"offset": "9"}) == "https://h/x?a=1&offset=9&b=2"
    assert replace_query_params(url, {"offset": None, "c": "3"}) == "https://h/x?a=1&b=2&c=3"
    assert replace_query_params("https://h/x", {"date_from": "2020-01-01T00:00:00+01:00"}) == (
        "https://h/x?date_from=2020-01-01T00:00:00%2B01:00"
    )


def test_lower_offset() -> None:
    assert lower_offset("https://h/x?limit=5&offset=10", 1) == "https://h/x?limit=5&offset=9"
    assert lower_offset("https://h/x?offset=2", 5) == "https://h/x?offset=0"
    assert lower_offset("https://h/x?offset=0", 1) is None
    assert lower_offset("https://h/x?cursor=abc", 1) is None
