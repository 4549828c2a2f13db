"""A fake CPO: a real FastAPI app (serve it with `fake.running()` on a loopback port) and a state object
recording what it received. It plays both sides of the credentials handshake:

- as server: versions, version details (credentials + `modules`), and credentials GET/POST/PUT/DELETE.
  On POST/PUT it GETs the eMSP's versions and details with the token in the body, as the spec asks.
- as client: `register_with` (GET versions/details with token A, POST its credentials), `update_credentials`
  (PUT), `unregister` (DELETE).

Every request must carry `Authorization: Token <base64(token)>` (raw with `raw_tokens=True`) of a token in
`state.accepted`; anything else gets HTTP 401 with an OCPI envelope.

To add a module (tokens RECEIVER, locations SENDER ...): write an `APIRouter` whose routes depend on
`FakeAuth` (the presented token, already checked) and read `request.app.state.fake`; pass it in
`extra_routers` (mounted under `/ocpi/2.2.1`) and list the module in `modules`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from ocpi.envelope import envelope
from tests.support.servers import serve

VERSION = "2.2.1"
VERSION_PATH = f"/ocpi/{VERSION}"


@dataclass
class Recorded:
    method: str
    path: str
    token: str | None  # the decoded token presented, None when unreadable
    headers: dict[str, str]


@dataclass
class FakeCpoState:
    name: str = "Fake CPO"
    country_code: str = "NL"
    party_id: str = "CPO"
    versions: list[str] = field(default_factory=lambda: [VERSION])
    modules: list[tuple[str, str]] = field(
        default_factory=lambda: [("tokens", "RECEIVER"), ("locations", "SENDER")]
    )
    with_credentials: bool = True
    raw_tokens: bool = False  # reads and sends `Authorization: Token <token>` unencoded
    versions_status: int | None = None  # answer GET versions with this HTTP status instead
    versions_redirect: str | None = None  # answer GET versions with a 307 to this URL instead
    token_a: str = field(default_factory=lambda: "cpo-A-" + secrets.token_hex(8))
    accepted: set[str] = field(default_factory=set)  # tokens it accepts (A until registered)
    token_for_emsp: str | None = None  # the token it sends to the eMSP
    emsp_versions_url: str | None = None
    emsp_credentials_url: str | None = None
    registered: bool = False
    base_url: str = ""  # set by `running()`
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.accepted.add(self.token_a)

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def credentials(self, token: str) -> dict[str, Any]:
        role = {
            "role": "CPO",
            "party_id": self.party_id,
            "country_code": self.country_code,
            "business_details": {"name": self.name},
        }
        return {"token": token, "url": self.versions_url, "roles": [role]}

    def authorization(self, token: str) -> dict[str, str]:
        value = token if self.raw_tokens else base64.b64encode(token.encode()).decode()
        return {"Authorization": f"Token {value}"}

    def read_token(self, header: str | None) -> str | None:
        scheme, _, value = (header or "").partition(" ")
        if scheme != "Token" or not value:
            return None
        if self.raw_tokens:
            return value
        try:
            return base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None


class _Unauthorized(Exception):
    pass


def _state(request: Request) -> FakeCpoState:
    state: FakeCpoState = request.app.state.fake
    return state


def require_token(request: Request) -> str:
    """Record the request; the presented token if it is accepted, else HTTP 401."""
    state = _state(request)
    token = state.read_token(request.headers.get("authorization"))
    state.requests.append(Recorded(request.method, request.url.path, token, dict(request.headers)))
    if token is None or token not in state.accepted:
        raise _Unauthorized()
    return token


FakeAuth = Annotated[str, Depends(require_token)]


def ok(data: Any = None, status_code: int = 1000, message: str | None = None) -> JSONResponse:
    return JSONResponse(envelope(data, status_code=status_code, status_message=message))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def new_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


# --- the server side ---------------------------------------------------------------------------------

core = APIRouter()


@core.get("/ocpi/versions", response_model=None)
async def versions(request: Request, _token: FakeAuth) -> JSONResponse | RedirectResponse:
    state = _state(request)
    if state.versions_redirect:
        return RedirectResponse(state.versions_redirect, status_code=307)
    if state.versions_status:
        return JSONResponse({"error": "unavailable"}, status_code=state.versions_status)
    return ok([{"version": v, "url": f"{_base(request)}/ocpi/{v}"} for v in state.versions])


@core.get(VERSION_PATH)
async def version_details(request: Request, _token: FakeAuth) -> JSONResponse:
    state = _state(request)
    modules = ([("credentials", "SENDER")] if state.with_credentials else []) + state.modules
    endpoints = [
        {"identifier": ident, "role": role, "url": f"{_base(request)}{VERSION_PATH}/{ident}"}
        for ident, role in modules
    ]
    return ok({"version": VERSION, "endpoints": endpoints})


@core.get(f"{VERSION_PATH}/credentials")
async def get_credentials(request: Request, token: FakeAuth) -> JSONResponse:
    return ok(_state(request).credentials(token))


@core.post(f"{VERSION_PATH}/credentials")
async def post_credentials(request: Request, token: FakeAuth) -> JSONResponse:
    state = _state(request)
    if state.registered or token != state.token_a:
        return JSONResponse(envelope(status_code=2000, status_message="already registered"), status_code=405)
    return await _accept(request, state)


@core.put(f"{VERSION_PATH}/credentials")
async def put_credentials(request: Request, _token: FakeAuth) -> JSONResponse:
    state = _state(request)
    if not state.registered:
        return JSONResponse(envelope(status_code=2000, status_message="not registered"), status_code=405)
    return await _accept(request, state)


@core.delete(f"{VERSION_PATH}/credentials")
async def delete_credentials(request: Request, _token: FakeAuth) -> JSONResponse:
    state = _state(request)
    if not state.registered:
        return JSONResponse(envelope(status_code=2000, status_message="not registered"), status_code=405)
    state.registered, state.token_for_emsp = False, None
    state.accepted.clear()
    return ok()


async def _accept(request: Request, state: FakeCpoState) -> JSONResponse:
    """POST/PUT: check the eMSP's versions with its token, then store it and issue a new one."""
    theirs = await request.json()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            credentials_url = await discover_credentials_url(http, state, theirs["url"], theirs["token"])
    except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
        return ok(status_code=3001, message=f"cannot use your API: {exc}")
    token = new_token("cpo-C")
    state.accepted = {token}
    state.token_for_emsp, state.registered = theirs["token"], True
    state.emsp_versions_url, state.emsp_credentials_url = theirs["url"], credentials_url
    return ok(state.credentials(token))


