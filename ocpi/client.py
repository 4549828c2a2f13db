"""The async OCPI client: the one IO seam for calls to partners (spec transport_and_format.asciidoc).

`OcpiClient` wraps an injected, shared `httpx.AsyncClient` (pooling, TLS and default timeouts are its
business) and is built per call context: one partner, one credentials token, one pair of parties. Each
request carries:

- `Authorization: Token <base64(token)>` ("Authorization header"; raw when `base64_token=False`);
- a new `X-Request-ID` and the context's `X-Correlation-ID` ("Unique message IDs");
- the `OCPI-from-*` / `OCPI-to-*` routing headers on calls to functional modules ("Message Routing
  Headers"); the configuration modules (versions, credentials, hubclientinfo) pass `routing=False`;
- `Content-Type: application/json` when there is a body ("Request format").

Every answer is unwrapped from the response envelope and either returned as an `OcpiCallResult` or raised
as a `PartnerCallError` whose `error_class` says what went wrong:

    "timeout"           no answer in time (connect, read, write or pool timeout)
    "transport"         no HTTP answer at all (DNS, refused, TLS, protocol error, bad URL)
    "http"              HTTP status outside 2xx; `ocpi_status` if the body was an envelope; `retry_after`
    "invalid_response"  not JSON, no `status_code`, body over the size cap, unusable pagination headers
    "ocpi"              HTTP 2xx but an OCPI status outside 1xxx

The client never retries (callers own the policy, spec "Offline behaviour" forbids queueing), never follows
redirects, and never logs or echoes the credentials token.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

from ocpi import headers as h
from ocpi.auth import encode_token
from ocpi.errors import PartnerCallError
from ocpi.pagination import PageParams, lower_offset, parse_next_link, replace_query_params
from ocpi.status import is_success
from ocpi.types import format_datetime, utcnow

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES: Final = 20 * 1024 * 1024
DEFAULT_MAX_PAGES: Final = 10_000
RETRY_AFTER: Final = "Retry-After"
RESULT_HEADERS: Final = (
    h.REQUEST_ID,
    h.CORRELATION_ID,
    h.TOTAL_COUNT,
    h.LIMIT,
    h.LINK,
    h.LOCATION,
    *h.ROUTING_HEADERS,
    RETRY_AFTER,
    "Date",
    "Content-Type",
)
_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]+)?")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Party = tuple[str, str]
"""(country_code, party_id)"""
QueryValue = str | int | datetime
Params = PageParams | Mapping[str, QueryValue | None] | None
_Origin = tuple[str, str, int, str | None, str | None]


@dataclass(frozen=True, slots=True)
class OcpiCallResult:
    """What a partner answered to one request (the envelope unwrapped)."""

    http_status: int
    ocpi_status: int | None
    status_message: str | None
    data: Any
    headers: Mapping[str, str]  # only RESULT_HEADERS that were present, under their canonical names
    request_id: str  # the X-Request-ID we sent
    duration_ms: float

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.ocpi_status is not None and is_success(self.ocpi_status)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a paginated list GET. `items` are the raw JSON values of `data`: validate each alone."""

    items: list[Any]
    total_count: int | None  # X-Total-Count, None when absent or unreadable
    limit: int | None  # X-Limit: the server's maximum page size
    next_url: str | None  # absolute URL of Link rel="next", already checked to be on the same origin
    request_id: str
    url: str  # the URL this page was fetched from


