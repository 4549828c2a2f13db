"""Dialect-aware bulk upserts: `INSERT ... ON CONFLICT (key) DO UPDATE` for PostgreSQL and SQLite, where the
update only wins when the incoming row is not older than the stored one.

SQLite, and small batches: one executemany. PostgreSQL, from `COPY_THRESHOLD` rows (a pulled page): the rows
are COPYed into a temporary table on the session's own connection (same transaction), then one set-based
`INSERT ... SELECT ... ON CONFLICT DO UPDATE`: several times cheaper for the database and for us than
hundreds of single-row executions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, case, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

COPY_THRESHOLD = 50


def dialect_name(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


async def bulk_upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    newer: str | None = "last_updated",
    always: Sequence[str] = (),
    insert_only: Sequence[str] = (),
    copy: bool | None = None,
) -> None:
    """Insert `rows` or update the rows with the same `key`.

    On conflict, every column of the rows except `key` and `insert_only` is updated, but when `newer` is
    given only where the incoming `newer` column is >= the stored one (a stale row changes nothing);
    `always` columns are updated in any case (e.g. the pull crawl that saw the row). All rows must have
    the same columns; a key must not repeat within one call (PostgreSQL refuses to touch a row twice).
    `copy`: take the PostgreSQL COPY path (True: required, and JSON values may then be JSON text already;
    None: from `COPY_THRESHOLD` rows on PostgreSQL).
    """
    if not rows:
        return
    if copy is None:
        copy = dialect_name(session) == "postgresql" and len(rows) >= COPY_THRESHOLD
    if copy:
        await _copy_upsert(session, table, rows, key=key, newer=newer, always=always, insert_only=insert_only)
        return
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    stmt = insert(table)
    excluded = stmt.excluded
    skip = set(key) | set(insert_only)
    wins = None if newer is None else excluded[newer] >= table.c[newer]
    values: dict[str, Any] = {}
    for name in rows[0]:
        if name in skip:
            continue
        if name in always or wins is None:
            values[name] = excluded[name]
        else:
            values[name] = case((wins, excluded[name]), else_=table.c[name])
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in key], set_=values)
    await session.exec(stmt, params=list(rows))


def dedupe_newest(
    rows: list[dict[str, Any]], key: Sequence[str], newer: str = "last_updated"
) -> list[dict[str, Any]]:
    """`rows` with one row per key: the newest by `newer` (the later one on a tie), first-seen order kept."""
    keys = [tuple(row[name] for name in key) for row in rows]
    if len(set(keys)) == len(keys):
        return rows
    chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for k, row in zip(keys, rows, strict=True):
        old = chosen.get(k)
        if old is None or row[newer] >= old[newer]:
            chosen[k] = row
    return list(chosen.values())


async def _copy_upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    newer: str | None,
    always: Sequence[str],
    insert_only: Sequence[str],
) -> None:
    """PostgreSQL: COPY into a session-local temporary table, then one INSERT ... SELECT ... ON CONFLICT."""
    names = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    bind = {
        c.name: c.type.bind_processor(session.get_bind().dialect) for c in table.columns if c.name in names
    }
    records = []
    for row in rows:
        record = []
        for name in names:
            value = row[name]
            if name in json_columns:
                value = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            elif bind.get(name) is not None and value is not None:
                value = bind[name](value)  # type: ignore[misc]
            record.append(value)
        records.append(tuple(record))
    temp = f"_upsert_{table.name}"
    columns = ", ".join(f'"{n}"' for n in names)
    target = f'"{table.name}"'
    skip = set(key) | set(insert_only)
    updates = []
    for name in names:
        if name in skip:
            continue
        if name in always or newer is None:
            updates.append(f'"{name}" = excluded."{name}"')
        else:
            updates.append(
                f'"{name}" = CASE WHEN excluded."{newer}" >= {target}."{newer}" '
                f'THEN excluded."{name}" ELSE {target}."{name}" END'
            )
    conflict = ", ".join(f'"{k}"' for k in key)
    connection = await session.connection()
    await connection.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {temp} AS SELECT * FROM {target} WITH NO DATA")  # noqa: S608
    )
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(temp, records=records, columns=names)
    await connection.execute(
        text(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {temp} "  # noqa: S608 - names from metadata
            f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(updates)}"
        )
    )
    await connection.execute(text(f"TRUNCATE {temp}"))
