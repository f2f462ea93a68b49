"""Recording what the customer says about a resolution (P9): a bad answer reopens the case
with the same owner; "all good" on the confirm link or the portal closes it. Praise in what they
say is credited to the owner as kudos (P13)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.cases import lifecycle, timeline
from ownwell.cases.models import Case, CaseStatus, Visibility
from ownwell.cases.service import move_status
from ownwell.config import Settings
from ownwell.customers.models import Customer
from ownwell.feedback import repository, rules
from ownwell.feedback.models import Feedback, FollowUp, FollowUpStatus, Kudos, KudosSource
from ownwell.kit.ids import new_id

LOW_CSAT = 2
# The same answer sent again within this window is a double click or a reloaded page, not a
# second opinion: it is not counted twice (CSAT averages, kudos) and does not reopen twice.
RESUBMIT_WINDOW = timedelta(minutes=30)
# Sources whose "yes, fixed" is the customer confirming the resolution, which closes the case.
CONFIRMING_SOURCES = ("confirm", "portal")


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
    comment = (comment or "").strip() or None
    again = _same_answer(session, case_id=case.id, source=source, answer=(fixed, csat, ces, comment), now=now)
    if again is not None:
        return again
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
        comment=comment,
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
    elif fixed is True and source in CONFIRMING_SOURCES and status == CaseStatus.resolved:
        move_status(session, case, CaseStatus.closed, now=now)
        case.closed_at = now
    # A good score vouches for the comment only when the customer also says it is fixed; on
    # "not fixed" the comment's own words must be praise.
    vouching_score = csat if fixed is not False else None
    if feedback.comment and rules.is_praise(
        feedback.comment, owner_first_name=rules.first_name(case.owner.name), csat=vouching_score
    ):
        record_kudos(
            session, case=case, customer=customer, text=feedback.comment, source=KudosSource.survey, now=now
        )
    session.flush()
    return feedback


def _same_answer(
    session: Session,
    *,
    case_id: str,
    source: str,
    answer: tuple[bool | None, int | None, int | None, str | None],
    now: datetime,
) -> Feedback | None:
    latest = session.scalars(
        select(Feedback)
        .where(Feedback.case_id == case_id, Feedback.source == source, Feedback.at > now - RESUBMIT_WINDOW)
        .order_by(Feedback.at.desc(), Feedback.id.desc())
        .limit(1)
    ).first()
    if latest is not None and (latest.fixed, latest.csat, latest.ces, latest.comment) == answer:
        return latest
    return None


def record_kudos(
    session: Session,
    *,
    case: Case,
    customer: Customer,
    text: str,
    source: KudosSource,
    now: datetime,
) -> Kudos | None:
    """The one writer of kudos: the praise goes to whoever owns the case when it is given, once
    per case and customer (praise repeated in every reply is still one kudos; None then)."""
    added = any(
        isinstance(o, Kudos) and (o.case_id, o.customer_id) == (case.id, customer.id) for o in session.new
    )
    if added or repository.has_kudos(session, case_id=case.id, customer_id=customer.id):
        return None
    kudos = Kudos(
        id=new_id("kud"),
        staff_id=case.owner_id,
        case_id=case.id,
        customer_id=customer.id,
        text=text.strip(),
        source=source,
        created_at=now,
    )
    session.add(kudos)
    timeline.record(
        session,
        case_id=case.id,
        kind="kudos",
        at=now,
        visibility=Visibility.internal,
        text=text.strip(),
        customer=customer,
        data={"staff": timeline.person(case.owner), "source": str(source), "kudos_id": kudos.id},
    )
    return kudos


def kudos_from_message(
    session: Session, *, case: Case, customer: Customer, text: str, now: datetime
) -> Kudos | None:
    """Praise in a message the customer wrote (portal, e-mail, chat) becomes kudos for the owner;
    anything else records nothing."""
    if not rules.is_praise(text, owner_first_name=rules.first_name(case.owner.name)):
        return None
    return record_kudos(session, case=case, customer=customer, text=text, source=KudosSource.message, now=now)
