"""Put a prebuilt SQLAlchemy SELECT inside hand-written PostgreSQL text, so a fast path that must read
several things in one statement reuses the very statements of the regular path instead of a copy.

`embed(select, {"cc": "$2", "tariff_id": "ct.tid"})` compiles the SELECT for PostgreSQL and replaces each
named bound parameter by the SQL given for it (a positional parameter, a column of the outer query); bound
values the statement carries itself (constants such as an enum value or a LIMIT) are written as literals.
`json_rows(select, ...)` wraps that as one JSON array of row arrays, with every exact-decimal column as text;
`decode_rows` reads it back into the values the regular path would have had (`ExactDecimal` normalised).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql

from partners.sqltypes import ExactDecimal

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "NULL"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot embed a bound value of type {type(value).__name__}")


def embed(statement: Select[Any], names: Mapping[str, str]) -> str:
    """The statement's PostgreSQL text with `names` substituted (other parameters must carry a value)."""
    compiled = statement.compile(dialect=postgresql.dialect())
    params = compiled.params

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in names:
            return names[name]
        if params.get(name) is None:
            raise KeyError(f"bound parameter {name!r} has no value and no substitute")
        return _literal(params[name])

    return _PLACEHOLDER.sub(substitute, compiled.string).replace("%%", "%")


def exact_columns(statement: Select[Any]) -> list[bool]:
    """Per selected column: is it an `ExactDecimal` (read back as a normalised Decimal)?"""
    return [isinstance(column.type, ExactDecimal) for column in statement.selected_columns]


def json_rows(statement: Select[Any], names: Mapping[str, str], alias: str) -> str:
    """SQL of one JSON value: the statement's rows as arrays (NULL when there is none)."""
    exact = exact_columns(statement)
    names_out = [f"c{i}" for i in range(len(exact))]
    cells = [
        f"{alias}.{n}::text" if is_exact else f"{alias}.{n}"
        for n, is_exact in zip(names_out, exact, strict=True)
    ]
    # Statement text from SQLAlchemy, names from the caller's constants: no input reaches the text.
    select_list = f"json_agg(json_build_array({', '.join(cells)}))"
    return f"(SELECT {select_list} FROM ({embed(statement, names)}) AS {alias}({', '.join(names_out)}))"  # noqa: S608


def decode_rows(text: str | None, exact: list[bool]) -> list[list[Any]]:
    """The rows of a `json_rows` value, exact-decimal cells as normalised `Decimal`s."""
    if text is None:
        return []
    rows: list[list[Any]] = json.loads(text)
    for row in rows:
        for i, is_exact in enumerate(exact):
            if is_exact and row[i] is not None:
                row[i] = Decimal(row[i]).normalize()
    return rows
