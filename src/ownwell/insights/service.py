"""The only writers of recurring issues. Each call is one change, with its timeline events and any
outbox rows, in the caller's transaction. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Case, Visibility
from ownwell.config import Settings
from ownwell.db import insert_new
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.insights import repository, rules, vectors
from ownwell.insights.models import CaseVector, PreventionAction, PreventionStatus, RecurringIssue
from ownwell.insights.repository import Pending
from ownwell.kit.ids import new_id
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff


def case_text(subject: str, body: str) -> str:
    """The customer's words; a subject we derived from the body would only repeat its start."""
    from ownwell.cases.rules import subject_from_body

    if not body.strip() or subject == subject_from_body(body):
        return body or subject
    return f"{subject}\n{body}"


def new_issue(*, label: str, at: datetime, department_id: str | None, now: datetime) -> RecurringIssue:
    return RecurringIssue(
        id=new_id("rci"),
        label=rules.label_for(label),
        case_count=0,
        first_seen=at,
        last_seen=at,
        department_id=department_id,
        vector_sum=b"",
        created_at=now,
        updated_at=now,
    )


def _note_member(issue: RecurringIssue, *, at: datetime, department_id: str | None) -> None:
    issue.case_count += 1
    issue.first_seen = min(issue.first_seen, at)
    issue.last_seen = max(issue.last_seen, at)
    if issue.department_id is None and department_id is not None:
        issue.department_id = department_id


def live_centroids(session: Session) -> rules.Centroids:
    # Issues whose vectors came from an earlier model stay as they are but attract no new case
    # until `ownwell insights rebuild` re-embeds them.
    rows = [(issue_id, data) for issue_id, data in repository.live_sums(session) if vectors.fits(data)]
    sums = (
        np.stack([vectors.from_bytes(data) for _, data in rows])
        if rows
        else np.zeros((0, vectors.DIM), np.float32)
    )
    return rules.Centroids([issue_id for issue_id, _ in rows], sums)


def assign(
    session: Session,
    *,
    pending: Sequence[Pending],
    embedded: NDArray[np.float32],
    now: datetime,
    settings: Settings,
) -> int:
    """Match each new case to the most similar live issue, or start a new one. Cases are taken in
    arrival order and every match moves its issue's centroid before the next case is compared."""
    if not pending:
        return 0
    centroids = live_centroids(session)
    # First decide, on the matrix alone; then load only the issues that gain a case.
    choices: list[tuple[str | None, float]] = []
    fresh_ids: dict[int, str] = {}
    for n, vector in enumerate(embedded):
        best, similarity = centroids.best(vector)
        if best is None or not rules.joins(similarity, settings.insights_threshold):
            best = fresh_ids[n] = new_id("rci")
            choices.append((None, similarity))
        else:
            choices.append((best, similarity))
        centroids.add(best, vector)
    issues = repository.issues_by_id(session, sorted({c for c, _ in choices if c is not None}))
    touched: dict[str, str] = {}
    chosen_ids: list[str] = []
    for n, (item, vector) in enumerate(zip(pending, embedded, strict=True)):
        chosen, similarity = choices[n]
        created = chosen is None
        if created:
            issue = new_issue(
                label=item.subject, at=item.created_at, department_id=item.department_id, now=now
            )
            issue.id = fresh_ids[n]
            session.add(issue)
            issues[issue.id] = issue
        else:
            issue = issues[chosen]  # type: ignore[index]
        issue.updated_at = now
        _note_member(issue, at=item.created_at, department_id=item.department_id)
        session.add(
            CaseVector(
                case_id=item.case_id,
                issue_id=issue.id,
                issue=issue,
                vector=vectors.to_bytes(vector),
                case_created_at=item.created_at,
                assigned_at=now,
            )
        )
        timeline.record(
            session,
            case_id=item.case_id,
            kind="recurring_issue_matched",
            at=now,
            visibility=Visibility.internal,
            text=("Started a new recurring issue: " if created else "Matches recurring issue: ")
            + issue.label,
            data={"issue_id": issue.id, "similarity": round(similarity, 4), "new_issue": created},
        )
        touched[issue.id] = item.case_id
        chosen_ids.append(issue.id)
    for issue_id in touched:
        issues[issue_id].vector_sum = vectors.to_bytes(centroids.sums[centroids.index[issue_id]])
    # New rows as plain executemany INSERTs, then one UPDATE statement for all the cases: the ORM
    # unit of work cost more CPU than the statements (the worker shares the GIL with intake).
    insert_new(session)
    repository.set_issue_of_cases(
        session, [(p.case_id, choice_id) for p, choice_id in zip(pending, chosen_ids, strict=True)]
    )
    for issue_id, case_id in touched.items():
        check_spike(session, issue=issues[issue_id], trigger_case_id=case_id, now=now, settings=settings)
    return len(pending)


