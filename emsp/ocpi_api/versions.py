"""Versions module (spec version_information_endpoint.asciidoc): our versions list and version details."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emsp.deps import NodeDep, RegistrationCaller
from emsp.ocpi_api import VERSION, VERSION_PATH, ModuleEndpoint
from emsp.ocpi_api.responses import ocpi_response

router = APIRouter()


def version_details_data(public_url: str, endpoints: list[ModuleEndpoint]) -> dict[str, object]:
    return {
        "version": VERSION,
        "endpoints": [
            {"identifier": e.identifier, "role": e.role, "url": f"{public_url}{VERSION_PATH}/{e.path}"}
            for e in endpoints
        ],
    }


@router.get("/ocpi/versions")
async def get_versions(node: NodeDep, _caller: RegistrationCaller) -> JSONResponse:
    return ocpi_response([{"version": VERSION, "url": f"{node.settings.public_url}{VERSION_PATH}"}])


@router.get(VERSION_PATH)
async def get_version_details(request: Request, node: NodeDep, _caller: RegistrationCaller) -> JSONResponse:
    endpoints: list[ModuleEndpoint] = request.app.state.ocpi_endpoints
    return ocpi_response(version_details_data(node.settings.public_url, endpoints))
