"""Admin API for partner registrations (`/admin/v1/partners`): invite a partner (token A), register toward
one, list and show them, suspend, resume, rotate credentials and unregister. No answer ever carries a
token except the invitation's token A, shown that one time.

Errors: bad input 400, unknown partner 404, a state that does not allow the action 409, a URL our policy
refuses 400, and the partner failing during a handshake 502 with what it said (nothing is stored then).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from emsp import registration
from emsp.deps import AdminKeyDep, NodeDep
from emsp.errors import AdminError
from ocpi.errors import InvalidParameters
from partners.errors import HandshakeFailure, PartnerNotFound, PartnerStateError, UrlRefused

router = APIRouter(prefix="/partners", tags=["admin: partners"])
T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CredentialsToken = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    raw_token: bool = False  # we send our token to this partner unencoded (pre-2.2 peers)


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    versions_url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    token: CredentialsToken  # the partner's token A
    name: Name | None = None  # default: host[:port] of versions_url
    raw_token: bool = False


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


async def admin_call(call: Awaitable[T]) -> T:
    """Run a registration use case, turning its errors into admin API errors."""
    try:
        return await call
    except PartnerNotFound as exc:
        raise AdminError(404, "not_found", exc.message) from None
    except PartnerStateError as exc:
        raise AdminError(409, "conflict", exc.message) from None
    except (UrlRefused, InvalidParameters) as exc:
        raise AdminError(400, "invalid_request", exc.status_message) from None
    except HandshakeFailure as exc:
        details = {
            "ocpi_status": int(exc.status_code),
            "partner_http_status": exc.partner_http_status,
            "partner_ocpi_status": exc.partner_ocpi_status,
        }
        raise AdminError(502, "partner_error", exc.status_message, details) from None


@router.post("/invitations", status_code=201)
async def invite(body: InvitationIn, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """A partner to be registered by the partner itself: our versions URL and its token A."""
    return await admin_call(registration.invite(node, body.name, raw_token=body.raw_token))


@router.post("/registrations", status_code=201)
async def register(body: RegistrationIn, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """We register toward a partner: its versions URL and the token A it gave us."""
    return await admin_call(
        registration.register(
            node, versions_url=body.versions_url, token=body.token, name=body.name, raw_token=body.raw_token
        )
    )


@router.get("")
async def list_partners(node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    return {"partners": await admin_call(registration.list_all(node))}


@router.get("/{ref}")
async def show(ref: str, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """One partner by id or name: state, timestamps, roles, endpoints."""
    return await admin_call(registration.show(node, ref))


@router.post("/{ref}/suspend")
async def suspend(
    ref: str, node: NodeDep, _key: AdminKeyDep, body: SuspendIn | None = None
) -> dict[str, Any]:
    reason = body.reason if body is not None else None
    return await admin_call(registration.suspend(node, ref, reason))


@router.post("/{ref}/resume")
async def resume(ref: str, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    return await admin_call(registration.resume(node, ref))


@router.post("/{ref}/rotate")
async def rotate(ref: str, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """Credentials update toward the partner (PUT): new tokens in both directions."""
    return await admin_call(registration.rotate(node, ref))


@router.post("/{ref}/unregister")
async def unregister(ref: str, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """DELETE our credentials at the partner if we can, then end both directions here."""
    return await admin_call(registration.unregister(node, ref))
