"""MSP CDR exports as streams of text chunks (CSV with a header row, or one JSON array), built from
`iter_msp_cdrs` batches: memory stays flat whatever the period."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

from emsp.billing.queries import MSP_CDR_COLUMNS, MspCdrFilter, iter_msp_cdrs, msp_cdr_view
from emsp.db import SessionMaker

_ROWS_PER_CHUNK = 200


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def csv_chunks(sessionmaker: SessionMaker, f: MspCdrFilter) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MSP_CDR_COLUMNS)
    pending = 0
    async for row in iter_msp_cdrs(sessionmaker, f):
        view = msp_cdr_view(row)
        writer.writerow([_cell(view[name]) for name in MSP_CDR_COLUMNS])
        pending += 1
        if pending >= _ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


async def json_chunks(sessionmaker: SessionMaker, f: MspCdrFilter) -> AsyncIterator[str]:
    yield "["
    first = True
    async for row in iter_msp_cdrs(sessionmaker, f):
        yield ("" if first else ",") + json.dumps(msp_cdr_view(row), separators=(",", ":"))
        first = False
    yield "]\n"
