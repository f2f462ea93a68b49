"""Timer sweep of the offers domain: an approval waiting past its SLA reminds its deciders once."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.config import Settings
from ownwell.db import database_unavailable
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time
from ownwell.offers import repository, rules
from ownwell.offers.models import Offer, OfferType
from ownwell.staff import repository as staff_repository

log = logging.getLogger(__name__)


def _remind(session: Session, offer: Offer, *, now: datetime, settings: Settings) -> None:
    case = case_repository.get(session, offer.case_id)
    proposer = staff_repository.get_staff(session, offer.proposed_by_id)
    what = rules.describe(OfferType(offer.type), offer.amount, offer.currency)
    due = local_time(offer.approval_due_at, settings.timezone)  # type: ignore[arg-type]
    for person in repository.deciders(session, offer=offer):
        enqueue_to_staff(
            session,
            staff_id=person.id,
            email=person.email,
            key=f"offer-approval-waiting:{offer.id}:{person.id}",
            kind="approval_reminder",
            subject=f"Waiting for your approval: {what}",
            body=(
                f"{person.name}, {proposer.name} proposed {what} to make things right on "
                f"{case.subject!r}, above their own authority. It was due for a decision by {due}, "
                f"and the customer is waiting.\n\nTheir reason: {offer.note}\n\n"
                f"Approve or reject it (a rejection needs a note): "
                f"{settings.base_url}/app/cases/{case.id}"
            ),
            now=now,
            settings=settings,
            case_id=case.id,
        )
    offer.approval_reminded_at = now


def remind_approvals_waiting(session: Session, *, now: datetime, settings: Settings, batch: int = 500) -> int:
    """Once per offer: running it twice changes nothing."""
    count = 0
    for offer in repository.overdue_unreminded(session, now=now, limit=batch):
        try:
            with session.begin_nested():
                _remind(session, offer, now=now, settings=settings)
            count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not remind about offer %s; skipped", offer.id)
    return count
