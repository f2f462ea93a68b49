"""`ownwell import orders FILE.csv`: orders in bulk, one transaction per batch of rows and a
savepoint per row, so a bad row is reported (row number and reason) and leaves nothing behind."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy.orm import Session, sessionmaker

from ownwell.config import Settings
from ownwell.customers.schemas import CustomerIn, EmailIn
from ownwell.db import unit_of_work
from ownwell.errors import AppError
from ownwell.kit.csv_import import BadFile, batches, count_rows, print_report, progress_bar, read_rows, reason
from ownwell.kit.text import BoundedText, Moment, RequiredText
from ownwell.orders import service
from ownwell.orders.models import OrderStatus
from ownwell.orders.schemas import ExternalId, OrderIn
from ownwell.staff.service import ensure_department

REQUIRED = ("external_id", "customer_email", "promised_by", "department")
OPTIONAL = ("customer_name", "status", "delivered_at")


class OrderRow(BaseModel):
    # Exports carry more columns than we need; the rest are ignored, not refused.
    model_config = ConfigDict(extra="ignore")

    external_id: ExternalId
    customer_email: EmailIn
    customer_name: BoundedText(200) | None = None  # type: ignore[valid-type]
    promised_by: Moment
    department: RequiredText(100)  # type: ignore[valid-type]
    status: Literal["placed", "shipped", "delivered", "cancelled"] | None = None
    delivered_at: Moment | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OrderRow:
        if self.delivered_at is not None and self.status not in (None, "delivered"):
            raise ValueError(f"an order that is {self.status} has no delivered_at")
        return self


@dataclass
class ImportReport:
    read: int = 0
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


def _with_zone(value: str, zone: ZoneInfo | None) -> str:
    # With --timezone, a time written without offset is read in that zone; without, refused.
    if zone is None or not value:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.replace(tzinfo=zone).isoformat() if moment.tzinfo is None else value


def _clean(row: dict[str, Any], zone: ZoneInfo | None) -> dict[str, Any]:
    for name in ("promised_by", "delivered_at"):
        if name in row:
            row[name] = _with_zone(row[name], zone)
    return row


def _import_row(session: Session, row: OrderRow, *, now: datetime, settings: Settings) -> None:
    department = ensure_department(session, name=row.department, now=now, by=None)
    data = OrderIn(
        external_id=row.external_id,
        customer=CustomerIn(name=row.customer_name, emails=[row.customer_email]),
        promised_by=row.promised_by,
        department_id=department.id,
    )
    status = OrderStatus(row.status) if row.status else OrderStatus.placed
    if row.delivered_at is not None:
        status = OrderStatus.delivered
    service.create_order(
        session, data=data, now=now, settings=settings, status=status, delivered_at=row.delivered_at
    )


def import_orders(
    factory: sessionmaker[Session],
    path: Path,
    *,
    now: datetime,
    settings: Settings,
    zone: str | None = None,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every row it can; `progress(n)` is called after each committed batch of n rows."""
    report = ImportReport()
    local = ZoneInfo(zone) if zone else None
    for batch in batches(read_rows(path, REQUIRED), batch_size):
        with unit_of_work(factory) as session:
            for number, raw in batch:
                report.read += 1
                try:
                    row = OrderRow.model_validate(_clean(raw, local))
                except ValidationError as exc:
                    report.rejected.append((number, reason(exc)))
                    continue
                try:
                    with session.begin_nested():
                        _import_row(session, row, now=now, settings=settings)
                    report.imported += 1
                except AppError as exc:
                    report.rejected.append(
                        (number, f"{exc.field}: {exc.message}" if exc.field else exc.message)
                    )
        if progress is not None:
            progress(len(batch))
    return report


def run_with_progress(
    factory: sessionmaker[Session], path: Path, *, now: datetime, settings: Settings, zone: str | None
) -> int:
    """The CLI's import: a progress bar, then a summary of what was rejected and why.
    Returns the exit code: 0 all imported, 1 some rows rejected, 2 the file is unusable."""
    if zone:
        try:
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            print(f"error: unknown time zone {zone!r}; use an IANA name like Europe/Paris", file=sys.stderr)
            return 2
    try:
        with progress_bar("importing orders") as bar:
            task = bar.add_task("orders", total=count_rows(path))
            report = import_orders(
                factory,
                path,
                now=now,
                settings=settings,
                zone=zone,
                progress=lambda n: bar.advance(task, n),
            )
    except BadFile as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    print_report(read=report.read, imported=report.imported, rejected=report.rejected)
    return 1 if report.rejected else 0