def check_spike(
    session: Session, *, issue: RecurringIssue, trigger_case_id: str, now: datetime, settings: Settings
) -> bool:
    """K cases of one issue within the window alert the responsible department once."""
    window = timedelta(hours=settings.insights_spike_window_hours)
    # Most issues are small or alerted already: no count query for those.
    if not rules.should_alert_spike(
        recent_cases=issue.case_count,
        spike_cases=settings.insights_spike_cases,
        last_alert=issue.spike_alerted_at,
        now=now,
        window=window,
    ):
        return False
    recent = repository.cases_since(session, issue.id, now - window)
    if not rules.should_alert_spike(
        recent_cases=recent,
        spike_cases=settings.insights_spike_cases,
        last_alert=issue.spike_alerted_at,
        now=now,
        window=window,
    ):
        return False
    issue.spike_alerted_at = now
    hours = settings.insights_spike_window_hours
    for person in repository.alert_recipients(session, issue.department_id):
        enqueue_to_staff(
            session,
            staff_id=person.id,
            email=person.email,
            key=f"insights-spike:{issue.id}:{person.id}:{now.isoformat()}",
            kind="recurring_issue_spike",
            subject=f"Spike: {recent} cases in {hours} h about “{issue.label}”",
            body=(
                f"{recent} customers have raised the same problem within {hours} hours:\n\n"
                f"    {issue.label}\n\n"
                f"Recurring issue {issue.id} ({issue.case_count} cases so far). Please find the root "
                "cause and name a prevention action with an owner."
            ),
            now=now,
            settings=settings,
        )
    timeline.record(
        session,
        case_id=trigger_case_id,
        kind="recurring_issue_spike",
        at=now,
        visibility=Visibility.internal,
        text=f"{recent} cases about this issue within {hours} h: the department was alerted.",
        data={"issue_id": issue.id, "recent_cases": recent},
    )
    return True


def _recompute(issue: RecurringIssue, members: Sequence[CaseVector], cases: dict[str, Case]) -> None:
    """An issue's sums and dates from its member rows (after cases moved in or out)."""
    total = np.zeros(vectors.DIM, np.float32)
    for member in members:
        if vectors.fits(member.vector):
            total += vectors.from_bytes(member.vector)
    issue.vector_sum = vectors.to_bytes(total)
    issue.case_count = len(members)
    if members:
        issue.first_seen = min(m.case_created_at for m in members)
        issue.last_seen = max(m.case_created_at for m in members)
        departments = [cases[m.case_id].caused_by_department_id for m in members if m.case_id in cases]
        if issue.department_id is None:
            issue.department_id = next((d for d in departments if d is not None), None)


def move_cases(
    session: Session,
    *,
    members: Sequence[CaseVector],
    to: RecurringIssue,
    reason: str,
    actor: Staff | None,
    now: datetime,
) -> None:
    for member in members:
        old = member.issue_id
        if old == to.id:
            continue
        member.issue_id = to.id
        timeline.record(
            session,
            case_id=member.case_id,
            kind="recurring_issue_changed",
            at=now,
            visibility=Visibility.internal,
            staff=actor,
            text=f"Moved to recurring issue “{to.label}” ({reason}).",
            data={"old": old, "new": to.id, "reason": reason},
        )
    cases = repository.cases_by_id(session, [m.case_id for m in members])
    for case in cases.values():
        case.recurring_issue_id = to.id


