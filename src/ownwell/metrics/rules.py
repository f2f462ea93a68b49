"""Pure computations behind the metrics: rates, percentiles, cadence windows and the
disloyalty score. Functions of data only; the repository supplies the rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Events that open a cadence window (P5): the case was opened, or the customer was just told
# something that promises the next update. `message_out` and `order_problem` also close one.
WINDOW_STARTS = ("case_created", "message_out", "order_problem", "reopened")
# Customer-visible updates that close the open window: a reply, order news, the resolution.
WINDOW_CLOSES = ("message_out", "order_problem", "resolved")

# How many days after a resolution a new contact about the same thing counts as a repeat.
REPEAT_DAYS = 7
LOW_CSAT = 2  # 1-5: "bad" or worse
LOW_CES = 2  # 1-7 where 7 is "very easy": a customer who found it very hard

# Disloyalty risk: each unit of friction and what it weighs. Published with every answer so a
# reader can recompute the score from the parts.
RISK_WEIGHTS: dict[str, int] = {
    "open_problems": 2,
    "broken_commitments": 3,
    "late_updates": 1,
    "repeat_contacts": 2,
    "low_scores": 3,
}


def rate(numerator: int, denominator: int) -> float | None:
    """A share rounded to 4 places; None (not 0) when there is nothing to measure."""
    return round(numerator / denominator, 4) if denominator else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p % of values at or below it.
    Chosen because a reader can check it by hand: sort, count, pick."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def mean(total: float | None, count: int) -> float | None:
    return round(float(total) / count, 2) if count and total is not None else None


@dataclass(frozen=True)
class WindowEvent:
    id: str  # event ids grow with time: they order events of the same instant
    case_id: str
    customer_id: str
    kind: str
    at: datetime
    update_due: datetime | None  # as recorded on the event; None on older events
    cadence_minutes: int  # the case kind's cadence, the fallback when update_due was not recorded


@dataclass(frozen=True)
class Window:
    case_id: str
    customer_id: str
    due: datetime
    closed_at: datetime | None
    on_time: bool
    # When the outcome became known: the closing update if on time, else the due time.
    decided_at: datetime


def cadence_windows(events: Iterable[WindowEvent], *, end: datetime) -> list[Window]:
    """Every cadence window of the given cases that was decided before `end`. A window is on
    time when a customer-visible update (or the resolution) came at or before its due time; a
    window still open at `end` is late once its due time has passed and undecided before."""
    windows: list[Window] = []
    by_case: dict[str, list[WindowEvent]] = {}
    for event in events:
        by_case.setdefault(event.case_id, []).append(event)
    for case_events in by_case.values():
        case_events.sort(key=lambda e: (e.at, e.id))
        open_due: datetime | None = None
        customer_id = case_events[0].customer_id
        case_id = case_events[0].case_id
        for event in case_events:
            if event.at >= end:
                break
            if open_due is not None and event.kind in WINDOW_CLOSES:
                on_time = event.at <= open_due
                windows.append(
                    Window(
                        case_id=case_id,
                        customer_id=customer_id,
                        due=open_due,
                        closed_at=event.at,
                        on_time=on_time,
                        decided_at=event.at if on_time else open_due,
                    )
                )
                open_due = None
            if event.kind in WINDOW_STARTS:
                open_due = event.update_due or event.at + timedelta(minutes=event.cadence_minutes)
        if open_due is not None and open_due < end:
            windows.append(
                Window(
                    case_id=case_id,
                    customer_id=customer_id,
                    due=open_due,
                    closed_at=None,
                    on_time=False,
                    decided_at=open_due,
                )
            )
    return windows


@dataclass(frozen=True)
class Resolution:
    case_id: str
    customer_id: str
    order_id: str | None
    recurring_issue_id: str | None
    at: datetime


@dataclass(frozen=True)
class Contact:
    """A case the customer opened (not one we opened proactively)."""

    case_id: str
    customer_id: str
    order_id: str | None
    recurring_issue_id: str | None
    at: datetime


def repeats(resolutions: Iterable[Resolution], contacts: Iterable[Contact]) -> list[Resolution]:
    """Resolutions followed within REPEAT_DAYS by another contact from the same customer about
    the same order or the same recurring issue."""
    by_customer: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_customer.setdefault(contact.customer_id, []).append(contact)
    found = []
    for res in resolutions:
        horizon = res.at + timedelta(days=REPEAT_DAYS)
        for contact in by_customer.get(res.customer_id, []):
            if contact.case_id == res.case_id or not res.at < contact.at <= horizon:
                continue
            same_order = res.order_id is not None and contact.order_id == res.order_id
            same_issue = (
                res.recurring_issue_id is not None and contact.recurring_issue_id == res.recurring_issue_id
            )
            if same_order or same_issue:
                found.append(res)
                break
    return found


def reopened_resolutions(
    events: Iterable[tuple[str, str, datetime]], *, since: datetime, end: datetime
) -> tuple[int, int]:
    """(resolutions in [since, end), of which later reopened) from (case_id, kind, at) rows of
    `resolved` and `reopened` events: a resolution counts as reopened when the next of these
    events on its case is a reopen."""
    by_case: dict[str, list[tuple[datetime, str]]] = {}
    for case_id, kind, at in events:
        by_case.setdefault(case_id, []).append((at, kind))
    resolved = reopened = 0
    for rows in by_case.values():
        rows.sort(key=lambda r: (r[0], r[1] != "resolved"))
        for i, (at, kind) in enumerate(rows):
            if kind != "resolved" or not since <= at < end:
                continue
            resolved += 1
            following = rows[i + 1] if i + 1 < len(rows) else None
            if following is not None and following[1] == "reopened" and following[0] < end:
                reopened += 1
    return resolved, reopened


def risk_score(parts: dict[str, int]) -> int:
    return sum(RISK_WEIGHTS[name] * count for name, count in parts.items())
