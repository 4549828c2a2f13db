"""What a delivery needs to know about a partner and a token, read in bulk in a short read-only session.
The party a push is addressed to is the claimed row's (`addressing`), not the partner's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.ledger import IS_TOKENS_RECEIVER
from emsp.tokens.tables import Token
from partners.tables import Partner, PartnerEndpoint, PartnerStatus


@dataclass(frozen=True)
class PartnerTarget:
    """A partner as a push destination. `client_token` is never shown."""

    partner_id: int
    name: str
    status: str
    endpoint_url: str | None
    client_token: str | None = field(repr=False)
    base64_token: bool

    @property
    def problem(self) -> str | None:
        """Why nothing can be pushed to it now (None: it can)."""
        if self.status != PartnerStatus.CONNECTED:
            return f"partner is {self.status}"
        if not self.client_token:
            return "no credentials token to send"
        if not self.endpoint_url:
            return "no tokens RECEIVER endpoint"
        return None


async def load_targets(session: AsyncSession, partner_ids: Iterable[int]) -> dict[int, PartnerTarget]:
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    partners = (await session.exec(sm_select(Partner).where(col(Partner.id).in_(ids)))).all()
    endpoints = (
        await session.exec(
            select(col(PartnerEndpoint.partner_id), col(PartnerEndpoint.url)).where(
                col(PartnerEndpoint.partner_id).in_(ids), IS_TOKENS_RECEIVER
            )
        )
    ).all()
    urls = {int(pid): str(url) for pid, url in endpoints}
    return {
        p.id: PartnerTarget(
            partner_id=p.id,
            name=p.name,
            status=p.status,
            endpoint_url=urls.get(p.id),
            client_token=p.client_token,
            base64_token=p.base64_token,
        )
        for p in partners
        if p.id is not None
    }


async def load_tokens(session: AsyncSession, token_ids: Iterable[int]) -> dict[int, Any]:
    """The tokens' current rows (SQLAlchemy `Row`s with the columns as attributes), by id."""
    ids = sorted(set(token_ids))
    if not ids:
        return {}
    table = Token.__table__  # type: ignore[attr-defined]
    rows = (await session.exec(select(table).where(table.c.id.in_(ids)))).all()
    return {int(row.id): row for row in rows}
