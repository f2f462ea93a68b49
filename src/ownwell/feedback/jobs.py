"""Timer sweeps of the feedback domain: check-ins that are due go out."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases.service import tell_customer
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.db import database_unavailable
from ownwell.feedback.links import feedback_url
from ownwell.feedback.models import FollowUp, FollowUpStatus
from ownwell.notifications import render

log = logging.getLogger(__name__)


def send_check_ins(session: Session, *, now: datetime, settings: Settings, batch: int = 500) -> int:
    due = session.scalars(
        select(FollowUp)
        .where(FollowUp.status == FollowUpStatus.scheduled, FollowUp.due_at <= now)
        .order_by(FollowUp.due_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    count = 0
    for follow_up in due:
        try:
            with session.begin_nested():
                case = case_repository.get(session, follow_up.case_id)
                customer = customer_repository.get(session, case.customer_id)
                url = feedback_url(
                    settings, customer_id=customer.id, case_id=case.id, now=now, source="check_in"
                )
                subject, body = render.check_in(
                    customer_name=customer.name,
                    owner_name=case.owner.name,
                    subject=case.subject,
                    answer_url=url,
                )
                tell_customer(
                    session,
                    case=case,
                    customer=customer,
                    key=f"check-in:{follow_up.id}",
                    kind="check_in",
                    subject=subject,
                    body=body,
                    now=now,
                    settings=settings,
                )
                follow_up.status = FollowUpStatus.sent
                follow_up.sent_at = now
            count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not send check-in %s; skipped", follow_up.id)
    return count
