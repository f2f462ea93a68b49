"""Recording what the customer says about a resolution (P9): a bad answer reopens the case
with the same owner; "all good" on the confirm link closes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.cases import lifecycle, timeline
from ownwell.cases.models import Case, CaseStatus, Visibility
from ownwell.cases.service import move_status
from ownwell.config import Settings
from ownwell.customers.models import Customer
from ownwell.feedback.models import Feedback, FollowUp, FollowUpStatus
from ownwell.kit.ids import new_id

LOW_CSAT = 2


def needs_reopening(*, fixed: bool | None, csat: int | None) -> bool:
    return fixed is False or (csat is not None and csat <= LOW_CSAT)


def record_feedback(
    session: Session,
    *,
    case: Case,
    customer: Customer,
    source: str,
    fixed: bool | None,
    csat: int | None,
    ces: int | None,
    comment: str | None,
    now: datetime,
    settings: Settings,
) -> Feedback:
    follow_up = None
    if source == "check_in":
        follow_up = session.scalars(
            select(FollowUp)
            .where(
                FollowUp.case_id == case.id,
                FollowUp.status.in_((FollowUpStatus.sent, FollowUpStatus.scheduled)),
            )
            .order_by(FollowUp.due_at.desc())
            .limit(1)
        ).first()
        if follow_up is not None:
            follow_up.status = FollowUpStatus.answered
            follow_up.answered_at = now
    feedback = Feedback(
        id=new_id("fbk"),
        case_id=case.id,
        follow_up_id=follow_up.id if follow_up else None,
        source=source,
        fixed=fixed,
        csat=csat,
        ces=ces,
        comment=(comment or "").strip() or None,
        at=now,
    )
    session.add(feedback)
    words = [f"fixed: {'yes' if fixed else 'no'}" if fixed is not None else ""]
    words += [f"CSAT {csat}/5" if csat else "", f"effort {ces}/7" if ces else ""]
    timeline.record(
        session,
        case_id=case.id,
        kind="feedback",
        at=now,
        visibility=Visibility.customer,
        text=" · ".join(w for w in words if w) + (f" — {feedback.comment}" if feedback.comment else ""),
        customer=customer,
        data={"source": source, "fixed": fixed, "csat": csat, "ces": ces},
    )
    status = CaseStatus(case.status)
    if needs_reopening(fixed=fixed, csat=csat) and status in (CaseStatus.resolved, CaseStatus.closed):
        reason = (
            "The customer says it is not fixed." if fixed is False else f"The customer rated us {csat}/5."
        )
        lifecycle.reopen_case(
            session, case=case, reason=reason, actor=None, now=now, settings=settings, customer_actor=customer
        )
    elif fixed is True and source == "confirm" and status == CaseStatus.resolved:
        move_status(session, case, CaseStatus.closed, now=now)
        case.closed_at = now
    session.flush()
    return feedback
