"""Scheduling check-ins. Kept apart from service.py so the case lifecycle can call it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from ownwell.feedback.models import FollowUp, FollowUpStatus
from ownwell.kit.ids import new_id


def schedule_check_in(session: Session, *, case_id: str, now: datetime, days: int) -> FollowUp:
    """P9: weeks after resolving, ask whether it stayed fixed."""
    follow_up = FollowUp(
        id=new_id("fup"),
        case_id=case_id,
        kind="check_in",
        due_at=now + timedelta(days=days),
        status=FollowUpStatus.scheduled,
        created_at=now,
    )
    session.add(follow_up)
    return follow_up


def cancel_check_ins(session: Session, *, case_id: str) -> None:
    """A reopened case is back in its owner's hands; the old check-in no longer applies."""
    session.execute(
        update(FollowUp)
        .where(FollowUp.case_id == case_id, FollowUp.status == FollowUpStatus.scheduled)
        .values(status=FollowUpStatus.cancelled)
        .execution_options(synchronize_session=False)
    )
