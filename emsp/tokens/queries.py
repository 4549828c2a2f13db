"""Read-only token queries: the admin list with its filters, the OCPI list page, the authorize lookup.

The OCPI paths read plain column rows (no ORM objects): one indexed query per page or per authorization.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, literal, or_, select, tuple_
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col
from sqlmodel import select as select_model
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.tokens.contract_id import InvalidContractId, normalise_contract_id
from emsp.tokens.tables import Token
from partners.tables import Partner, PartnerToken

_T = Token.__table__.c  # type: ignore[attr-defined]

OCPI_COLUMNS = (
    _T.id,
    _T.country_code,
    _T.party_id,
    _T.uid,
    _T.type,
    _T.contract_id,
    _T.visual_number,
    _T.issuer,
    _T.group_id,
    _T.whitelist,
    _T.language,
    _T.default_profile_type,
    _T.energy_contract_supplier_name,
    _T.energy_contract_id,
    _T.valid_from,
    _T.valid_until,
    _T.status,
    _T.last_updated,
)
"""What `to_ocpi` needs; rows of these columns stand in for `Token` objects."""

AUTHORIZE_COLUMNS = (*OCPI_COLUMNS, _T.allowed_locations, _T.credit_hold)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Party = tuple[str, str]
"""(country_code, party_id) of one of our parties."""


@dataclass(frozen=True)
class TokenFilter:
    """Admin list filters; all optional, combined with AND. Ranges are inclusive."""

    type: str | None = None
    status: str | None = None
    contract_id: str | None = None
    q: str | None = None
    country_code: str | None = None
    party_id: str | None = None
    valid_from_after: datetime | None = None
    valid_from_before: datetime | None = None
    valid_until_after: datetime | None = None
    valid_until_before: datetime | None = None
    credit_hold: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.type:
            conds.append(col(Token.type) == self.type)
        if self.status:
            conds.append(col(Token.status) == self.status)
        if self.contract_id:
            conds.append(col(Token.contract_id) == _contract_key(self.contract_id))
        if self.country_code:
            conds.append(col(Token.country_code) == self.country_code.upper())
        if self.party_id:
            conds.append(col(Token.party_id) == self.party_id.upper())
        if self.q:
            pattern = "%" + _escape_like(self.q.strip().lower()) + "%"
            conds.append(
                or_(
                    col(Token.uid_norm).like(pattern, escape="\\"),
                    func.lower(col(Token.visual_number)).like(pattern, escape="\\"),
                )
            )
        if self.credit_hold is not None:
            conds.append(col(Token.credit_hold) == self.credit_hold)
        conds.extend(_range(col(Token.valid_from), self.valid_from_after, self.valid_from_before))
        conds.extend(_range(col(Token.valid_until), self.valid_until_after, self.valid_until_before))
        return conds


def _range(column: Any, low: datetime | None, high: datetime | None) -> list[ColumnElement[bool]]:
    conds = []
    if low is not None:
        conds.append(column >= low)
    if high is not None:
        conds.append(column <= high)
    return conds


def _contract_key(value: str) -> str:
    try:
        return normalise_contract_id(value)
    except InvalidContractId:
        return value.strip().upper()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_tokens(
    session: AsyncSession, filters: TokenFilter, *, offset: int, limit: int
) -> tuple[int, list[Token]]:
    """(total matching, one page ordered by id)."""
    conds = filters.conditions()
    conn = await session.connection()
    total = (await conn.execute(select(func.count()).select_from(Token.__table__).where(*conds))).scalar_one()
    stmt = select_model(Token).where(*conds).order_by(col(Token.id)).offset(offset).limit(limit)
    return int(total), list((await session.exec(stmt)).all())


def _ocpi_conditions(
    date_from: datetime | None, date_to: datetime | None, party: Party | None
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if date_from is not None:
        conds.append(_T.last_updated >= date_from)
    if date_to is not None:
        conds.append(_T.last_updated < date_to)
    if party is not None:
        conds.append(_T.country_code == party[0])
        conds.append(_T.party_id == party[1])
    return conds


@dataclass(frozen=True)
class PageCursor:
    """Where a page of `GET /tokens` ended: the `(last_updated, id)` of its last token, and the offset of
    the page that follows. Carried in our `Link` (`cursor=`) next to `offset`, so a crawl that follows
    `Link` reads each page by key (constant cost, however deep) instead of skipping `offset` rows."""

    last_updated: datetime
    id: int
    offset: int

    def encode(self) -> str:
        micros = (self.last_updated - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}-{self.offset}"

    @classmethod
    def decode(cls, text: str | None, offset: int) -> PageCursor | None:
        """The cursor, or None when absent, malformed, or for another offset than the one asked (a client
        that builds its own URLs gets plain offset paging)."""
        try:
            micros, token_id, at = (int(part) for part in (text or "").split("-"))
            when = _EPOCH + timedelta(microseconds=micros)
        except (ValueError, OverflowError, OSError):
            return None
        return cls(when, token_id, at) if at == offset and token_id >= 0 else None


class CountCache:
    """X-Total-Count of the pages after the first one of a crawl, reused for `ttl` seconds per filter set.

    Counting 500,000 tokens costs tens of milliseconds, several times the rest of a page; a crawl reads
    hundreds of pages. Only pages reached through our `Link` (with a cursor) use it, so the first page, and
    any request a client builds itself, get an exact count. Tokens are never deleted, so the count only
    lags behind (by at most `ttl`), never drops by mistake.
    """

    def __init__(self, ttl: float = 5.0, size: int = 256) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[tuple[Any, ...], tuple[float, int]] = {}

    def get(self, key: tuple[Any, ...]) -> int | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: tuple[Any, ...], total: int) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, total)


async def ocpi_page(
    session: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
    party: Party | None = None,
    after: PageCursor | None = None,
    counts: CountCache | None = None,
) -> tuple[int, Sequence[Row[Any]], bool]:
    """(X-Total-Count, rows, more follow) of `GET /tokens`: `last_updated` in `[date_from, date_to)`, oldest
    first by `(last_updated, id)`, a stable order. Reads `limit + 1` rows to know whether a next page exists
    (not from the count: a token changed during a crawl moves to the end and must still be served)."""
    conds = _ocpi_conditions(date_from, date_to, party)
    conn = await session.connection()
    key = (date_from, date_to, party)
    total = counts.get(key) if counts is not None and after is not None else None
    if total is None:
        count = select(func.count()).select_from(Token.__table__).where(*conds)
        total = int((await conn.execute(count)).scalar_one())
        if counts is not None:
            counts.put(key, total)
    page = select(_T.id).where(*conds).order_by(_T.last_updated, _T.id).limit(limit + 1)
    if after is not None:
        page = page.where(tuple_(_T.last_updated, _T.id) > tuple_(_at(after.last_updated), literal(after.id)))
    else:
        page = page.offset(offset)
    # Deferred join: the page is found on the (last_updated, id) index alone (an index-only scan on
    # PostgreSQL), and only its rows are read from the table.
    ids = page.subquery("page")
    stmt = select(*OCPI_COLUMNS).join_from(Token.__table__, ids, _T.id == ids.c.id)
    rows = (await conn.execute(stmt.order_by(_T.last_updated, _T.id))).all()
    return total, rows[:limit], len(rows) > limit


def _at(value: datetime) -> Any:
    return literal(value, type_=_T.last_updated.type)


_TOKEN_COLUMN_NAMES = [c.name for c in AUTHORIZE_COLUMNS]

PG_AUTHORIZE_SQL = "\n".join(
    [
        "SELECT pt.token_hash, pt.kind, pt.expires_at, p.status AS partner_status,",
        ", ".join("t." + name for name in _TOKEN_COLUMN_NAMES),
        "FROM partner_tokens pt JOIN partners p ON p.id = pt.partner_id",
        "LEFT JOIN tokens t ON t.uid_norm = $2 AND t.type = $3",
        "  AND ($4::varchar IS NULL OR (t.country_code = $4 AND t.party_id = $5))",
        "WHERE pt.token_hash = ANY($1::varchar[]) LIMIT 20",
    ]
)


def _authorize_statement(
    digests: Sequence[Any], uid_norm: Any, token_type: Any, party: tuple[Any, Any] | None
) -> Any:
    """The authorize query with these values (or bound parameters, for `CompiledAuthorize`)."""
    pt, p = PartnerToken.__table__, Partner.__table__  # type: ignore[attr-defined]
    on = [_T.uid_norm == uid_norm, _T.type == token_type]
    if party is not None:
        on += [_T.country_code == party[0], _T.party_id == party[1]]
    return (
        select(
            pt.c.token_hash,
            pt.c.kind,
            pt.c.expires_at,
            p.c.status.label("partner_status"),
            *AUTHORIZE_COLUMNS,
        )
        .select_from(pt.join(p, p.c.id == pt.c.partner_id).outerjoin(Token.__table__, and_(*on)))
        .where(pt.c.token_hash.in_(digests))
        .limit(20)
    )


AUTHORIZE_MAX_DIGESTS = 3
"""`ocpi.auth.candidate_tokens` reads at most three tokens from one `Authorization` header."""


class CompiledAuthorize:
    """`_authorize_statement` compiled once for SQLite, to run as one fixed SQL string on a plain
    connection (`emsp.sqlite_readers`) and give the rows `authorize_lookup` gives.

    The statement is the regular path's own, with bound parameters: `party` or not (two variants), and
    the digests in `AUTHORIZE_MAX_DIGESTS` slots (fewer are padded by repeating the last one). The rows are
    decoded by the result processors of the statement's column types for the same dialect (SQLite keeps
    `UTCDateTime` as naive text and booleans as 0/1), so they equal the ORM path's, value and type.
    Bound values need no conversion (text only); the constructor checks it."""

    def __init__(self, dialect: Dialect, with_party: bool) -> None:
        pt = PartnerToken.__table__  # type: ignore[attr-defined]
        digests = [bindparam(f"d{i}", type_=pt.c.token_hash.type) for i in range(AUTHORIZE_MAX_DIGESTS)]
        uid_norm, token_type = (
            bindparam("uid_norm", type_=_T.uid_norm.type),
            bindparam("type", type_=_T.type.type),
        )
        party = (bindparam("cc", type_=_T.country_code.type), bindparam("pid", type_=_T.party_id.type))
        stmt = _authorize_statement(digests, uid_norm, token_type, party if with_party else None)
        compiled = stmt.compile(dialect=dialect)
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: positional parameters expected")
        for name in compiled.positiontup:
            if compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"parameter {name} would need a conversion")
        self.sql: str = compiled.string
        self._slots = tuple((name, compiled.params[name]) for name in compiled.positiontup)
        columns = list(stmt.selected_columns)
        self._row: Any = namedtuple("AuthorizeRow", [c.key for c in columns])  # type: ignore[misc]
        self._decoders = tuple(
            (index, decode)
            for index, column in enumerate(columns)
            if (decode := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        )

    def parameters(
        self, digests: Sequence[str], uid: str, token_type: str, party: Party | None
    ) -> tuple[Any, ...]:
        """The positional parameters for 1 to `AUTHORIZE_MAX_DIGESTS` digests (as `authorize_lookup`)."""
        if not 0 < len(digests) <= AUTHORIZE_MAX_DIGESTS:
            raise ValueError("1 to AUTHORIZE_MAX_DIGESTS digests")
        given: dict[str, Any] = {
            f"d{i}": digests[min(i, len(digests) - 1)] for i in range(AUTHORIZE_MAX_DIGESTS)
        }
        given.update(uid_norm=uid.lower(), type=token_type)
        if party is not None:
            given.update(cc=party[0], pid=party[1])
        return tuple(given.get(name, default) for name, default in self._slots)

    def rows(self, records: Iterable[Sequence[Any]]) -> list[Any]:
        """Driver rows as `authorize_lookup` returns them (named fields, decoded values)."""
        rows = []
        for record in records:
            values = list(record)
            for index, decode in self._decoders:
                values[index] = decode(values[index])
            rows.append(self._row._make(values))
        return rows


SQLITE_AUTHORIZE = {
    with_party: CompiledAuthorize(SQLiteDialect_aiosqlite(), with_party) for with_party in (False, True)
}
"""By "a party is addressed": the authorize query for `emsp.sqlite_readers` (see `emsp.tokens.hotpath`)."""


async def authorize_lookup(
    engine: AsyncEngine, digests: list[str], uid: str, token_type: str, party: Party | None = None
) -> list[Any]:
    """The real-time authorization's one query: the caller's credentials token(s) by digest, their partner,
    and (left-joined) the tokens with this uid (case-insensitive) and type, by the `(uid_norm, type)` index.

    Each row has `token_hash`, `kind`, `expires_at`, `partner_status` and the token columns (`id` None when
    no token matched). Read outside any transaction. `PG_AUTHORIZE_SQL` is the same query for asyncpg and
    `SQLITE_AUTHORIZE` this one compiled for plain SQLite connections (`emsp.tokens.hotpath`).
    """
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        stmt = _authorize_statement(digests, uid.lower(), token_type, party)
        return list((await auto.execute(stmt)).all())
