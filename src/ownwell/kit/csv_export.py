"""CSV out: a table streamed to the client chunk by chunk, as it is read, with every text cell
that a spreadsheet would run as a formula made inert.

OWASP's advice on CSV injection: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return is prefixed with `'`, so a spreadsheet shows it as text. Only text is escaped: numbers are
written as numbers (a negative one stays a number), and text is what people outside wrote."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from fastapi.responses import StreamingResponse

T = TypeVar("T")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"
# Rows read per query (and per transaction) when a table is read in keyset order.
CHUNK_ROWS = 1000


def cell(value: object) -> str | int | float | Decimal:
    """One value as it goes into the file: text made inert, times in ISO 8601, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(header: Sequence[str], chunks: Iterable[Iterable[Sequence[object]]]) -> Iterator[bytes]:
    """The header, then one piece of the file per chunk of rows: what is held in memory is one
    chunk, never the whole table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for rows in chunks:
        for row in rows:
            writer.writerow([cell(v) for v in row])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # nothing was read: the header alone
        yield buffer.getvalue().encode()


def keyset_chunks(
    read: Callable[[str | None], Sequence[T]], *, key: Callable[[T], str], size: int = CHUNK_ROWS
) -> Iterator[Sequence[T]]:
    """Every row of a keyset-ordered read: `read(after)` returns at most `size` rows following the
    key `after` (None: from the start); the next read continues after the last row's key."""
    after: str | None = None
    while True:
        rows = read(after)
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = key(rows[-1])


def local_date(now: datetime, timezone: str) -> date:
    """The day a file is named after: the organisation's, not UTC's."""
    return now.astimezone(ZoneInfo(timezone)).date()


def csv_response(
    *, name: str, day: date, header: Sequence[str], chunks: Iterable[Iterable[Sequence[object]]]
) -> StreamingResponse:
    """A download named `<name>-<day>.csv`, written while it is sent."""
    return StreamingResponse(
        csv_chunks(header, chunks),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}-{day.isoformat()}.csv"'},
    )
