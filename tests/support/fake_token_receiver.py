"""A fake CPO Tokens RECEIVER (spec mod_tokens.asciidoc "Receiver Interface"): a real FastAPI app serving
`PUT` and `GET {base}/{country_code}/{party_id}/{uid}[?type=]`, with scripted behaviours, that records every
PUT it receives.

Behaviours (per token key `(cc, pid, uid, type)`, so every token goes through the script):

    healthy        store, answer 1000
    fail_twice     HTTP 500 to the first `fail_first` PUTs, then healthy
    timeout        sleep `hang_seconds` (longer than the client's timeout) on the first `fail_first` PUTs
    reject         HTTP 200 + OCPI 2001 with `reject_message`, always (a permanent refusal)
    rate_limited   HTTP 429 + `Retry-After: retry_after` to the first `fail_first` PUTs
    unauthorized   HTTP 401 to every request whose token is not `accepted_token` (None: to every request)

"Refusing connections, then coming back" needs no behaviour: reserve a port with `free_port()`, point the
partner at it, and start `running(port=...)` later.

`puts` keeps every PUT (the body, which version it carried as `last_updated`, its headers and what was
answered); `stored` the last body accepted per key. Served as a hub, the party each PUT was addressed to is
its `OCPI-to-*` headers: `puts_to(party)` and `latest_to(party, uid)` read the PUTs per target party.
`overlaps` counts PUTs of a key that arrived while another PUT of the same key was still being handled
(two workers sending the same row at once).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ocpi.envelope import envelope
from tests.support.servers import RunningServer, serve

BASE_PATH = "/ocpi/cpo/2.2.1/tokens"
Key = tuple[str, str, str, str]


@dataclass
class ReceivedPut:
    key: Key
    body: dict[str, Any]
    headers: dict[str, str]
    answered: int  # HTTP status answered (0: the client gave up while we hung)
    ocpi_status: int | None

    @property
    def to_party(self) -> tuple[str, str] | None:
        """The `OCPI-to-*` party the PUT was addressed to (None: no routing headers)."""
        cc, pid = self.headers.get("ocpi-to-country-code"), self.headers.get("ocpi-to-party-id")
        return None if cc is None or pid is None else (cc, pid)


@dataclass
class FakeTokenReceiver:
    behaviour: str = "healthy"
    fail_first: int = 2
    hang_seconds: float = 2.0
    retry_after: int = 1
    delay_seconds: float = 0.0  # every PUT takes this long (slow partner)
    reject_message: str = "Fake CPO refuses this token: contract_id not accepted"
    accepted_token: str | None = None
    puts: list[ReceivedPut] = field(default_factory=list)
    stored: dict[Key, dict[str, Any]] = field(default_factory=dict)
    overlaps: int = 0
    url: str = ""  # the endpoint URL partners are configured with, set by `running()`
    _seen: Counter[Key] = field(default_factory=Counter)
    _in_flight: Counter[Key] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what tests read -------------------------------------------------------------------------

    def latest(self, uid: str, token_type: str = "RFID") -> dict[str, Any] | None:
        for key, body in self.stored.items():
            if key[2] == uid and key[3] == token_type:
                return body
        return None

    def puts_for(self, uid: str) -> list[ReceivedPut]:
        return [p for p in self.puts if p.key[2] == uid]

    def puts_to(self, party: tuple[str, str], uid: str | None = None) -> list[ReceivedPut]:
        """The PUTs addressed (`OCPI-to-*`) to `party`, in arrival order (of one token uid, or all)."""
        return [p for p in self.puts if p.to_party == party and (uid is None or p.key[2] == uid)]

    def latest_to(self, party: tuple[str, str], uid: str) -> dict[str, Any] | None:
        """The last body addressed to `party` for the token `uid` that was accepted (HTTP 200, OCPI 1000)."""
        accepted = [p for p in self.puts_to(party, uid) if (p.answered, p.ocpi_status) == (200, 1000)]
        return accepted[-1].body if accepted else None

    @property
    def put_count(self) -> int:
        return len(self.puts)

    # --- the app ----------------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.put(BASE_PATH + "/{country_code}/{party_id}/{uid}")
        async def put_token(country_code: str, party_id: str, uid: str, request: Request) -> JSONResponse:
            key = (country_code, party_id, uid, request.query_params.get("type", "RFID"))
            body = await request.json()
            with self._lock:
                if self._in_flight[key]:
                    self.overlaps += 1
                self._in_flight[key] += 1
                self._seen[key] += 1
                nth = self._seen[key]
            record = ReceivedPut(key, body, dict(request.headers), 0, None)
            self.puts.append(record)
            try:
                status, code, message, headers = await self._answer(key, nth, request)
            finally:
                with self._lock:
                    self._in_flight[key] -= 1
            record.answered, record.ocpi_status = status, code
            if status == 200 and code == 1000:
                self.stored[key] = body
            return JSONResponse(envelope(status_code=code, status_message=message), status, headers=headers)

        @app.get(BASE_PATH + "/{country_code}/{party_id}/{uid}")
        async def get_token(country_code: str, party_id: str, uid: str, request: Request) -> JSONResponse:
            if not self._authorized(request):
                return JSONResponse(envelope(status_code=2000, status_message="Unauthorized"), 401)
            key = (country_code, party_id, uid, request.query_params.get("type", "RFID"))
            if key not in self.stored:
                return JSONResponse(envelope(status_code=2000, status_message="Unknown token"), 404)
            return JSONResponse(envelope(self.stored[key]), 200)

        return app

    def _authorized(self, request: Request) -> bool:
        if self.behaviour != "unauthorized":
            return True
        if self.accepted_token is None:
            return False
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        expected = base64.b64encode(self.accepted_token.encode()).decode()
        return scheme == "Token" and value == expected

    async def _answer(self, key: Key, nth: int, request: Request) -> tuple[int, int, str, dict[str, str]]:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        early = nth <= self.fail_first
        if self.behaviour == "fail_twice" and early:
            return 500, 3000, "Fake CPO is having a bad day", {}
        if self.behaviour == "timeout" and early:
            await asyncio.sleep(self.hang_seconds)  # the client has given up by now
            return 503, 3000, "too late", {}
        if self.behaviour == "rate_limited" and early:
            return 429, 2000, "Too many requests", {"Retry-After": str(self.retry_after)}
        if self.behaviour == "reject":
            return 200, 2001, self.reject_message, {}
        if not self._authorized(request):
            return 401, 2000, "Unknown credentials token", {}
        return 200, 1000, "OK", {}

    @contextmanager
    def running(self, port: int | None = None) -> Iterator[RunningServer]:
        with serve(self.app(), port=port) as server:
            self.url = server.url + BASE_PATH
            yield server


def endpoint_url(port: int) -> str:
    """The tokens endpoint URL of a fake that will listen on `port` (for a partner configured before)."""
    return f"http://127.0.0.1:{port}{BASE_PATH}"
