"""`partners.pull.crawl` against a fake Sender on loopback, with a recording sink: retries and their waits,
giving up without spinning, and the X-Total-Count drop rule across a resume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ocpi.client import OcpiClient
from ocpi.envelope import envelope
from ocpi.models.locations import Location
from partners.pull import CrawlResult, PulledPage, PullPolicy, crawl, is_transient
from tests.support import fake_cpo_sender as fake
from tests.support.servers import RunningServer, serve


class Sink:
    def __init__(self) -> None:
        self.pages: list[PulledPage[Any]] = []
        self.finished: CrawlResult | None = None
        self.failed: CrawlResult | None = None

    async def store_page(self, page: PulledPage[Any]) -> None:
        self.pages.append(page)

    async def finish(self, result: CrawlResult) -> None:
        self.finished = result

    async def fail(self, result: CrawlResult) -> None:
        self.failed = result


@pytest.fixture
def sender() -> Iterator[tuple[fake.SenderState, RunningServer]]:
    state = fake.SenderState(page_limit=10)
    state.objects["locations"] = [fake.location(i, evses=1) for i in range(1, 31)]
    with fake.running(state) as server:
        yield state, server


def client_for(http: httpx.AsyncClient, state: fake.SenderState) -> OcpiClient:
    return OcpiClient(http, token=state.token, from_party=("NL", "EMS"), to_party=("NL", "CPO"))


async def test_retry_waits_back_off_and_honour_retry_after(
    sender: tuple[fake.SenderState, RunningServer],
) -> None:
    state, server = sender
    state.fail[("locations", 10)] = [503, 503]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    sink = Sink()
    async with httpx.AsyncClient() as http:
        result = await crawl(
            client_for(http, state),
            f"{server.url}/ocpi/2.2.1/locations",
            parse=Location.model_validate,
            sink=sink,
            policy=PullPolicy(max_attempts=3, backoff_initial=1.0, backoff_max=10.0),
            sleep=sleep,
        )
    assert result.complete and result.retries == 2 and result.items == 30
    assert sink.finished is result and sink.failed is None
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0  # exponential, jittered
    assert [p.number for p in sink.pages] == [1, 2, 3]


async def test_gives_up_after_max_attempts_without_storing_more(
    sender: tuple[fake.SenderState, RunningServer],
) -> None:
    state, server = sender
    state.fail[("locations", 20)] = [500] * 10
    sink = Sink()
    async with httpx.AsyncClient() as http:
        result = await crawl(
            client_for(http, state),
            f"{server.url}/ocpi/2.2.1/locations",
            parse=Location.model_validate,
            sink=sink,
            policy=PullPolicy(max_attempts=2, backoff_initial=0.001),
        )
    assert not result.complete and result.pages == 2 and sink.finished is None and sink.failed is result
    assert result.next_url is not None and "offset=20" in result.next_url
    assert state.offsets_requested("locations") == [0, 10, 20, 20]
    assert result.error is not None and result.error.http_status == 500


async def test_resume_applies_the_drop_rule_with_the_last_total(
    sender: tuple[fake.SenderState, RunningServer],
) -> None:
    """An interrupted crawl had seen X-Total-Count 30; when it resumes at offset 20, 2 objects before that
    offset are gone: the page is fetched again from offset 18, so none is skipped."""
    state, server = sender
    state.objects["locations"] = [
        o for o in state.objects["locations"] if o["id"] not in ("LOC000001", "LOC000002")
    ]
    sink = Sink()
    async with httpx.AsyncClient() as http:
        result = await crawl(
            client_for(http, state),
            f"{server.url}/ocpi/2.2.1/locations?offset=20&limit=10",
            parse=Location.model_validate,
            sink=sink,
            previous_total=30,
        )
    assert result.complete
    assert state.offsets_requested("locations") == [20, 18]
    assert sink.pages[0].items[0].id == "LOC000021"


async def test_an_invalid_page_is_not_retried() -> None:
    app = FastAPI()

    @app.get("/list")
    async def listing(request: Request) -> JSONResponse:
        return JSONResponse(envelope({"not": "a list"}))

    sink = Sink()
    with serve(app) as server:
        async with httpx.AsyncClient() as http:
            client = OcpiClient(http, token="tok-0123456789")
            result = await crawl(client, f"{server.url}/list", parse=Location.model_validate, sink=sink)
    assert not result.complete and result.retries == 0 and result.error is not None
    assert result.error.error_class == "invalid_response" and not is_transient(result.error)
