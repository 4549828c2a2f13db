"""Pushing a client-owned object to a partner and judging the answer: the policy half of outbound delivery.

Spec "Offline behaviour" (transport_and_format.asciidoc): messages are not queued and replayed; a retry
re-sends the object's *current* state (an idempotent PUT). This module knows nothing of the ledger that
decides *what* to send; it takes everything as arguments (import rule of `partners`).

How an answer is judged (`classify`), deciding on the OCPI status as well as the HTTP status::

    no HTTP answer (transport error, timeout)          TRANSIENT
    HTTP 401 / 403                                      CREDENTIALS  (stop pushing to the partner)
    HTTP 408, 429, 5xx                                  TRANSIENT    (429 honours Retry-After)
    any other HTTP 4xx / 3xx / 1xx                      PERMANENT
    HTTP 2xx, no OCPI status (not JSON, no envelope)    TRANSIENT
    HTTP 2xx + OCPI 1xxx                                SUCCESS
    HTTP 2xx + OCPI 2xxx                                PERMANENT    (the data or the request is wrong)
    HTTP 2xx + OCPI 3001, 3002, 3003                    PERMANENT    (configuration fault)
    HTTP 2xx + OCPI 4001 (hub: unknown receiver)        PERMANENT
    HTTP 2xx + OCPI other 3xxx / 4xxx (3000, 4002 ...)  TRANSIENT
    HTTP 2xx + anything else                            PERMANENT

Inside one attempt, `push` retries a few times quickly (tenacity) on the outcomes a second try may cure at
once: no answer, HTTP 5xx / 408, HTTP 429 whose Retry-After fits the short wait. Everything longer is the
caller's persisted backoff (`retry_delay`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ocpi.client import RETRY_AFTER, OcpiCallResult, OcpiClient, parse_retry_after
from ocpi.errors import PartnerCallError
from ocpi.status import is_success
from ocpi.types import utcnow

PERMANENT_OCPI = frozenset({3001, 3002, 3003, 4001})
TRANSIENT_HTTP = frozenset({408, 429})
CREDENTIALS_HTTP = frozenset({401, 403})
Party = tuple[str, str]


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    TRANSIENT = "TRANSIENT"
    PERMANENT = "PERMANENT"
    CREDENTIALS = "CREDENTIALS"


def classify(http_status: int | None, ocpi_status: int | None) -> Outcome:
    """The outcome of one call from what was observed (see the module docstring for the table)."""
    if http_status is None:
        return Outcome.TRANSIENT
    if http_status in CREDENTIALS_HTTP:
        return Outcome.CREDENTIALS
    if http_status in TRANSIENT_HTTP or http_status >= 500:
        return Outcome.TRANSIENT
    if not 200 <= http_status < 300:
        return Outcome.PERMANENT
    if ocpi_status is None:
        return Outcome.TRANSIENT
    if is_success(ocpi_status):
        return Outcome.SUCCESS
    if 2000 <= ocpi_status < 3000 or ocpi_status in PERMANENT_OCPI:
        return Outcome.PERMANENT
    if 3000 <= ocpi_status < 5000:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


@dataclass(frozen=True)
class BackoffPolicy:
    """Persisted backoff between attempts: `base * 2**(attempt-1)` capped, times a jitter in [0.5, 1]."""

    base_seconds: float = 30.0
    cap_seconds: float = 1800.0
    retry_after_cap_seconds: float = 3600.0
    max_attempts: int = 12


def backoff_delay(attempts: int, policy: BackoffPolicy, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1-based), jittered so partners are not hit
    in lock step when they come back."""
    exponent = min(max(attempts, 1) - 1, 32)
    ceiling = min(policy.cap_seconds, policy.base_seconds * (2**exponent))
    return ceiling * (0.5 + 0.5 * rng())


def retry_delay(
    attempts: int, retry_after: float | None, policy: BackoffPolicy, rng: Callable[[], float] = random.random
) -> float:
    """The backoff, but never sooner than the partner's `Retry-After` (itself capped)."""
    delay = backoff_delay(attempts, policy, rng)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, policy.retry_after_cap_seconds))
    return delay


@dataclass(frozen=True)
class ShortRetry:
    """Retries inside one attempt: `retries` more tries, waiting `wait_seconds * 2**n`, and honouring a
    429's Retry-After only when it is at most `retry_after_cap_seconds` (longer: the attempt ends)."""

    retries: int = 2
    wait_seconds: float = 0.2
    retry_after_cap_seconds: float = 5.0


@dataclass(frozen=True)
class PushResult:
    """What one attempt (with its short retries) came to."""

    outcome: Outcome
    http_status: int | None
    ocpi_status: int | None
    message: str | None
    request_id: str | None
    error_class: str | None
    retry_after: float | None
    tries: int
    duration_ms: float


