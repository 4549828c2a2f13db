"""The CDRs module of the fake CPO (`tests.support.fake_cpo`): a SENDER list it serves (paginated, for the
eMSP's pull) and a control endpoint that makes the fake CPO POST a CDR to the eMSP's CDRs RECEIVER, found
in the eMSP's version details as the spec says (mod_cdrs 10.2.2: the CPO pushes, the eMSP answers with the
`Location` of its copy).

Mount `router` with `make_fake_cpo(extra_routers=[router], modules=[("cdrs", "SENDER"), ...])`; the CDRs it
lists are `app.state.cdrs` (a list of dicts, oldest first)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi.envelope import envelope
from tests.support.fake_cpo import VERSION, FakeAuth, FakeCpoState, _data

router = APIRouter()


def cdrs_of(request: Request) -> list[dict[str, Any]]:
    if not hasattr(request.app.state, "cdrs"):
        request.app.state.cdrs = []
    cdrs: list[dict[str, Any]] = request.app.state.cdrs
    return cdrs


@router.get("/cdrs")
async def list_cdrs(request: Request, _token: FakeAuth, offset: int = 0, limit: int = 2) -> JSONResponse:
    """The SENDER list: at most 2 per page (so a pull follows `Link`), oldest first."""
    cdrs = cdrs_of(request)
    limit = min(limit, 2)
    page = cdrs[offset : offset + limit]
    headers = {"X-Total-Count": str(len(cdrs)), "X-Limit": "2"}
    if offset + limit < len(cdrs):
        base = str(request.url).split("?")[0]
        headers["Link"] = f'<{base}?offset={offset + limit}&limit={limit}>; rel="next"'
    return JSONResponse(envelope(page), headers=headers)


async def emsp_cdrs_url(http: httpx.AsyncClient, state: FakeCpoState) -> str:
    """The eMSP's CDRs RECEIVER URL from its version details (read with the token it gave us)."""
    assert state.emsp_versions_url and state.token_for_emsp
    auth = state.authorization(state.token_for_emsp)
    listed = _data(await http.get(state.emsp_versions_url, headers=auth))
    details = _data(await http.get(next(v["url"] for v in listed if v["version"] == VERSION), headers=auth))
    return next(
        e["url"] for e in details["endpoints"] if e["identifier"] == "cdrs" and e["role"] == "RECEIVER"
    )


@router.post("/_control/push-cdr")
async def push_cdr(request: Request) -> dict[str, Any]:
    """Test control (no auth): POST the given body to the eMSP's CDRs endpoint; report what came back."""
    state: FakeCpoState = request.app.state.fake
    body = await request.body()
    async with httpx.AsyncClient(timeout=10) as http:
        url = await emsp_cdrs_url(http, state)
        headers = {**state.authorization(state.token_for_emsp or ""), "Content-Type": "application/json"}
        response = await http.post(url, content=body, headers=headers)
    return {
        "url": url,
        "http_status": response.status_code,
        "location": response.headers.get("location"),
        "envelope": response.json(),
    }
