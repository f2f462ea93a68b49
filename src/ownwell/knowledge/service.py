"""The only writers of the knowledge domain (P12). Like every service they flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Case, Visibility
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments import service as commitment_service
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.config import Settings
from ownwell.errors import Conflict
from ownwell.insights import repository as insights_repository
from ownwell.kit.ids import new_id
from ownwell.knowledge import repository
from ownwell.knowledge.models import Article, Question, QuestionStatus, Tip
from ownwell.knowledge.schemas import AnswerIn, QuestionIn
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff


def ask(
    session: Session, *, case: Case, data: QuestionIn, actor: Staff, now: datetime, settings: Settings
) -> Question:
    """ "I'll find out": the question goes to an expert of the department, who owes the answer by
    `due_at` as a commitment on the case (reminded, escalated and on their agenda like any)."""
    department = staff_repository.get_department(session, data.department_id, field="department_id")
    expert = repository.expert_for(session, department.id, asker_id=actor.id)
    if expert is None:
        raise Conflict(
            f"nobody else in {department.name} is on duty to answer",
            field="department_id",
            code="no_expert_available",
        )
    commitment = commitment_service.make_commitment(
        session,
        case=case,
        text=f"Find out: {data.question.strip()}",
        due_at=data.due_at,
        owner_id=expert.id,
        actor=actor,
        now=now,
        zone=settings.timezone,
    )
    question = Question(
        id=new_id("qst"),
        case_id=case.id,
        department_id=department.id,
        asked_by_id=actor.id,
        expert_id=expert.id,
        commitment_id=commitment.id,
        question=data.question.strip(),
        due_at=commitment.due_at,
        status=QuestionStatus.open,
        created_at=now,
    )
    session.add(question)
    timeline.record(
        session,
        case_id=case.id,
        kind="question_asked",
        at=now,
        visibility=Visibility.internal,
        text=question.question,
        staff=actor,
        data={
            "question_id": question.id,
            "expert": timeline.person(expert),
            "department_id": department.id,
            "commitment_id": commitment.id,
            "due_at": question.due_at.isoformat(),
        },
    )
    enqueue_to_staff(
        session,
        staff_id=expert.id,
        email=expert.email,
        key=f"question:{question.id}",
        kind="question",
        subject=f"A question for you, due {local_time(question.due_at, settings.timezone)}",
        body=f'{expert.name},\n\n{actor.name} asks, for case "{case.subject}":\n\n{question.question}'
        f"\n\n{settings.base_url}/app/cases/{case.id}",
        now=now,
        settings=settings,
        case_id=case.id,
    )
    session.flush()
    return question


def answer(session: Session, *, question: Question, data: AnswerIn, actor: Staff, now: datetime) -> Question:
    """The answer goes on the case timeline (internal: the owner words it for the customer), the
    promise is kept, and when asked the answer is kept as a knowledge article."""
    if question.status != QuestionStatus.open:
        raise Conflict("this question is already answered", code="invalid_transition")
    commitment = commitment_repository.get(session, question.commitment_id, for_update=True)
    if commitment.status in PENDING_STATUSES:
        commitment_service.keep(session, commitment=commitment, actor=actor, now=now)
    article = None
    if data.publish:
        article = Article(
            id=new_id("kba"),
            title=(data.title or "").strip() or question.question[:300],
            body=data.answer.strip(),
            tags=sorted({t.strip().lower() for t in data.tags}),
            source_case_id=question.case_id,
            question_id=question.id,
            author_id=actor.id,
            created_at=now,
        )
        session.add(article)
    question.status = QuestionStatus.answered
    question.answer = data.answer.strip()
    question.answered_at = now
    question.article_id = article.id if article else None
    timeline.record(
        session,
        case_id=question.case_id,
        kind="question_answered",
        at=now,
        visibility=Visibility.internal,
        text=question.answer,
        staff=actor,
        data={
            "question_id": question.id,
            "on_time": now <= question.due_at,
            # A late answer leaves the promise broken: the sweep already said so.
            "commitment_status": commitment.status,
            "article_id": question.article_id,
        },
    )
    session.flush()
    return question


def add_tip(session: Session, *, recurring_issue_id: str, text: str, actor: Staff, now: datetime) -> Tip:
    # A tip for an issue that does not exist would never be suggested: refuse it, naming the field.
    issue = insights_repository.get(session, recurring_issue_id.strip(), field="recurring_issue_id")
    tip = Tip(
        id=new_id("tip"),
        recurring_issue_id=issue.id,
        text=text.strip(),
        author_id=actor.id,
        created_at=now,
    )
    session.add(tip)
    session.flush()
    return tip
