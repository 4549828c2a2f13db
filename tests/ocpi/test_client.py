"""Unit tests of the OCPI client on a mocked transport (respx)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date
from typing import Any

import httpx
import pytest
import respx

from ocpi.client import OcpiCallResult, OcpiClient, Page, parse_retry_after
from ocpi.envelope import envelope
from ocpi.errors import PartnerCallError
from ocpi.pagination import PageParams, build_link, pagination_headers

TOKEN = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
BASE = "https://cpo.example.com/ocpi/2.2.1"
TOKENS_URL = f"{BASE}/tokens/NL/EXA/012345678"
CDRS_URL = f"{BASE}/cdrs"
ROUTING = ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def make_client(http: httpx.AsyncClient, **kwargs: Any) -> OcpiClient:
    options: dict[str, Any] = {"token": TOKEN, "from_party": ("NL", "EMS"), "to_party": ("DE", "CPO")}
    options.update(kwargs)
    return OcpiClient(http, **options)


def ok(data: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=envelope(data), headers=headers)


async def expect_error(call: Any, error_class: str) -> PartnerCallError:
    with pytest.raises(PartnerCallError) as caught:
        await call
    assert caught.value.error_class == error_class, caught.value.message
    return caught.value


# --- headers -------------------------------------------------------------------------------------


async def test_headers_on_a_functional_module_call(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    route = router.put(TOKENS_URL).mock(return_value=ok())
    client = make_client(http, correlation_id="corr-1")

    result = await client.put(TOKENS_URL, {"uid": "012345678"})

    sent = route.calls.last.request
    scheme, _, value = sent.headers["Authorization"].partition(" ")
    assert scheme == "Token"
    assert base64.b64decode(value).decode() == TOKEN
    assert sent.headers["X-Request-ID"] == result.request_id
    uuid.UUID(result.request_id)
    assert sent.headers["X-Correlation-ID"] == "corr-1"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {"uid": "012345678"}
    assert [sent.headers[name] for name in ROUTING] == ["NL", "EMS", "DE", "CPO"]


async def test_raw_token_mode(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    route = router.get(TOKENS_URL).mock(return_value=ok({}))
    await make_client(http, base64_token=False).get(TOKENS_URL)
    assert route.calls.last.request.headers["Authorization"] == f"Token {TOKEN}"


async def test_new_request_id_per_request_and_one_correlation_id(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    route = router.get(TOKENS_URL).mock(return_value=ok({}))
    client = make_client(http)
    first = await client.get(TOKENS_URL)
    second = await client.get(TOKENS_URL)

    request_ids = [call.request.headers["X-Request-ID"] for call in route.calls]
    assert request_ids == [first.request_id, second.request_id]
    assert first.request_id != second.request_id
    correlation_ids = {call.request.headers["X-Correlation-ID"] for call in route.calls}
    assert correlation_ids == {client.correlation_id}
    uuid.UUID(client.correlation_id)


async def test_no_routing_headers_on_configuration_modules(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    versions = [{"version": "2.2.1", "url": f"{BASE}/details"}]
    details = {"version": "2.2.1", "endpoints": []}
    versions_route = router.get(f"{BASE}/versions").mock(return_value=ok(versions))
    details_route = router.get(f"{BASE}/details").mock(return_value=ok(details))
    credentials_route = router.post(f"{BASE}/credentials").mock(return_value=ok({}))
    client = make_client(http)

    assert await client.get_versions(f"{BASE}/versions") == versions
    assert await client.get_version_details(f"{BASE}/details") == details
    await client.post(f"{BASE}/credentials", {"token": "x"}, routing=False)

    for route in (versions_route, details_route, credentials_route):
        sent = route.calls.last.request
        assert not any(name in sent.headers for name in ROUTING)
        assert "Authorization" in sent.headers and "X-Request-ID" in sent.headers
    assert "Content-Type" not in versions_route.calls.last.request.headers


async def test_open_routing_request_omits_to_headers(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    route = router.delete(TOKENS_URL).mock(return_value=ok())
    await make_client(http, to_party=None).delete(TOKENS_URL)
    sent = route.calls.last.request
    assert sent.headers["OCPI-from-party-id"] == "EMS"
    assert "OCPI-to-party-id" not in sent.headers and "OCPI-to-country-code" not in sent.headers
    assert "Content-Type" not in sent.headers


async def test_query_params_and_result_fields(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    route = router.get(CDRS_URL).mock(
        return_value=ok([{"id": "1"}], **{"X-Total-Count": "1", "X-Limit": "10", "Server": "x"})
    )
    params = PageParams(date_from=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), limit=10)
    result = await make_client(http).get(CDRS_URL, params)

    assert route.calls.last.request.url.params["date_from"] == "2024-01-02T03:04:05Z"
    assert route.calls.last.request.url.params["limit"] == "10"
    assert isinstance(result, OcpiCallResult) and result.ok
    assert (result.http_status, result.ocpi_status, result.data) == (200, 1000, [{"id": "1"}])
    assert result.headers["X-Total-Count"] == "1" and "Server" not in result.headers
    assert result.duration_ms >= 0


def test_repr_hides_token() -> None:
    client = OcpiClient(httpx.AsyncClient(), token=TOKEN)
    assert TOKEN not in repr(client)
    assert base64.b64encode(TOKEN.encode()).decode() not in repr(client)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exception", "error_class"),
    [
        (httpx.ConnectTimeout, "timeout"),
        (httpx.ReadTimeout, "timeout"),
        (httpx.ConnectError, "transport"),
        (httpx.RemoteProtocolError, "transport"),
    ],
)
async def test_transport_errors(
    http: httpx.AsyncClient, router: respx.MockRouter, exception: type[Exception], error_class: str
) -> None:
    router.get(TOKENS_URL).mock(side_effect=exception)
    error = await expect_error(make_client(http).get(TOKENS_URL), error_class)
    assert error.http_status is None and error.request_id is not None


async def test_invalid_json_is_invalid_response(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    error = await expect_error(make_client(http).get(TOKENS_URL), "invalid_response")
    assert error.http_status == 200 and error.ocpi_status is None
    assert "not JSON" in error.message


@pytest.mark.parametrize("body", [{"data": []}, [1, 2], {"status_code": "abc"}, {"status_code": True}])
async def test_missing_status_code_is_invalid_response(
    http: httpx.AsyncClient, router: respx.MockRouter, body: Any
) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(200, json=body))
    await expect_error(make_client(http).get(TOKENS_URL), "invalid_response")


async def test_status_code_as_string_is_tolerated(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(200, json={"status_code": "1000", "data": {}}))
    assert (await make_client(http).get(TOKENS_URL)).ocpi_status == 1000


async def test_http_error_with_envelope(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    body = envelope(status_code=2003, status_message="Unknown location")
    router.get(TOKENS_URL).mock(return_value=httpx.Response(404, json=body))
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert (error.http_status, error.ocpi_status) == (404, 2003)
    assert "Unknown location" in error.message and error.retry_after is None


async def test_http_error_without_envelope(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(502, text="<html>Bad gateway</html>"))
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert (error.http_status, error.ocpi_status) == (502, None)


async def test_redirect_is_not_followed(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(302, headers={"Location": "https://evil.test/"}))
    evil = router.get("https://evil.test/").mock(return_value=ok())
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert error.http_status == 302 and not evil.called


async def test_ocpi_error_status_on_http_200(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    body = envelope(status_code=2001, status_message="Missing field: type")
    router.put(TOKENS_URL).mock(return_value=httpx.Response(200, json=body))
    client = make_client(http)
    error = await expect_error(client.put(TOKENS_URL, {}), "ocpi")
    assert (error.http_status, error.ocpi_status) == (200, 2001)
    assert "Missing field: type" in error.message

    result = await client.put(TOKENS_URL, {}, raise_on_error=False)
    assert not result.ok and result.ocpi_status == 2001 and result.status_message == "Missing field: type"


async def test_raise_on_error_false_returns_http_errors(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(503, text="down"))
    result = await make_client(http).get(TOKENS_URL, raise_on_error=False)
    assert (result.http_status, result.ocpi_status, result.ok) == (503, None, False)


async def test_retry_after_seconds(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(TOKENS_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert (error.http_status, error.retry_after) == (429, 120.0)


async def test_retry_after_http_date_relative_to_server_date(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    server_now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)  # far from our clock: skew must not matter
    headers = {
        "Date": http_date(server_now, usegmt=True),
        "Retry-After": http_date(server_now + timedelta(seconds=90), usegmt=True),
    }
    router.get(TOKENS_URL).mock(return_value=httpx.Response(503, headers=headers))
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert error.retry_after == 90.0


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after(" 30 ", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0  # in the past
    for bad in (None, "", "soon", "-5", "nan", "1e9"):
        assert parse_retry_after(bad, now=now) is None


async def test_error_messages_never_carry_the_token(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        return httpx.Response(401, text=f"unknown token {auth} ({TOKEN})")

    router.get(TOKENS_URL).mock(side_effect=echo)
    error = await expect_error(make_client(http).get(TOKENS_URL), "http")
    assert TOKEN not in str(error)
    assert base64.b64encode(TOKEN.encode()).decode() not in str(error)
    assert "***" in str(error)


# --- body size cap -------------------------------------------------------------------------------


async def test_body_over_cap_with_content_length(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(CDRS_URL).mock(return_value=ok([{"id": "x" * 100}] * 100))
    error = await expect_error(make_client(http, max_body_bytes=1000).get(CDRS_URL), "invalid_response")
    assert error.http_status == 200 and "1000 bytes" in error.message


async def test_streamed_body_over_cap_stops_reading(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for index in range(1000):
            produced.append(index)
            yield b" " * 1024

    router.get(CDRS_URL).mock(return_value=httpx.Response(200, content=endless()))
    await expect_error(make_client(http, max_body_bytes=10_000).get(CDRS_URL), "invalid_response")
    assert len(produced) < 20


async def test_gzip_bomb_is_capped_on_decoded_size(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 20_000
    response = httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    router.get(CDRS_URL).mock(return_value=response)
    await expect_error(make_client(http, max_body_bytes=100_000).get(CDRS_URL), "invalid_response")


# --- client lifecycle ----------------------------------------------------------------------------


async def test_injected_http_client_is_left_open(http: httpx.AsyncClient) -> None:
    async with make_client(http):
        pass
    assert not http.is_closed


async def test_own_http_client_is_closed() -> None:
    client = OcpiClient(token=TOKEN)
    async with client:
        pass
    assert client._http.is_closed


# --- pagination ----------------------------------------------------------------------------------


class FakeListServer:
    """A Sender list endpoint that pages with `offset`/`limit`, capped at `x_limit`."""

    def __init__(self, items: list[dict[str, Any]], *, x_limit: int, base: str = CDRS_URL) -> None:
        self.items = items
        self.x_limit = x_limit
        self.base = base
        self.offsets: list[int] = []
        self.after_call: Callable[[FakeListServer], None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        offset = int(params.get("offset", "0"))
        limit = min(int(params.get("limit", str(self.x_limit))), self.x_limit)
        page = self.items[offset : offset + limit]
        following = offset + len(page)
        link = None
        if following < len(self.items):
            link = build_link(self.base, PageParams(), next_offset=following, limit=limit)
        headers = pagination_headers(len(self.items), self.x_limit, link)
        self.offsets.append(offset)
        if self.after_call is not None:
            self.after_call(self)
        return httpx.Response(200, json=envelope(page), headers=headers)


def items(count: int) -> list[dict[str, Any]]:
    return [{"id": str(index)} for index in range(count)]


async def collect(client: OcpiClient, url: str = CDRS_URL, **kwargs: Any) -> list[Page]:
    return [page async for page in client.iter_pages(url, **kwargs)]


async def test_iter_pages_follows_link_with_server_limit_below_requested(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    server = FakeListServer(items(5), x_limit=2)
    route = router.get(CDRS_URL).mock(side_effect=server)
    client = make_client(http)

    pages = await collect(client, params=PageParams(date_from=datetime(2024, 1, 1, tzinfo=UTC), limit=100))

    assert [[item["id"] for item in page.items] for page in pages] == [["0", "1"], ["2", "3"], ["4"]]
    assert server.offsets == [0, 2, 4]
    assert [page.limit for page in pages] == [2, 2, 2]
    assert [page.total_count for page in pages] == [5, 5, 5]
    assert pages[-1].next_url is None and pages[0].next_url == pages[1].url
    assert route.calls[0].request.url.params["limit"] == "100"
    assert route.calls[1].request.url.params["limit"] == "2"
    request_ids = [call.request.headers["X-Request-ID"] for call in route.calls]
    assert request_ids == [page.request_id for page in pages] and len(set(request_ids)) == 3
    assert all(call.request.headers["OCPI-to-party-id"] == "CPO" for call in route.calls)


async def test_iter_pages_single_page_and_missing_data(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    router.get(CDRS_URL).mock(return_value=httpx.Response(200, json={"status_code": 1000}))
    pages = await collect(make_client(http))
    assert len(pages) == 1 and pages[0].items == [] and pages[0].total_count is None


async def test_iter_pages_keeps_invalid_items_raw(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(CDRS_URL).mock(return_value=ok([{"id": "1"}, "junk", {"id": None}]))
    pages = await collect(make_client(http))
    assert pages[0].items == [{"id": "1"}, "junk", {"id": None}]


async def test_iter_pages_refuses_link_to_another_host(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    link = '<https://evil.example.net/steal?offset=2>; rel="next"'
    router.get(CDRS_URL).mock(return_value=ok(items(2), Link=link))
    evil = router.get(url__startswith="https://evil.example.net").mock(return_value=ok([]))
    error = await expect_error(collect(make_client(http)), "invalid_response")
    assert "another origin" in error.message and not evil.called


@pytest.mark.parametrize(
    "target",
    [
        "http://cpo.example.com/ocpi/2.2.1/cdrs?offset=2",  # scheme downgrade
        "https://cpo.example.com:8443/ocpi/2.2.1/cdrs?offset=2",  # other port
        "https://user:pw@cpo.example.com/ocpi/2.2.1/cdrs?offset=2",  # user info
        "//evil.example.net/cdrs?offset=2",  # scheme-relative
        "ftp://cpo.example.com/cdrs",
    ],
)
async def test_iter_pages_refuses_other_origins(
    http: httpx.AsyncClient, router: respx.MockRouter, target: str
) -> None:
    router.get(CDRS_URL).mock(return_value=ok(items(2), Link=f'<{target}>; rel="next"'))
    await expect_error(collect(make_client(http)), "invalid_response")
    assert len(router.calls) == 1


async def test_iter_pages_resolves_relative_link_on_same_origin(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("offset") == "2":
            return ok(items(1))
        return ok(items(2), Link='</ocpi/2.2.1/cdrs?offset=2&limit=2>; rel="next"')

    router.get(CDRS_URL).mock(side_effect=serve)
    pages = await collect(make_client(http))
    assert pages[1].url == f"{CDRS_URL}?offset=2&limit=2"


async def test_iter_pages_malformed_link(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(CDRS_URL).mock(return_value=ok(items(2), Link=f"{CDRS_URL}?offset=2; rel=next"))
    await expect_error(collect(make_client(http)), "invalid_response")


async def test_iter_pages_data_not_a_list(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(CDRS_URL).mock(return_value=ok({"id": "1"}))
    await expect_error(collect(make_client(http)), "invalid_response")


async def test_iter_pages_looping_link_is_refused(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        back_to = 2 if offset == 4 else offset + 2  # page 3 links back to page 2
        return ok(items(2), Link=f'<{CDRS_URL}?limit=2&offset={back_to}>; rel="next"')

    router.get(CDRS_URL).mock(side_effect=serve)
    seen: list[Page] = []
    with pytest.raises(PartnerCallError) as caught:
        async for page in make_client(http).iter_pages(CDRS_URL):
            seen.append(page)
    assert caught.value.error_class == "invalid_response" and "loops" in caught.value.message
    assert len(seen) == 3 and len(router.calls) == 3


async def test_iter_pages_bounded_by_max_pages(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    def serve(request: httpx.Request) -> httpx.Response:  # an endless list
        offset = int(request.url.params.get("offset", "0"))
        return ok(items(1), Link=f'<{CDRS_URL}?offset={offset + 1}>; rel="next"')

    router.get(CDRS_URL).mock(side_effect=serve)
    await expect_error(collect(make_client(http), max_pages=5), "invalid_response")
    assert len(router.calls) == 5


async def test_iter_pages_page_size_cap(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    router.get(CDRS_URL).mock(return_value=ok(items(500)))
    await expect_error(collect(make_client(http), max_page_size_bytes=1000), "invalid_response")


async def test_total_count_drop_refetches_from_lower_offset(
    http: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    server = FakeListServer(items(10), x_limit=3)

    def drop_one_after_first_page(srv: FakeListServer) -> None:
        if len(srv.offsets) == 1:  # object "1" is updated past date_to while the client crawls
            del srv.items[1]

    server.after_call = drop_one_after_first_page
    router.get(CDRS_URL).mock(side_effect=server)

    pages = await collect(make_client(http))

    seen = [item["id"] for page in pages for item in page.items]
    assert set(seen) == {str(index) for index in range(10)}  # "3" slid to offset 2: not missed
    assert server.offsets == [0, 3, 2, 5, 8]
    assert [page.total_count for page in pages] == [10, 9, 9, 9]


async def test_total_count_rise_needs_no_action(http: httpx.AsyncClient, router: respx.MockRouter) -> None:
    server = FakeListServer(items(4), x_limit=2)

    def add_one(srv: FakeListServer) -> None:
        if len(srv.offsets) == 1:
            srv.items.append({"id": "new"})

    server.after_call = add_one
    router.get(CDRS_URL).mock(side_effect=server)
    pages = await collect(make_client(http))
    assert [item["id"] for page in pages for item in page.items] == ["0", "1", "2", "3", "new"]
    assert server.offsets == [0, 2, 4]
