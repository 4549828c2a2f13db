"""Small data builders for tests (append yours; keep each one small)."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from partners.tables import Partner, PartnerRole, PartnerStatus, TokenKind
from partners.tokens import issue_token

_seq = itertools.count(1)


async def make_partner(
    session: AsyncSession,
    *,
    name: str | None = None,
    status: PartnerStatus = PartnerStatus.CONNECTED,
    country_code: str = "NL",
    party_id: str = "CPO",
    role: str = "CPO",
    kind: TokenKind = TokenKind.SERVER,
) -> tuple[Partner, str]:
    """A partner with one role and a credentials token it may present to us (SERVER: a registered
    partner's token; REGISTRATION: token A). Flushed, not committed. Returns (partner, token in clear)."""
    partner = Partner(name=name or f"partner-{next(_seq)}", status=status)
    session.add(partner)
    await session.flush()
    assert partner.id is not None
    session.add(PartnerRole(partner_id=partner.id, role=role, country_code=country_code, party_id=party_id))
    token = await issue_token(session, partner, kind)
    return partner, token


def ocpi_auth(token: str, **extra: str) -> dict[str, Any]:
    """`Authorization: Token <base64>` headers for a partner's request (plus any extra headers)."""
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode(), **extra}


async def make_token_receiver(
    session: AsyncSession,
    url: str,
    *,
    name: str | None = None,
    status: PartnerStatus = PartnerStatus.CONNECTED,
    role: str = "CPO",
    country_code: str = "NL",
    party_id: str = "CPO",
    client_token: str = "token-we-send-0123456789",
) -> Partner:
    """A registered partner with a Tokens RECEIVER endpoint at `url` and the token we send it. Flushed."""
    from partners.tables import PartnerEndpoint

    partner = Partner(name=name or f"receiver-{next(_seq)}", status=status, client_token=client_token)
    session.add(partner)
    await session.flush()
    assert partner.id is not None
    session.add(PartnerRole(partner_id=partner.id, role=role, country_code=country_code, party_id=party_id))
    session.add(PartnerEndpoint(partner_id=partner.id, identifier="tokens", role="RECEIVER", url=url))
    await session.flush()
    return partner


async def make_token(session: AsyncSession, *, now: Any = None, actor: str = "test", **fields: Any) -> Any:
    """A token issued by our test party NL-EMS (fields as in the admin API's create body; `uid` defaults to
    a fresh one). Flushed, not committed. Returns the `emsp.tokens.tables.Token`."""
    from emsp.settings import OwnParty
    from emsp.tokens.schemas import TokenCreate
    from emsp.tokens.service import create_token

    fields.setdefault("uid", f"UID{next(_seq):08d}")
    parties = [
        OwnParty(country_code="NL", party_id="EMS", name="Test eMSP"),
        OwnParty(country_code="BE", party_id="EM2", name="Second eMSP"),
    ]
    data = TokenCreate.model_validate(fields)
    return await create_token(session, data, parties=parties, actor=actor, now=now)
