"""`ownwell import customers FILE.csv`: customers in bulk, matched by identifier, so running the
same file twice changes nothing. One transaction per batch and a savepoint per row: a bad row is
reported (row, column and reason) and leaves nothing behind. A dry run reads and checks every
row against the database in one transaction that it rolls back."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from ownwell.config import Settings
from ownwell.customers import repository, service
from ownwell.customers.schemas import CustomerIn
from ownwell.db import unit_of_work
from ownwell.errors import AppError
from ownwell.kit.csv_import import BadFile, batches, count_rows, print_report, progress_bar, read_rows, reason

IDENTIFIER_COLUMNS = ("email", "phone", "external_id")
# The input's fields, by the column they come from, so that an error names the column.
COLUMN_OF = {"name": "name", "emails": "email", "phones": "phone", "external_ids": "external_id"}
PREFERENCE_COLUMNS = ("channel", "language", "timezone")


class Outcome(StrEnum):
    created = "created"
    updated = "updated"  # a known customer, taught an identifier they did not have yet
    unchanged = "unchanged"


@dataclass
class CustomerImportReport:
    read: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, "column: reason")


def _customer_in(row: dict[str, Any]) -> CustomerIn:
    """A row as the API's input. Several e-mails or phones go in one cell, separated by ';'."""
    if not any(row.get(column) for column in IDENTIFIER_COLUMNS):
        raise InvalidRow("email: give an email, phone or external_id in every row")
    if "external_id" in row and "external_system" not in row:
        raise InvalidRow("external_system: this column is required with an external_id")
    data: dict[str, Any] = {
        "name": row.get("name"),
        "emails": _split(row.get("email")),
        "phones": _split(row.get("phone")),
        "external_ids": {row["external_system"]: row["external_id"]} if "external_id" in row else {},
    }
    preferences = {name: row[name] for name in PREFERENCE_COLUMNS if name in row}
    if preferences:
        data["preferences"] = preferences
    try:
        return CustomerIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidRow(reason(exc, {**COLUMN_OF, "preferences": _preference_column(exc)})) from exc


class InvalidRow(Exception):
    """A row that cannot be imported; the message is "column: reason"."""


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _preference_column(exc: ValidationError) -> str:
    loc = exc.errors()[0].get("loc", ())
    return str(loc[1]) if len(loc) > 1 else "preferences"


def _import_row(session: Session, data: CustomerIn, *, now: datetime, settings: Settings) -> Outcome:
    keys = [key for _, key in service.identifier_keys(data)]
    held = repository.owners_of(session, keys)
    holders = set(held.values())
    if len(holders) > 1:
        raise InvalidRow(
            "email: this row's identifiers belong to different customers "
            f"({', '.join(sorted(holders))}); merge them first"
        )
    service.recognise_or_create(session, data=data, now=now, default_timezone=settings.timezone, prefix="")
    if not holders:
        return Outcome.created
    return Outcome.updated if len(held) < len(set(keys)) else Outcome.unchanged


def import_customers(
    factory: sessionmaker[Session],
    path: Path,
    *,
    now: datetime,
    settings: Settings,
    dry_run: bool = False,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> CustomerImportReport:
    """Import every row it can (or, with `dry_run`, say what it would do and write nothing)."""
    report = CustomerImportReport()
    rows = batches(read_rows(path, (), any_of=IDENTIFIER_COLUMNS), batch_size)
    if dry_run:
        # One transaction for the whole file, so later rows see earlier ones, rolled back at the end.
        with unit_of_work(factory) as session:
            everything = session.begin_nested()
            for batch in rows:
                _import_batch(session, batch, report, now=now, settings=settings)
                if progress is not None:
                    progress(len(batch))
            everything.rollback()
        return report
    for batch in rows:
        with unit_of_work(factory) as session:
            _import_batch(session, batch, report, now=now, settings=settings)
        if progress is not None:
            progress(len(batch))
    return report


def _import_batch(
    session: Session,
    batch: list[tuple[int, dict[str, Any]]],
    report: CustomerImportReport,
    *,
    now: datetime,
    settings: Settings,
) -> None:
    for number, row in batch:
        report.read += 1
        try:
            data = _customer_in(row)
            with session.begin_nested():
                outcome = _import_row(session, data, now=now, settings=settings)
        except InvalidRow as exc:
            report.rejected.append((number, str(exc)))
            continue
        except AppError as exc:
            column = COLUMN_OF.get((exc.field or "").split(".")[0], exc.field)
            report.rejected.append((number, f"{column}: {exc.message}" if column else exc.message))
            continue
        report.outcomes[outcome] += 1


def run_with_progress(
    factory: sessionmaker[Session], path: Path, *, now: datetime, settings: Settings, dry_run: bool
) -> int:
    """The CLI's import: a progress bar, then what was (or would be) done and each rejected row.
    Returns the exit code: 0 every row fine, 1 some rows rejected, 2 the file is unusable."""
    try:
        with progress_bar("checking customers" if dry_run else "importing customers") as bar:
            task = bar.add_task("customers", total=count_rows(path))
            report = import_customers(
                factory,
                path,
                now=now,
                settings=settings,
                dry_run=dry_run,
                progress=lambda n: bar.advance(task, n),
            )
    except BadFile as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    done = report.read - len(report.rejected)
    print_report(
        read=report.read,
        imported=done,
        rejected=report.rejected,
        verb="would be imported" if dry_run else "imported",
    )
    counts = ", ".join(f"{count} {outcome}" for outcome, count in report.outcomes.items())
    print(f"{'Dry run, nothing written: ' if dry_run else ''}{counts}.")
    return 1 if report.rejected else 0
