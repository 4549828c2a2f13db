"""Pull sync: crawl a partner's paginated Sender list (Locations, Tariffs, Sessions, CDRs, ClientInfo ...)
and hand each page, validated item by item, to a sink that stores it.

Spec: transport_and_format.asciidoc "Pagination" and "GET" (process the valid objects of a list, log the
invalid ones), and each module's GET List ("the response data provided by all the pages together is the
new truth": a sweep of what is no longer listed is only right after a *complete* crawl).

How a crawl goes (`crawl`):

- Pages come from `OcpiClient.iter_pages` (Link / X-Limit / the X-Total-Count drop rule). The crawl starts
  at `start_url`: the first page, or the cursor a stored checkpoint kept (resume after a crash).
- Each item is parsed alone (`parse`); an item that fails (pydantic `ValidationError`, `ValueError`,
  `RejectItem`) is set aside with the reason, the others go on.
- `sink.store_page(page)` stores a page (and, in the same transaction, moves the sink's checkpoint to
  `page.next_url`); a page is never skipped: if storing fails the crawl stops there.
- A page that fails to arrive is fetched again, from where the crawl stands, with tenacity's backoff
  (exponential with jitter, honouring `Retry-After`), at most `max_attempts` times in a row without a page
  stored; only transient failures are retried (no answer, timeout, HTTP 408 / 429 / 5xx, OCPI 3000 /
  4002 / 4003). Anything else, or running out of tries, ends the crawl incomplete: it never spins.
- When `X-Total-Count` dropped since the last stored page across such a restart, the restart URL's offset
  is lowered by the drop, as `iter_pages` does between pages.
- Complete: `sink.finish(result)` (where the caller sweeps what was not listed); incomplete: `sink.fail`.

Import rule of `partners`: no `emsp`, no settings; the caller passes the client, the policy and the sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from ocpi.client import OcpiClient, Page
from ocpi.errors import PartnerCallError
from ocpi.pagination import lower_offset

log = logging.getLogger("partners.pull")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
RETRY_HTTP = frozenset({408, 429})
RETRY_OCPI = frozenset({3000, 4002, 4003})
MAX_PAYLOAD_CHARS = 4000


class RejectItem(Exception):
    """Raised by a parser: the item is well-formed but not acceptable (e.g. a party the partner may not
    speak for)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item set aside: its reason, what identifies it (when readable) and its payload, truncated."""

    reason: str
    object_ref: str  # "CC/PID/ID" when readable, else "sha256:<digest of the payload>"
    object_id: str | None
    payload: str


@dataclass(frozen=True, slots=True)
class PulledPage(Generic[T]):
    """One page: the items that parsed, those that did not, and where the crawl goes next."""

    number: int
    items: list[T]
    rejected: list[Rejected]
    next_url: str | None  # None: this was the last page
    url: str
    total_count: int | None
    request_id: str


@dataclass
class CrawlResult:
    complete: bool = False
    pages: int = 0
    items: int = 0
    rejected: int = 0
    retries: int = 0
    total_count: int | None = None
    error: PartnerCallError | None = None
    next_url: str | None = None  # where an incomplete crawl stopped (the page not stored)


class PullSink(Protocol[T_co]):
    async def store_page(self, page: PulledPage[Any]) -> None: ...

    async def finish(self, result: CrawlResult) -> None: ...

    async def fail(self, result: CrawlResult) -> None: ...


@dataclass(frozen=True, slots=True)
class PullPolicy:
    """Bounds of one crawl: tries per page, backoff (seconds), pages, bytes per page."""

    max_attempts: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_cap: float = 300.0
    max_pages: int = 100_000
    max_page_bytes: int | None = None


def is_transient(exc: BaseException) -> bool:
    """Whether fetching the page again may help (see the module docstring)."""
    if not isinstance(exc, PartnerCallError):
        return False
    if exc.error_class in ("transport", "timeout"):
        return True
    if exc.error_class == "http":
        return exc.http_status is not None and (exc.http_status >= 500 or exc.http_status in RETRY_HTTP)
    if exc.error_class == "ocpi":
        return exc.ocpi_status in RETRY_OCPI
    return False


def describe_item(raw: Any) -> tuple[str, str | None]:
    """(object_ref, object_id) of a raw item: its key when readable, else a digest of its payload."""
    if isinstance(raw, dict):
        object_id = raw.get("id", raw.get("uid"))
        cc, pid = raw.get("country_code"), raw.get("party_id")
        if isinstance(object_id, str) and isinstance(cc, str) and isinstance(pid, str):
            ref = f"{cc}/{pid}/{object_id}".upper()
            if len(ref) <= 120:
                return ref, object_id[:64]
        elif isinstance(cc, str) and isinstance(pid, str) and "id" not in raw:  # e.g. ClientInfo
            return f"{cc}/{pid}".upper()[:120], None
    text = json.dumps(raw, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest(), None


def reject(raw: Any, reason: str) -> Rejected:
    ref, object_id = describe_item(raw)
    payload = json.dumps(raw, ensure_ascii=False, default=str)
    return Rejected(
        reason=reason[:1000], object_ref=ref, object_id=object_id, payload=payload[:MAX_PAYLOAD_CHARS]
    )


def parse_items(raw_items: list[Any], parse: Callable[[Any], T]) -> tuple[list[T], list[Rejected]]:
    """Each item parsed alone; the failures set aside with a short reason (never the whole input)."""
    items: list[T] = []
    rejected: list[Rejected] = []
    for raw in raw_items:
        try:
            items.append(parse(raw))
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in errors[:5]
            )
            rejected.append(reject(raw, f"invalid: {where}"))
        except (RejectItem, ValueError, TypeError) as exc:
            rejected.append(reject(raw, str(exc) or type(exc).__name__))
    return items, rejected


@dataclass
class _State:
    url: str
    total: int | None = None  # X-Total-Count of the last page stored
    failures: int = 0  # consecutive failed tries without a page stored
    retry_after: float | None = None
    result: CrawlResult = field(default_factory=CrawlResult)


async def crawl(
    client: OcpiClient,
    start_url: str,
    *,
    parse: Callable[[Any], T],
    sink: PullSink[T],
    policy: PullPolicy | None = None,
    previous_total: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> CrawlResult:
    """Crawl from `start_url` to the last page (see the module docstring). `previous_total` is the
    X-Total-Count seen last by an interrupted crawl this one resumes."""
    policy = policy or PullPolicy()
    state = _State(url=start_url, total=previous_total)
    result = state.result

    def wait(retry_state: RetryCallState) -> float:
        backoff = min(policy.backoff_max, policy.backoff_initial * 2 ** max(0, state.failures - 1))
        backoff = backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security
        if state.retry_after is not None:
            backoff = max(backoff, min(state.retry_after, policy.retry_after_cap))
        return backoff

    def stop(retry_state: RetryCallState) -> bool:
        return state.failures >= policy.max_attempts

    def before_sleep(retry_state: RetryCallState) -> None:
        result.retries += 1
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "pull: page %s failed (%s), try %d of %d", state.url, exc, state.failures + 1, policy.max_attempts
        )

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
        sleep=sleep,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await _segment(client, state, parse, sink, policy)
    except PartnerCallError as exc:
        result.error = exc
        result.next_url = state.url
        log.warning("pull: crawl stopped incomplete after %d pages at %s: %s", result.pages, state.url, exc)
        await sink.fail(result)
        return result
    result.complete = True
    await sink.finish(result)
    return result


async def _segment(
    client: OcpiClient, state: _State, parse: Callable[[Any], T], sink: PullSink[T], policy: PullPolicy
) -> None:
    """Fetch and store pages from `state.url` on; a failure leaves `state.url` at the page not stored.

    Pipelined: while a page is being stored, the next one is fetched and parsed (one page ahead at most),
    so the partner's and the database's latencies overlap with our parsing."""
    while True:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        producer = asyncio.create_task(_produce(client, state, parse, policy, queue))
        try:
            restart = await _consume(queue, state, sink)
        except PartnerCallError as exc:
            state.failures += 1
            state.retry_after = exc.retry_after
            raise
        finally:
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
        if not restart:
            return


_END = object()


@dataclass(frozen=True, slots=True)
class _Restart:
    url: str


async def _produce(
    client: OcpiClient,
    state: _State,
    parse: Callable[[Any], T],
    policy: PullPolicy,
    queue: asyncio.Queue[Any],
) -> None:
    pages = client.iter_pages(
        state.url, max_pages=policy.max_pages, max_page_size_bytes=policy.max_page_bytes
    )
    try:
        async with aclosing(pages):  # type: ignore[type-var]
            first = True
            async for page in pages:
                if first and _dropped(state, page):
                    redo = lower_offset(state.url, (state.total or 0) - (page.total_count or 0))
                    state.total = page.total_count
                    if redo is not None:
                        log.info("pull: X-Total-Count dropped since the last page stored; from %s", redo)
                        await queue.put(_Restart(redo))
                        return
                first = False
                items, rejected = parse_items(page.items, parse)
                await queue.put((page, items, rejected))
    except PartnerCallError as exc:
        await queue.put(exc)
        return
    await queue.put(_END)


async def _consume(queue: asyncio.Queue[Any], state: _State, sink: PullSink[T]) -> bool:
    """Store pages as they come; True when the segment must restart from `state.url`."""
    while True:
        got = await queue.get()
        if got is _END:
            return False
        if isinstance(got, PartnerCallError):
            raise got
        if isinstance(got, _Restart):
            state.url = got.url
            return True
        page, items, rejected = got
        await _store(page, items, rejected, state, sink)


def _dropped(state: _State, page: Page) -> bool:
    return state.total is not None and page.total_count is not None and page.total_count < state.total


async def _store(
    page: Page, items: list[Any], rejected: list[Rejected], state: _State, sink: PullSink[T]
) -> None:
    result = state.result
    pulled = PulledPage(
        number=result.pages + 1,
        items=items,
        rejected=rejected,
        next_url=page.next_url,
        url=page.url,
        total_count=page.total_count,
        request_id=page.request_id,
    )
    await sink.store_page(pulled)
    result.pages += 1
    result.items += len(items)
    result.rejected += len(rejected)
    result.total_count = page.total_count
    if page.total_count is not None:
        state.total = page.total_count
    state.failures = 0
    state.retry_after = None
    if page.next_url is not None:
        state.url = page.next_url