class OcpiClient:
    """Calls one partner on behalf of one of our parties (see the module docstring for the rules)."""

    def __init__(
        self,
        http_client: httpx.AsyncClient | None = None,
        *,
        token: str,
        base64_token: bool = True,
        from_party: Party | None = None,
        to_party: Party | None = None,
        correlation_id: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        if not token:
            raise ValueError("a credentials token is required")
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be > 0")
        self._owns_http = http_client is None  # only tests and scripts; the app injects a shared client
        self._http = http_client if http_client is not None else httpx.AsyncClient()
        self._authorization = encode_token(token, base64_encode=base64_token)
        self._secrets = tuple(s for s in {token, self._authorization.partition(" ")[2]} if len(s) >= 6)
        self.from_party = from_party
        self.to_party = to_party
        self.correlation_id = correlation_id or str(uuid.uuid4())
        self.max_body_bytes = max_body_bytes
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the token
        return f"OcpiClient(from={self.from_party}, to={self.to_party}, correlation_id={self.correlation_id})"

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it; an injected one is left open."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> OcpiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- configuration modules (never routed) ---------------------------------------------------

    async def get_versions(self, url: str) -> list[dict[str, Any]]:
        """GET the versions endpoint: the list of `{"version", "url"}` objects (raw dicts)."""
        result = await self.get(url, routing=False)
        versions: Any = result.data
        if not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
            raise self._invalid(result, "versions data is not a list of objects")
        return versions

    async def get_version_details(self, url: str) -> dict[str, Any]:
        """GET a version details endpoint: `{"version", "endpoints": [...]}` (raw dict)."""
        result = await self.get(url, routing=False)
        details: Any = result.data
        if not isinstance(details, dict):
            raise self._invalid(result, "version details data is not an object")
        return details

    # --- plain calls ------------------------------------------------------------------------------

    async def get(
        self, url: str, params: Params = None, *, routing: bool = True, raise_on_error: bool = True
    ) -> OcpiCallResult:
        return await self.request("GET", url, params=params, routing=routing, raise_on_error=raise_on_error)

    async def put(
        self, url: str, json: Any, *, routing: bool = True, raise_on_error: bool = True
    ) -> OcpiCallResult:
        return await self.request("PUT", url, json=json, routing=routing, raise_on_error=raise_on_error)

    async def patch(
        self, url: str, json: Any, *, routing: bool = True, raise_on_error: bool = True
    ) -> OcpiCallResult:
        return await self.request("PATCH", url, json=json, routing=routing, raise_on_error=raise_on_error)

    async def post(
        self, url: str, json: Any, *, routing: bool = True, raise_on_error: bool = True
    ) -> OcpiCallResult:
        return await self.request("POST", url, json=json, routing=routing, raise_on_error=raise_on_error)

    async def delete(self, url: str, *, routing: bool = True, raise_on_error: bool = True) -> OcpiCallResult:
        return await self.request("DELETE", url, routing=routing, raise_on_error=raise_on_error)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        json: Any = None,
        routing: bool = True,
        raise_on_error: bool = True,
        max_body_bytes: int | None = None,
    ) -> OcpiCallResult:
        """Send one request. `json` must be JSON-ready (None: no body).

        With `raise_on_error=False`, "http", "ocpi" and unreadable-body outcomes come back as a result
        (`ok` False) instead of an exception; timeouts, transport errors and the size cap still raise.
        """
        request_id = str(uuid.uuid4())
        target = with_query(url, params)
        content = None if json is None else _dump_json(json)
        started = time.perf_counter()
        response, body = await self._send(method, target, content, routing, request_id, max_body_bytes)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        result, error = self._interpret(method, target, response, body, request_id, duration_ms)
        if logger.isEnabledFor(logging.DEBUG):  # `_safe_url` parses the URL: not on every call for nothing
            logger.debug(
                "OCPI %s %s -> HTTP %s OCPI %s in %.0f ms (request_id=%s correlation_id=%s)",
                method,
                _safe_url(target),
                result.http_status,
                result.ocpi_status,
                duration_ms,
                request_id,
                self.correlation_id,
            )
        if error is not None and raise_on_error:
            raise error
        return result

    # --- pagination -------------------------------------------------------------------------------

    async def iter_pages(
        self,
        url: str,
        params: Params = None,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_page_size_bytes: int | None = None,
        routing: bool = True,
    ) -> AsyncIterator[Page]:
        """Crawl a paginated list GET page by page, following `Link: <...>; rel="next"`.

        - The page size is whatever the server returns (`X-Limit` may be below the requested limit).
        - Stops when a page has no next link. A next link to another scheme, host or port than `url`
          (or one with user info) is refused: it would carry our token elsewhere.
        - When `X-Total-Count` drops between pages, objects before the current offset have left the
          result set and the rest shifted down: the page is discarded and fetched again with its
          offset lowered by the drop (spec "Paginated Response": redo the GET with offset - 1).
        - At most `max_pages` requests; a link back to a URL already fetched is refused.
        Every refusal raises `PartnerCallError(error_class="invalid_response")`: the crawl is incomplete.
        """
        current = with_query(url, params)
        try:
            origin = _origin(current)
        except ValueError as exc:
            raise PartnerCallError(str(exc), error_class="transport") from exc
        visited: set[str] = set()
        previous_total: int | None = None
        for _ in range(max_pages):
            visited.add(_normalise(current))
            page = await self._fetch_page(current, origin, routing, max_page_size_bytes)
            total = page.total_count
            if previous_total is not None and total is not None and total < previous_total:
                redo = lower_offset(current, previous_total - total)
                previous_total = total
                if redo is not None:
                    logger.info(
                        "X-Total-Count dropped to %s: fetching %s again from a lower offset (request_id=%s)",
                        total,
                        _safe_url(current),
                        page.request_id,
                    )
                    visited.discard(_normalise(current))
                    current = redo
                    continue
            previous_total = total if total is not None else previous_total
            yield page
            if page.next_url is None:
                return
            if _normalise(page.next_url) in visited:
                raise PartnerCallError(
                    f"Link rel=next loops back to {_safe_url(page.next_url)}",
                    error_class="invalid_response",
                    request_id=page.request_id,
                )
            current = page.next_url
        raise PartnerCallError(
            f"pagination of {_safe_url(url)} not finished after {max_pages} requests",
            error_class="invalid_response",
        )

    async def _fetch_page(self, url: str, origin: _Origin, routing: bool, max_bytes: int | None) -> Page:
        result = await self.request("GET", url, routing=routing, max_body_bytes=max_bytes)
        data = [] if result.data is None else result.data
        if not isinstance(data, list):
            raise self._invalid(result, "paginated data is not a list")
        try:
            target = parse_next_link(result.headers.get(h.LINK), strict=True)
        except ValueError as exc:
            raise self._invalid(result, f"malformed Link header: {exc}") from exc
        next_url = None if target is None else urljoin(url, target)
        if next_url is not None:
            try:
                same_origin = _origin(next_url) == origin
            except ValueError:
                same_origin = False
            if not same_origin:
                raise self._invalid(result, f"Link rel=next to another origin refused: {_safe_url(next_url)}")
        return Page(
            items=data,
            total_count=_header_int(result.headers.get(h.TOTAL_COUNT)),
            limit=_header_int(result.headers.get(h.LIMIT)),
            next_url=next_url,
            request_id=result.request_id,
            url=url,
        )

    # --- internals --------------------------------------------------------------------------------

    def _headers(self, request_id: str, routing: bool, has_body: bool) -> dict[str, str]:
        result = {
            h.AUTHORIZATION: self._authorization,
            h.REQUEST_ID: request_id,
            h.CORRELATION_ID: self.correlation_id,
            "Accept": "application/json",
        }
        if has_body:
            result["Content-Type"] = "application/json"
        if routing and self.from_party is not None:
            result[h.FROM_COUNTRY_CODE], result[h.FROM_PARTY_ID] = self.from_party
        if routing and self.to_party is not None:  # no `to` party: an open routing request
            result[h.TO_COUNTRY_CODE], result[h.TO_PARTY_ID] = self.to_party
        return result

    async def _send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        routing: bool,
        request_id: str,
        max_body_bytes: int | None,
    ) -> tuple[httpx.Response, bytes]:
        def fail(error_class: str, what: str, exc: Exception, status: int | None = None) -> PartnerCallError:
            message = self._redact(f"{what} on {method} {_safe_url(url)}: {type(exc).__name__}: {exc}")
            return PartnerCallError(
                message, error_class=error_class, http_status=status, request_id=request_id
            )

        headers = self._headers(request_id, routing, content is not None)
        try:
            if self._timeout is None:
                request = self._http.build_request(method, url, content=content, headers=headers)
            else:
                request = self._http.build_request(
                    method, url, content=content, headers=headers, timeout=self._timeout
                )
            response = await self._http.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise fail("timeout", "timeout", exc) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise fail("transport", "transport error", exc) from exc
        status = response.status_code
        try:
            body = await _read_capped(response, max_body_bytes or self.max_body_bytes)
        except _TooLarge as exc:
            raise PartnerCallError(
                f"response body of {method} {_safe_url(url)} over {exc.limit} bytes",
                error_class="invalid_response",
                http_status=status,
                request_id=request_id,
            ) from None
        except httpx.TimeoutException as exc:
            raise fail("timeout", "timeout reading the body", exc, status) from exc
        except httpx.DecodingError as exc:
            raise fail("invalid_response", "undecodable body", exc, status) from exc
        except httpx.HTTPError as exc:
            raise fail("transport", "transport error reading the body", exc, status) from exc
        finally:
            await response.aclose()
        return response, body

    def _interpret(
        self,
        method: str,
        url: str,
        response: httpx.Response,
        body: bytes,
        request_id: str,
        duration_ms: float,
    ) -> tuple[OcpiCallResult, PartnerCallError | None]:
        status = response.status_code
        payload = _load_json(body)
        ocpi_status, message = _envelope_fields(payload)
        result = OcpiCallResult(
            http_status=status,
            ocpi_status=ocpi_status,
            status_message=message,
            data=payload.get("data") if isinstance(payload, dict) else None,
            headers={name: response.headers[name] for name in RESULT_HEADERS if name in response.headers},
            request_id=request_id,
            duration_ms=duration_ms,
        )
        where = f"{method} {_safe_url(url)}"
        if not 200 <= status < 300:
            detail = message or _snippet(body) or response.reason_phrase
            retry_after = parse_retry_after(response.headers.get(RETRY_AFTER), now=_response_date(response))
            error = self._error(result, "http", f"HTTP {status} on {where}: {detail}", retry_after)
        elif ocpi_status is None:
            reason = "body is not JSON" if payload is _NOT_JSON else "no OCPI status_code in the body"
            error = self._error(result, "invalid_response", f"{reason} on {where}: {_snippet(body)}")
        elif not is_success(ocpi_status):
            error = self._error(result, "ocpi", f"OCPI {ocpi_status} on {where}: {message or ''}")
        else:
            error = None
        return result, error

    def _error(
        self, result: OcpiCallResult, error_class: str, message: str, retry_after: float | None = None
    ) -> PartnerCallError:
        return PartnerCallError(
            self._redact(message.strip()),
            error_class=error_class,
            http_status=result.http_status,
            ocpi_status=result.ocpi_status,
            request_id=result.request_id,
            retry_after=retry_after,
        )

    def _invalid(self, result: OcpiCallResult, message: str) -> PartnerCallError:
        return self._error(result, "invalid_response", message)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (RFC 9110: delay-seconds or an HTTP date).

    A date in the past gives 0; an unreadable value gives None.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def with_query(url: str, params: Params) -> str:
    """`url` with `params` set in its query string (DateTimes written as the spec does)."""
    if params is None:
        return url
    if isinstance(params, PageParams):
        updates: dict[str, str | None] = dict(params.to_query())
    else:
        updates = {key: _query_value(value) for key, value in params.items()}
    return replace_query_params(url, updates) if updates else url


