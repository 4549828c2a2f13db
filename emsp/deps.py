"""FastAPI dependencies: the node, the per-request database session, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import READ_ONLY
from emsp.errors import AdminError
from emsp.node import Node
from emsp.settings import AdminKey
from ocpi.auth import candidate_tokens
from ocpi.errors import Unauthorized
from ocpi.types import utcnow
from partners.tables import Partner, PartnerStatus, TokenKind
from partners.tokens import find_by_token


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


_READING_METHODS = frozenset({"GET", "HEAD"})


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """GET and HEAD only read: their transaction is read-only (`emsp.db.READ_ONLY`: on SQLite no write
    lock, so reads do not queue behind writers, and a write there fails at once)."""
    node = get_node(request)
    async with node.sessionmaker() as session:
        if request.method in _READING_METHODS:
            await session.connection(execution_options=READ_ONLY)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]
NodeDep = Annotated[Node, Depends(get_node)]


@dataclass(frozen=True)
class Caller:
    """An authenticated OCPI caller: the partner, which kind of token it used, and that token (kept out of
    `repr` so it never reaches a log)."""

    partner: Partner
    token_kind: TokenKind
    token: str = field(default="", repr=False)

    @property
    def partner_id(self) -> int:
        assert self.partner.id is not None
        return self.partner.id


async def _find_caller(request: Request, session: AsyncSession) -> Caller:
    found = await find_by_token(session, candidate_tokens(request.headers.get("authorization")), utcnow())
    if found is None or found.partner.status == PartnerStatus.UNREGISTERED:
        raise Unauthorized()
    return Caller(partner=found.partner, token_kind=found.kind, token=found.token)


async def registration_caller(request: Request, session: DbSession) -> Caller:
    """Versions and credentials: token A (registration) or the partner's own token."""
    return await _find_caller(request, session)


async def module_caller(request: Request, session: DbSession) -> Caller:
    """Functional modules: only a connected partner's own token; token A gives 401, and so does the token
    we issued while our registration toward the partner is still under way (PLANNED)."""
    caller = await _find_caller(request, session)
    if caller.token_kind != TokenKind.SERVER:
        raise Unauthorized("Token A may be used only on versions and credentials")
    if caller.partner.status == PartnerStatus.SUSPENDED:
        raise Unauthorized("Partner suspended")
    if caller.partner.status != PartnerStatus.CONNECTED:
        raise Unauthorized("Credentials exchange not finished")
    return caller


RegistrationCaller = Annotated[Caller, Depends(registration_caller)]
ModuleCaller = Annotated[Caller, Depends(module_caller)]


def admin_key(request: Request) -> AdminKey:
    """Admin API: `Authorization: Bearer <key>` against the configured keys (constant-time compare)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        for key in get_node(request).settings.admin_keys:
            if hmac.compare_digest(key.secret.get_secret_value().encode(), value.strip().encode()):
                return key
    raise AdminError(401, "unauthorized", "Missing or unknown admin API key")


AdminKeyDep = Annotated[AdminKey, Depends(admin_key)]