def merge(
    session: Session, *, issue: RecurringIssue, into: RecurringIssue, actor: Staff, now: datetime
) -> RecurringIssue:
    """Every case of `issue` joins `into`; `issue` remains, pointing at the survivor."""
    if issue.id == into.id:
        raise InvalidInput("an issue cannot be merged into itself", field="into_id")
    if into.merged_into_id is not None:
        raise InvalidInput(
            f"{into.id} was merged into {into.merged_into_id}; merge into that", field="into_id"
        )
    if issue.merged_into_id is not None:
        raise Conflict(f"this issue was already merged into {issue.merged_into_id}", code="already_merged")
    members = repository.vectors_of(session, issue.id)
    move_cases(session, members=members, to=into, reason="merged by a supervisor", actor=actor, now=now)
    session.flush()
    survivors = repository.vectors_of(session, into.id)
    _recompute(into, survivors, repository.cases_by_id(session, [m.case_id for m in survivors]))
    if into.root_cause is None and issue.root_cause is not None:
        into.root_cause, into.root_cause_at = issue.root_cause, issue.root_cause_at
    for action in repository.prevention_actions(session, issue.id):
        action.issue_id = into.id
    issue.merged_into_id = into.id
    issue.case_count = 0
    issue.updated_at = into.updated_at = now
    return into


def split(
    session: Session,
    *,
    issue: RecurringIssue,
    case_ids: Sequence[str],
    label: str | None,
    actor: Staff,
    now: datetime,
) -> RecurringIssue:
    """The named cases leave `issue` for a new issue of their own."""
    if issue.merged_into_id is not None:
        raise Conflict(f"this issue was merged into {issue.merged_into_id}", code="already_merged")
    wanted = list(dict.fromkeys(case_ids))
    members = {m.case_id: m for m in repository.vectors_of(session, issue.id)}
    for n, case_id in enumerate(wanted):
        if case_id not in members:
            raise InvalidInput(f"case {case_id!r} is not one of this issue's cases", field=f"case_ids.{n}")
    if len(wanted) == len(members):
        raise InvalidInput("a split must leave at least one case behind", field="case_ids")
    moving = [members[c] for c in wanted]
    cases = repository.cases_by_id(session, [m.case_id for m in members.values()])
    first = min(moving, key=lambda m: m.case_created_at)
    fresh = new_issue(
        label=label or cases[first.case_id].subject,
        at=first.case_created_at,
        department_id=None,
        now=now,
    )
    session.add(fresh)
    session.flush()
    move_cases(session, members=moving, to=fresh, reason="split by a supervisor", actor=actor, now=now)
    _recompute(fresh, moving, cases)
    _recompute(issue, [m for c, m in members.items() if c not in set(wanted)], cases)
    issue.updated_at = now
    return fresh


def record_root_cause(
    session: Session,
    *,
    issue: RecurringIssue,
    root_cause: str,
    prevention_text: str,
    due_at: datetime,
    owner_id: str,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> PreventionAction:
    """The cause, and a prevention action owned by one person, who is told by e-mail."""
    if issue.merged_into_id is not None:
        raise Conflict(f"this issue was merged into {issue.merged_into_id}", code="already_merged")
    try:
        owner = staff_repository.get_staff(session, owner_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="prevention.owner_id") from exc
    if due_at <= now:
        raise InvalidInput("a prevention action is due in the future", field="prevention.due_at")
    old = issue.root_cause
    issue.root_cause, issue.root_cause_at, issue.updated_at = root_cause, now, now
    action = PreventionAction(
        id=new_id("prv"),
        issue_id=issue.id,
        owner_id=owner.id,
        text=prevention_text,
        due_at=due_at,
        status=PreventionStatus.open,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(action)
    enqueue_to_staff(
        session,
        staff_id=owner.id,
        email=owner.email,
        key=f"insights-prevention:{action.id}",
        kind="prevention_assigned",
        subject=f"Prevention action for “{issue.label}”",
        body=(
            f"{actor.name} named you owner of a prevention action, due {due_at.isoformat()}:\n\n"
            f"    {prevention_text}\n\nRoot cause of recurring issue {issue.id} "
            f"({issue.case_count} cases): {root_cause}"
        ),
        now=now,
        settings=settings,
    )
    # The issue's newest case carries the audit entry: that is where its owner will look.
    newest = repository.recent_case_ids(session, [issue.id], 1)[issue.id]
    if newest:
        timeline.record(
            session,
            case_id=newest[0],
            kind="recurring_issue_root_cause",
            at=now,
            visibility=Visibility.internal,
            staff=actor,
            text=f"Root cause of the recurring issue: {root_cause}. Prevention: {prevention_text}",
            data={
                "issue_id": issue.id,
                "old": old,
                "new": root_cause,
                "prevention_id": action.id,
                "owner": timeline.person(owner),
            },
        )
    session.flush()
    return action
