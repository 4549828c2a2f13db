"""A fake CPO (or hub) SENDER: a real FastAPI app serving paginated lists of Locations, Tariffs, Sessions and
ClientInfo the way the spec says (transport_and_format.asciidoc "Pagination"): oldest first, `date_from`
inclusive and `date_to` exclusive on `last_updated`, `offset`/`limit` capped at the server's `page_limit`,
`Link: <...>; rel="next"` carrying the filters, `X-Total-Count` and `X-Limit`.

Faults to play with (all on `SenderState`):
- `fail`: {(module, offset): [status, ...]} answers the page at that offset with those HTTP statuses, one per
  request, before answering normally (`"ocpi2001"` answers HTTP 200 with OCPI 2001).
- `after_page`: {(module, offset): callable(state)} runs once after serving that page (e.g. objects vanish).
- `requests`: every (module, query dict) received, to assert what the client asked for.
Objects are raw JSON dicts (so an invalid one can be served as it is).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ocpi.envelope import envelope
from ocpi.types import format_datetime, to_utc
from tests.support.servers import RunningServer, serve

V = "/ocpi/2.2.1"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class SenderState:
    token: str = "sender-token-0123456789"
    objects: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"locations": [], "tariffs": [], "sessions": [], "hubclientinfo": []}
    )
    page_limit: int = 50
    fail: dict[tuple[str, int], list[int | str]] = field(default_factory=dict)
    after_page: dict[tuple[str, int], Callable[[SenderState], None]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def offsets_requested(self, module: str) -> list[int]:
        return [int(q.get("offset", "0")) for m, q in self.requests if m == module]


def ts(minutes: int) -> str:
    return format_datetime(T0 + timedelta(minutes=minutes))


def location(
    i: int, *, cc: str = "NL", pid: str = "CPO", minute: int | None = None, evses: int = 2
) -> dict[str, Any]:
    """A valid Location, `evses` EVSEs of 2 Connectors each; `last_updated` = T0 + `minute` (default i)."""
    when = ts(i if minute is None else minute)
    return {
        "country_code": cc,
        "party_id": pid,
        "id": f"LOC{i:06d}",
        "publish": True,
        "name": f"Location {i}",
        "address": f"Street {i}",
        "city": ("Amsterdam", "Utrecht", "Gent")[i % 3],
        "postal_code": "1000AA",
        "country": "NLD",
        "coordinates": {
            "latitude": f"{50 + (i % 1000) / 1000:.6f}",
            "longitude": f"{4 + (i % 997) / 1000:.6f}",
        },
        "evses": [
            {
                "uid": f"E{i}-{e}",
                "evse_id": f"NL*CPO*E{i}{e}",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": str(c),
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 16,
                        "tariff_ids": ["T1"],
                        "last_updated": when,
                    }
                    for c in (1, 2)
                ],
                "last_updated": when,
            }
            for e in range(1, evses + 1)
        ],
        "time_zone": "Europe/Amsterdam",
        "last_updated": when,
    }


def tariff(
    i: int, *, cc: str = "NL", pid: str = "CPO", minute: int | None = None, price: float = 0.25
) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": f"T{i}",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
        "last_updated": ts(i if minute is None else minute),
    }


def session(i: int, *, cc: str = "NL", pid: str = "CPO", minute: int | None = None) -> dict[str, Any]:
    when = ts(i if minute is None else minute)
    return {
        "country_code": cc,
        "party_id": pid,
        "id": f"S{i}",
        "start_date_time": when,
        "kwh": 1.5,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": f"TOK{i}",
            "type": "RFID",
            "contract_id": f"C{i}",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC000001",
        "evse_uid": "E1-1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": when,
    }


def client_info(cc: str, pid: str, *, status: str = "CONNECTED", minute: int = 0) -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "role": "CPO", "status": status, "last_updated": ts(minute)}


def make_app(state: SenderState) -> FastAPI:
    app = FastAPI()

    def authorized(request: Request) -> bool:
        expected = "Token " + base64.b64encode(state.token.encode()).decode()
        return request.headers.get("authorization") == expected

    async def listing(module: str, request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse(envelope(status_code=2000, status_message="Unauthorized"), status_code=401)
        query = dict(request.query_params)
        state.requests.append((module, query))
        offset = int(query.get("offset") or 0)
        faults = state.fail.get((module, offset))
        if faults:
            fault = faults.pop(0)
            if fault == "ocpi2001":
                return JSONResponse(envelope(status_code=2001, status_message="bad request"))
            return JSONResponse(envelope(status_code=3000, status_message="boom"), status_code=int(fault))
        limit = min(int(query.get("limit") or state.page_limit), state.page_limit)
        date_from = to_utc(query["date_from"]) if query.get("date_from") else None
        date_to = to_utc(query["date_to"]) if query.get("date_to") else None
        matching = [o for o in state.objects[module] if _in_range(o, date_from, date_to)]
        page = matching[offset : offset + limit]
        headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(state.page_limit)}
        if offset + len(page) < len(matching):
            params = {k: v for k, v in query.items() if k in ("date_from", "date_to")}
            params.update(offset=str(offset + len(page)), limit=str(limit))
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            headers["Link"] = f'<{base}?{urlencode(params)}>; rel="next"'
        response = JSONResponse(envelope(page), headers=headers)
        hook = state.after_page.pop((module, offset), None)
        if hook is not None:
            hook(state)
        return response

    for module in ("locations", "tariffs", "sessions", "hubclientinfo"):

        async def endpoint(request: Request, module: str = module) -> JSONResponse:
            return await listing(module, request)

        app.add_api_route(f"{V}/{module}", endpoint, methods=["GET"])
    return app


def _in_range(obj: dict[str, Any], date_from: datetime | None, date_to: datetime | None) -> bool:
    try:
        when = to_utc(obj.get("last_updated"))
    except ValueError:
        return date_from is None and date_to is None
    if not isinstance(when, datetime):
        return date_from is None and date_to is None
    return (date_from is None or when >= date_from) and (date_to is None or when < date_to)


@contextmanager
def running(state: SenderState) -> Iterator[RunningServer]:
    with serve(make_app(state)) as server:
        yield server
