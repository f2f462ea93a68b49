"""Every query of the knowledge domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.knowledge.models import Article, Question, QuestionStatus, Tip
from ownwell.staff.models import Staff, staff_departments


def get_question(session: Session, question_id: str, *, for_update: bool = False) -> Question:
    question = None
    if looks_like_id("qst", question_id):
        stmt = select(Question).where(Question.id == question_id)
        if for_update:
            stmt = stmt.with_for_update()
        question = session.scalars(stmt).one_or_none()
    if question is None:
        raise NotFound(f"no question with id {question_id!r}")
    return question


def questions_of_case(session: Session, case_id: str) -> Sequence[Question]:
    return session.scalars(select(Question).where(Question.case_id == case_id).order_by(Question.id)).all()


def expert_for(session: Session, department_id: str, *, asker_id: str) -> Staff | None:
    """The on-duty member of the department with the fewest open questions, then the fewest
    open cases; never the person asking (they already do not know)."""
    open_questions = (
        select(func.count(Question.id))
        .where(Question.expert_id == Staff.id, Question.status == QuestionStatus.open)
        .correlate(Staff)
        .scalar_subquery()
    )
    return session.scalars(
        select(Staff)
        .join(staff_departments, staff_departments.c.staff_id == Staff.id)
        .where(
            staff_departments.c.department_id == department_id,
            Staff.on_duty.is_(True),
            Staff.id != asker_id,
        )
        .order_by(open_questions, Staff.open_case_count, Staff.id)
        .limit(1)
    ).one_or_none()


def get_article(session: Session, article_id: str) -> Article:
    article = session.get(Article, article_id) if looks_like_id("kba", article_id) else None
    if article is None:
        raise NotFound(f"no knowledge article with id {article_id!r}")
    return article


def _like(text: str) -> str:
    # The words are matched literally: % and _ typed by a person are not wildcards.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_articles(session: Session, q: str | None, *, limit: int, cursor: str | None) -> Sequence[Article]:
    """Newest first; every word of `q` must appear in the title or the body (any case)."""
    stmt = select(Article)
    for word in (q or "").split():
        pattern = _like(word)
        stmt = stmt.where(
            or_(
                func.lower(Article.title).like(pattern, escape="\\"),
                func.lower(Article.body).like(pattern, escape="\\"),
            )
        )
    return session.scalars(paginate_desc(stmt, Article.id, limit=limit, cursor=cursor)).all()


def tips_for(session: Session, recurring_issue_id: str, *, limit: int = 50) -> Sequence[Tip]:
    return session.scalars(
        select(Tip)
        .where(Tip.recurring_issue_id == recurring_issue_id)
        .order_by(Tip.created_at.desc(), Tip.id.desc())
        .limit(limit)
    ).all()


def suggested_tips(session: Session, recurring_issue_id: str | None, *, limit: int = 5) -> list[str]:
    """What to offer beside the resolve form: the issue's newest tips, each wording once."""
    if not recurring_issue_id:
        return []
    texts: list[str] = []
    for tip in tips_for(session, recurring_issue_id, limit=limit * 4):
        if tip.text not in texts:
            texts.append(tip.text)
    return texts[:limit]
