"""Outbound delivery policy: how answers are classified, the persisted backoff, and the short retries inside
one attempt (httpx.MockTransport stands in for the partner: this is a client unit test)."""

from __future__ import annotations

import httpx
import pytest

from ocpi.client import OcpiClient
from partners.delivery import (
    BackoffPolicy,
    Outcome,
    ShortRetry,
    backoff_delay,
    classify,
    object_url,
    pick_to_party,
    push,
    retry_delay,
)


@pytest.mark.parametrize(
    ("http_status", "ocpi_status", "expected"),
    [
        (None, None, Outcome.TRANSIENT),  # refused, reset, timeout: no answer
        (200, 1000, Outcome.SUCCESS),
        (201, 1000, Outcome.SUCCESS),
        (200, 1901, Outcome.SUCCESS),  # custom success range
        (200, None, Outcome.TRANSIENT),  # HTTP 200 but not an envelope
        (200, 2000, Outcome.PERMANENT),
        (200, 2001, Outcome.PERMANENT),
        (200, 2004, Outcome.PERMANENT),
        (200, 2901, Outcome.PERMANENT),
        (200, 3000, Outcome.TRANSIENT),
        (200, 3001, Outcome.PERMANENT),
        (200, 3002, Outcome.PERMANENT),
        (200, 3003, Outcome.PERMANENT),
        (200, 3901, Outcome.TRANSIENT),
        (200, 4000, Outcome.TRANSIENT),
        (200, 4001, Outcome.PERMANENT),  # hub: unknown receiver
        (200, 4002, Outcome.TRANSIENT),  # hub: timeout on the forwarded request
        (200, 4003, Outcome.TRANSIENT),  # hub: receiver not connected
        (200, 9999, Outcome.PERMANENT),
        (400, 2001, Outcome.PERMANENT),
        (404, None, Outcome.PERMANENT),
        (405, None, Outcome.PERMANENT),
        (400, 3000, Outcome.PERMANENT),  # an HTTP 4xx decides
        (401, 2000, Outcome.CREDENTIALS),
        (403, None, Outcome.CREDENTIALS),
        (408, None, Outcome.TRANSIENT),
        (429, None, Outcome.TRANSIENT),
        (500, 3000, Outcome.TRANSIENT),
        (502, None, Outcome.TRANSIENT),
        (503, 2001, Outcome.TRANSIENT),
        (302, None, Outcome.PERMANENT),  # redirects are never followed
    ],
)
def test_classification(http_status: int | None, ocpi_status: int | None, expected: Outcome) -> None:
    assert classify(http_status, ocpi_status) == expected


def test_backoff_grows_exponentially_to_the_cap_with_jitter() -> None:
    policy = BackoffPolicy(base_seconds=30, cap_seconds=1800)
    top = [backoff_delay(n, policy, rng=lambda: 1.0) for n in range(1, 10)]
    assert top == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    bottom = [backoff_delay(n, policy, rng=lambda: 0.0) for n in range(1, 4)]
    assert bottom == [15, 30, 60]
    assert backoff_delay(10_000, policy, rng=lambda: 1.0) == 1800  # no overflow
    assert backoff_delay(0, policy, rng=lambda: 1.0) == 30


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = BackoffPolicy(base_seconds=1, cap_seconds=10, retry_after_cap_seconds=300)
    assert retry_delay(1, 120, policy, rng=lambda: 1.0) == 120
    assert retry_delay(1, 10_000, policy, rng=lambda: 1.0) == 300
    assert retry_delay(5, 2, policy, rng=lambda: 1.0) == 10  # the backoff is longer
    assert retry_delay(1, None, policy, rng=lambda: 1.0) == 1


def test_object_url_and_addressee() -> None:
    assert object_url("https://cpo.example/ocpi/2.2.1/tokens/", "NL", "EMS", "04 A/B") == (
        "https://cpo.example/ocpi/2.2.1/tokens/NL/EMS/04%20A%2FB"
    )
    assert object_url("https://cpo.example/tokens", "NL", "EMS", "X") == "https://cpo.example/tokens/NL/EMS/X"
    assert pick_to_party([("CPO", "DE", "ABC"), ("HUB", "NL", "HUB")]) == ("NL", "HUB")
    assert pick_to_party([("EMSP", "BE", "XYZ"), ("CPO", "DE", "ABC")]) == ("DE", "ABC")
    assert pick_to_party([("OTHER", "BE", "XYZ")]) == ("BE", "XYZ")
    assert pick_to_party([]) is None


def _client(handler: httpx.MockTransport) -> OcpiClient:
    return OcpiClient(
        httpx.AsyncClient(transport=handler),
        token="secret-token",
        from_party=("NL", "EMS"),
        to_party=("DE", "CPO"),
    )


def _scripted(answers: list[httpx.Response | Exception], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


OK = httpx.Response(200, json={"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"})
FAST = ShortRetry(retries=2, wait_seconds=0.001, retry_after_cap_seconds=0.05)


async def test_short_retries_cure_a_passing_5xx_within_one_attempt() -> None:
    seen: list[httpx.Request] = []
    client = _client(_scripted([httpx.Response(500), httpx.ConnectError("refused"), OK], seen))
    result = await push(client, "http://cpo/tokens/NL/EMS/1", {"uid": "1"}, short_retry=FAST)
    assert (result.outcome, result.tries, result.http_status) == (Outcome.SUCCESS, 3, 200)
    assert seen[0].headers["OCPI-to-party-id"] == "CPO" and seen[0].headers["OCPI-from-party-id"] == "EMS"
    assert len({r.headers["X-Request-ID"] for r in seen}) == 3


async def test_a_long_retry_after_ends_the_attempt_for_the_persisted_backoff() -> None:
    seen: list[httpx.Request] = []
    client = _client(_scripted([httpx.Response(429, headers={"Retry-After": "120"})], seen))
    result = await push(client, "http://cpo/tokens/NL/EMS/1", {}, short_retry=FAST)
    assert (result.outcome, result.tries, result.retry_after) == (Outcome.TRANSIENT, 1, 120)


async def test_permanent_and_credentials_answers_are_not_retried() -> None:
    for answer, outcome in [
        (
            httpx.Response(200, json={"status_code": 2001, "status_message": "bad", "timestamp": "x"}),
            Outcome.PERMANENT,
        ),
        (httpx.Response(401), Outcome.CREDENTIALS),
        (httpx.Response(404), Outcome.PERMANENT),
    ]:
        seen: list[httpx.Request] = []
        result = await push(_client(_scripted([answer], seen)), "http://cpo/t/NL/EMS/1", {}, short_retry=FAST)
        assert (result.outcome, len(seen)) == (outcome, 1)
    assert result.message and "404" in result.message


async def test_short_retries_give_up_and_report_the_last_failure() -> None:
    seen: list[httpx.Request] = []
    client = _client(_scripted([httpx.ConnectError("refused")], seen))
    result = await push(client, "http://cpo/tokens/NL/EMS/1", {}, short_retry=FAST)
    assert (result.outcome, result.tries, result.error_class, result.http_status) == (
        Outcome.TRANSIENT,
        3,
        "transport",
        None,
    )
    assert "secret-token" not in (result.message or "")
