"""Helpers for the ingest tests: spec examples, partners that push to us, and reading the ingest tables."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel

from emsp.db import SessionMaker
from emsp.ingest.hubclientinfo import CLIENT_INFOS
from partners.tables import PartnerEndpoint, PartnerRole, PartnerStatus
from tests.support.builders import make_partner, ocpi_auth

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi_examples"
V = "/ocpi/2.2.1"


def example(name: str) -> dict[str, Any]:
    """A spec example, parsed (a fresh copy each time)."""
    return copy.deepcopy(json.loads((EXAMPLES / name).read_text()))


def example_names(prefix: str) -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob(f"{prefix}*.json"))


async def pushing_partner(
    sessionmaker: SessionMaker,
    *parties: tuple[str, str],
    role: str = "CPO",
    name: str | None = None,
    status: PartnerStatus = PartnerStatus.CONNECTED,
) -> tuple[int, dict[str, str]]:
    """A CONNECTED partner speaking for `parties` (role `role`), committed; (partner id, auth headers)."""
    first, *others = parties or (("NL", "CPO"),)
    async with sessionmaker() as session:
        partner, token = await make_partner(
            session, name=name, country_code=first[0], party_id=first[1], role=role, status=status
        )
        assert partner.id is not None
        for cc, pid in others:
            session.add(PartnerRole(partner_id=partner.id, role=role, country_code=cc, party_id=pid))
        await session.commit()
        return partner.id, ocpi_auth(token)


async def add_role(sessionmaker: SessionMaker, partner_id: int, role: str, cc: str, pid: str) -> None:
    async with sessionmaker() as session:
        session.add(PartnerRole(partner_id=partner_id, role=role, country_code=cc, party_id=pid))
        await session.commit()


async def add_endpoint(
    sessionmaker: SessionMaker, partner_id: int, identifier: str, role: str, url: str
) -> None:
    async with sessionmaker() as session:
        session.add(PartnerEndpoint(partner_id=partner_id, identifier=identifier, role=role, url=url))
        await session.commit()


async def count(sessionmaker: SessionMaker, model: type[SQLModel] | Any) -> int:
    table = getattr(model, "__table__", model)
    async with sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one()[0])


async def rows(sessionmaker: SessionMaker, model: type[SQLModel] | Any, *where: Any) -> list[Any]:
    table = getattr(model, "__table__", model)
    async with sessionmaker() as session:
        stmt = select(table)
        for clause in where:
            stmt = stmt.where(clause)
        return list((await session.exec(stmt)).all())


__all__ = ["CLIENT_INFOS", "V", "add_endpoint", "add_role", "count", "example", "pushing_partner", "rows"]
