"""`ownwell insights rebuild`: re-embed every case and cluster them all at once, keeping the ids
(and so the root causes and prevention actions) of the issues that survive.

The cases are read in one short transaction and embedded outside any (the encoder takes minutes on
a large history, and SQLite's write lock would stop every request for that long); clustering and
saving are then one transaction. A case that arrives meanwhile keeps what the live matcher gave it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from rich.progress import TaskID
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ownwell.cases import timeline
from ownwell.cases.models import Case, CaseEvent, Visibility
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.insights import repository, rules, service, vectors
from ownwell.insights.models import CaseVector, RecurringIssue
from ownwell.insights.repository import Pending

CHUNK = 1000


@dataclass(frozen=True)
class Rebuilt:
    cases: int
    issues: int
    moved: int


def _all_cases(session: Session) -> list[Pending]:
    rows = session.execute(
        select(Case.id, Case.subject, Case.created_at, Case.caused_by_department_id, CaseEvent.text)
        .outerjoin(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.kind == "case_created"))
        .order_by(Case.created_at, Case.id)
    ).all()
    seen: dict[str, Pending] = {}
    for case_id, subject, created_at, department_id, body in rows:
        seen.setdefault(case_id, Pending(case_id, subject or "", body or "", created_at, department_id))
    return list(seen.values())


def embed_cases(
    cases: list[Pending], *, advance: Callable[[int], None] = lambda n: None
) -> NDArray[np.float32]:
    parts = []
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start : start + CHUNK]
        parts.append(vectors.embed([service.case_text(p.subject, p.body) for p in chunk]))
        advance(len(chunk))
    return np.vstack(parts) if parts else np.zeros((0, vectors.DIM), np.float32)


def rebuild(
    session: Session,
    *,
    cases: list[Pending],
    embedded: NDArray[np.float32],
    now: datetime,
    settings: Settings,
    on_stage: Callable[[str, int], None] = lambda stage, total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> Rebuilt:
    """In the caller's transaction: either every case has its new issue, or nothing changed."""
    on_stage("clustering", len(cases))
    labels = rules.cluster(embedded, threshold=settings.insights_threshold, progress=advance)

    old_of = {v.case_id: v for v in repository.all_vectors(session)}
    live = {i.id: i for i in repository.live_issues(session)}
    groups: dict[int, list[int]] = defaultdict(list)
    for row, group in enumerate(labels.tolist()):
        groups[group].append(row)
    # Biggest groups choose first: each keeps the live issue most of its cases came from.
    taken: dict[str, RecurringIssue] = {}
    issue_of_group: dict[int, RecurringIssue] = {}
    for group, rows in sorted(groups.items(), key=lambda g: -len(g[1])):
        votes = Counter(
            old_of[cases[r].case_id].issue_id
            for r in rows
            if cases[r].case_id in old_of and old_of[cases[r].case_id].issue_id in live
        )
        keep = next((i for i, _ in votes.most_common() if i not in taken), None)
        if keep is not None:
            issue = taken[keep] = live[keep]
        else:
            first = cases[rows[0]]
            issue = service.new_issue(
                label=first.subject, at=first.created_at, department_id=first.department_id, now=now
            )
            session.add(issue)
        issue_of_group[group] = issue
    session.flush()

    on_stage("saving", len(cases))
    moved = 0
    by_id = repository.cases_by_id(session, [p.case_id for p in cases])
    for group, rows in groups.items():
        issue = issue_of_group[group]
        total = embedded[rows].sum(axis=0)
        issue.vector_sum = vectors.to_bytes(total)
        issue.case_count = len(rows)
        issue.first_seen = min(cases[r].created_at for r in rows)
        issue.last_seen = max(cases[r].created_at for r in rows)
        issue.updated_at = now
        if issue.department_id is None:
            issue.department_id = next((cases[r].department_id for r in rows if cases[r].department_id), None)
        # The member nearest the centroid names the issue, unless a person already named it.
        if issue.id not in taken:
            nearest = rows[int(np.argmax(embedded[rows] @ vectors.unit(total)))]
            issue.label = rules.label_for(cases[nearest].subject)
        for r in rows:
            item = cases[r]
            row = old_of.get(item.case_id)
            vector = vectors.to_bytes(embedded[r])
            if row is None:
                session.add(
                    CaseVector(
                        case_id=item.case_id,
                        issue_id=issue.id,
                        vector=vector,
                        case_created_at=item.created_at,
                        assigned_at=now,
                    )
                )
            else:
                row.vector = vector
            if by_id[item.case_id].recurring_issue_id != issue.id:
                old = by_id[item.case_id].recurring_issue_id
                by_id[item.case_id].recurring_issue_id = issue.id
                if row is not None:
                    row.issue_id = issue.id
                moved += 1
                timeline.record(
                    session,
                    case_id=item.case_id,
                    kind="recurring_issue_changed",
                    at=now,
                    visibility=Visibility.internal,
                    text=f"Moved to recurring issue “{issue.label}” (rebuild).",
                    data={"old": old, "new": issue.id, "reason": "rebuild"},
                )
        advance(len(rows))
    # An issue that kept no cases points at the issue most of its cases went to.
    survivors = {i.id for i in issue_of_group.values()}
    for issue_id, issue in live.items():
        if issue_id in survivors:
            continue
        # Only the cases this rebuild read: one matched live since then keeps its issue.
        went = Counter(
            by_id[v.case_id].recurring_issue_id
            for v in old_of.values()
            if v.issue_id == issue_id and v.case_id in by_id
        )
        target = next((t for t, _ in went.most_common() if t in survivors), None)
        if target is None:  # it had no cases to begin with
            continue
        issue.merged_into_id = target
        issue.case_count = 0
        issue.updated_at = now
        for action in repository.prevention_actions(session, issue_id):
            action.issue_id = target
    session.flush()
    return Rebuilt(cases=len(cases), issues=len(groups), moved=moved)


def run_with_progress(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> Rebuilt:
    """The rebuild, with a progress bar per stage on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with unit_of_work(factory) as session:
        cases = _all_cases(session)
    with Progress(*columns, console=console) as bar:
        task: list[TaskID] = []

        def on_stage(stage: str, total: int) -> None:
            if task:
                bar.update(task[-1], completed=bar.tasks[-1].total)
            task.append(bar.add_task(stage, total=total))

        def advance(n: int) -> None:
            bar.advance(task[-1], n)

        on_stage("embedding", len(cases))
        embedded = embed_cases(cases, advance=advance)
        with unit_of_work(factory) as session:
            done = rebuild(
                session,
                cases=cases,
                embedded=embedded,
                now=now,
                settings=settings,
                on_stage=on_stage,
                advance=advance,
            )
        if task:
            bar.update(task[-1], completed=bar.tasks[-1].total)
    return done
