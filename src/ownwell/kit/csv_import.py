"""Reading a CSV file for a bulk import: the header checked once, each row with its line number,
and pydantic's complaint about a row said as "column: reason". No business words here."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class BadFile(Exception):
    """The file as a whole cannot be imported (no header, missing columns)."""


def read_rows(
    path: Path, required: tuple[str, ...], *, any_of: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(spreadsheet row number, cells with lower-case names, empty cells left out); the header is
    row 1. Raises BadFile when the header lacks a required column, or has none of `any_of`."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [(name or "").strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in required if name not in header]
        if missing:
            raise BadFile(f"the header has no column {', '.join(missing)} (it needs {', '.join(required)})")
        if any_of and not set(any_of) & set(header):
            raise BadFile(f"the header needs at least one of the columns {', '.join(any_of)}")
        for number, raw in enumerate(reader, start=2):
            cells = {
                (k or "").strip().lower(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items()
            }
            yield number, {k: v for k, v in cells.items() if v not in ("", None)}


def batches(
    rows: Iterator[tuple[int, dict[str, Any]]], size: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    while batch := list(islice(rows, size)):
        yield batch


def count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def reason(exc: ValidationError, columns: dict[str, str] | None = None) -> str:
    """The first complaint as "column: message"; `columns` maps a field name to its column."""
    first = exc.errors()[0]
    path = [str(p) for p in first.get("loc", ())]
    where = (columns or {}).get(path[0], ".".join(path)) if path else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        message = "this column is required"
    return f"{where}: {message}" if where else message


def print_report(
    *, read: int, imported: int, rejected: list[tuple[int, str]], verb: str = "imported"
) -> None:
    """The summary the CLI prints after an import: counts, then each rejected row (200 at most)."""
    print(f"{imported} of {read} rows {verb}; {len(rejected)} rejected.")
    shown = rejected[:200]
    for number, why in shown:
        print(f"  row {number}: {why}")
    if len(rejected) > len(shown):
        print(f"  ... and {len(rejected) - len(shown)} more rows rejected")


def progress_bar(label: str):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr, so stdout keeps only the report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), transient=False)