# --- the client side ---------------------------------------------------------------------------------


async def discover_credentials_url(
    http: httpx.AsyncClient, state: FakeCpoState, versions_url: str, token: str
) -> str:
    """GET the eMSP's versions and 2.2.1 details with `token`: its credentials URL."""
    listed = _data(await http.get(versions_url, headers=state.authorization(token)))
    details_url = next(v["url"] for v in listed if v["version"] == VERSION)
    details = _data(await http.get(details_url, headers=state.authorization(token)))
    return next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")


def _data(response: httpx.Response) -> Any:
    response.raise_for_status()
    body = response.json()
    if body.get("status_code") != 1000:
        raise ValueError(f"OCPI status {body.get('status_code')}")
    return body["data"]


@dataclass
class FakeCpo:
    app: FastAPI
    state: FakeCpoState

    @contextmanager
    def running(self) -> Iterator[FakeCpo]:
        with serve(self.app) as server:
            self.state.base_url = server.url
            yield self

    async def register_with(self, http: httpx.AsyncClient, versions_url: str, token_a: str) -> httpx.Response:
        """Register with an eMSP as the spec's Sender; state changes only when the eMSP answers 1000."""
        state = self.state
        url = await discover_credentials_url(http, state, versions_url, token_a)
        token_b = new_token("cpo-B")
        state.accepted.add(token_b)  # the eMSP calls us with it while handling our POST
        response = await http.post(url, json=state.credentials(token_b), headers=state.authorization(token_a))
        if _succeeded(response):
            state.accepted = {token_b}
            state.token_for_emsp, state.registered = response.json()["data"]["token"], True
            state.emsp_versions_url, state.emsp_credentials_url = versions_url, url
        else:
            state.accepted.discard(token_b)
        return response

    async def update_credentials(self, http: httpx.AsyncClient) -> httpx.Response:
        """PUT new credentials to the eMSP; on success only the new tokens work."""
        state = self.state
        assert state.emsp_credentials_url and state.token_for_emsp
        token = new_token("cpo-B")
        state.accepted.add(token)
        response = await http.put(
            state.emsp_credentials_url, json=state.credentials(token), headers=self.auth_to_emsp()
        )
        if _succeeded(response):
            state.accepted = {token}
            state.token_for_emsp = response.json()["data"]["token"]
        else:
            state.accepted.discard(token)
        return response

    async def unregister(self, http: httpx.AsyncClient) -> httpx.Response:
        state = self.state
        assert state.emsp_credentials_url
        response = await http.delete(state.emsp_credentials_url, headers=self.auth_to_emsp())
        if _succeeded(response):
            state.registered, state.token_for_emsp = False, None
            state.accepted.clear()
        return response

    def auth_to_emsp(self) -> dict[str, str]:
        assert self.state.token_for_emsp
        return self.state.authorization(self.state.token_for_emsp)


def _succeeded(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json().get("status_code") == 1000


def make_fake_cpo(*, extra_routers: Sequence[APIRouter] = (), **state: Any) -> FakeCpo:
    """A fake CPO app and its state (`state` sets `FakeCpoState` fields: modules, versions ...)."""
    fake_state = FakeCpoState(**state)
    app = FastAPI(title=f"fake CPO {fake_state.name}")
    app.state.fake = fake_state

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(_request: Request, _exc: _Unauthorized) -> JSONResponse:
        return JSONResponse(envelope(status_code=2000, status_message="Unauthorized"), status_code=401)

    app.include_router(core)
    for router in extra_routers:
        app.include_router(router, prefix=VERSION_PATH)
    return FakeCpo(app=app, state=fake_state)