def object_url(endpoint_url: str, country_code: str, party_id: str, object_id: str) -> str:
    """`{endpoint_url}{country_code}/{party_id}/{id}` (spec "Client Owned Object Push"), segments escaped."""
    parts = (quote(country_code, safe=""), quote(party_id, safe=""), quote(object_id, safe=""))
    return endpoint_url.rstrip("/") + "/" + "/".join(parts)


def pick_to_party(roles: Sequence[tuple[str, str, str]]) -> Party | None:
    """The party a push is addressed to: a hub's own HUB role (broadcast push), else its CPO role, else the
    first role. `roles` are (role, country_code, party_id)."""
    for wanted in ("HUB", "CPO"):
        for role, country_code, party_id in roles:
            if role == wanted:
                return country_code, party_id
    return (roles[0][1], roles[0][2]) if roles else None


class _Again(Exception):
    """An answer worth a quick second try (HTTP 5xx / 408, or 429 with a short Retry-After)."""

    def __init__(self, result: OcpiCallResult, retry_after: float | None) -> None:
        super().__init__(result.http_status)
        self.result = result
        self.retry_after = retry_after


def _short_retryable(exc: BaseException) -> bool:
    if isinstance(exc, PartnerCallError):
        return exc.error_class in ("transport", "timeout")
    return isinstance(exc, _Again)


def _wait_seconds(policy: ShortRetry, tries_done: int, exc: BaseException | None) -> float:
    delay = policy.wait_seconds * (2 ** (tries_done - 1))
    if isinstance(exc, _Again) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    return delay


def _first_wait(exc: BaseException, policy: ShortRetry) -> float:
    return _wait_seconds(policy, 1, exc)


def _short_wait(policy: ShortRetry, done: int = 0) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return _wait_seconds(policy, done + state.attempt_number, exc)

    return wait


def _retry_after(result: OcpiCallResult) -> float | None:
    return parse_retry_after(result.headers.get(RETRY_AFTER), now=utcnow())


def _message(result: OcpiCallResult) -> str:
    """The partner's own words when it gave some (`status_message`), else what was observed."""
    if result.status_message:
        return result.status_message
    if not 200 <= result.http_status < 300:
        return f"HTTP {result.http_status}"
    return f"HTTP {result.http_status} without an OCPI status_code"


async def push(
    client: OcpiClient,
    url: str,
    body: Any,
    *,
    short_retry: ShortRetry = ShortRetry(),
    method: str = "PUT",
) -> PushResult:
    """Send `body` to `url` (one attempt, with short retries) and judge the last answer. Never raises a
    `PartnerCallError`: every failure comes back as a `PushResult`."""
    started = time.perf_counter()
    tries = 0

    async def once() -> OcpiCallResult:
        nonlocal tries
        tries += 1
        result = await client.request(method, url, json=body, raise_on_error=False)
        status = result.http_status
        if status in (408, 429) or status >= 500:
            retry_after = _retry_after(result) if status in (429, 503) else None
            if (retry_after or 0) <= short_retry.retry_after_cap_seconds:
                raise _Again(result, retry_after)
        return result

    retry_after = None
    try:
        try:
            result = await once()  # the common case needs no retry machinery
        except (PartnerCallError, _Again) as first:
            if short_retry.retries <= 0 or not _short_retryable(first):
                raise
            await asyncio.sleep(_first_wait(first, short_retry))
            retrying = AsyncRetrying(
                stop=stop_after_attempt(short_retry.retries),
                wait=_short_wait(short_retry, done=1),
                retry=retry_if_exception(_short_retryable),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    result = await once()
    except _Again as again:
        result, retry_after = again.result, again.retry_after
    except PartnerCallError as exc:
        return PushResult(
            outcome=classify(exc.http_status, exc.ocpi_status),
            http_status=exc.http_status,
            ocpi_status=exc.ocpi_status,
            message=exc.message,
            request_id=exc.request_id,
            error_class=exc.error_class,
            retry_after=exc.retry_after,
            tries=tries,
            duration_ms=_elapsed_ms(started),
        )
    if retry_after is None and result.http_status in (429, 503):
        retry_after = _retry_after(result)  # too long for a short retry: for the persisted backoff
    outcome = classify(result.http_status, result.ocpi_status)
    return PushResult(
        outcome=outcome,
        http_status=result.http_status,
        ocpi_status=result.ocpi_status,
        message=None if outcome == Outcome.SUCCESS else _message(result),
        request_id=result.request_id,
        error_class=_error_class(result, outcome),
        retry_after=retry_after,
        tries=tries,
        duration_ms=_elapsed_ms(started),
    )


def _error_class(result: OcpiCallResult, outcome: Outcome) -> str | None:
    if outcome == Outcome.SUCCESS:
        return None
    if not 200 <= result.http_status < 300:
        return "http"
    return "invalid_response" if result.ocpi_status is None else "ocpi"


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