def _query_value(value: QueryValue | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, read chunk by chunk and abandoned as soon as it exceeds `limit` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge(limit)
    body = bytearray()
    async for chunk in response.aiter_bytes():  # decompressed: a gzip bomb is cut off too
        body += chunk
        if len(body) > limit:
            raise _TooLarge(limit)
    return bytes(body)


_NOT_JSON: Final = object()


def _dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _envelope_fields(payload: Any) -> tuple[int | None, str | None]:
    """(status_code, status_message) of an envelope; status_code None when there is none usable."""
    if not isinstance(payload, dict):
        return None, None
    code = payload.get("status_code")
    if isinstance(code, str) and code.strip().isdigit():  # some peers send "1000"
        code = int(code)
    message = payload.get("status_message")
    message = message if isinstance(message, str) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return None, message
    return code, message


def _snippet(body: bytes, size: int = 200) -> str:
    return body[:size].decode("utf-8", errors="replace").strip()


def _response_date(response: httpx.Response) -> datetime:
    """The server's `Date`, the reference for a `Retry-After` date (clock skew cancels out)."""
    try:
        date = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return utcnow()
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


def _header_int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _origin(url: str) -> _Origin:
    """(scheme, host, port, user, password) of an absolute http(s) URL; ValueError otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {_safe_url(url)}")
    port = parts.port or _DEFAULT_PORTS[scheme]  # port raises ValueError when not a number
    return scheme, parts.hostname.lower(), port, parts.username, parts.password


def _normalise(url: str) -> str:
    """A URL key for loop detection: origin, path and sorted query parameters."""
    parts = urlsplit(url)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path or '/'}?{query}"


def _safe_url(url: str) -> str:
    """The URL for logs and messages: without user info, and cut to a sane length."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:200]
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()[:300]
