"""JSON routes of P12: questions to experts, the knowledge base and next-issue tips."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.cases import policies as case_policies
from ownwell.cases import repository as case_repository
from ownwell.deps import ApiContext, Ctx
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import BoundedText, PageCursor, RequiredText
from ownwell.knowledge import policies, repository, service
from ownwell.knowledge.models import Article, Question, Tip
from ownwell.knowledge.schemas import (
    AnswerIn,
    ArticleOut,
    Person,
    QuestionIn,
    QuestionOut,
    TipIn,
    TipList,
    TipOut,
)
from ownwell.staff import repository as staff_repository
from ownwell.staff.policies import require_manager

router = APIRouter(tags=["knowledge"])
Cursor = PageCursor | None


def question_out(ctx: Ctx, question: Question) -> QuestionOut:
    expert = staff_repository.get_staff(ctx.session, question.expert_id)
    return QuestionOut(
        id=question.id,
        case_id=question.case_id,
        department_id=question.department_id,
        question=question.question,
        due_at=question.due_at,
        status=question.status,
        expert=Person(id=expert.id, name=expert.name),
        asked_by_id=question.asked_by_id,
        commitment_id=question.commitment_id,
        answer=question.answer,
        answered_at=question.answered_at,
        article_id=question.article_id,
        created_at=question.created_at,
    )


def article_out(article: Article) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        title=article.title,
        body=article.body,
        tags=list(article.tags or []),
        source_case_id=article.source_case_id,
        question_id=article.question_id,
        author_id=article.author_id,
        created_at=article.created_at,
    )


def tip_out(tip: Tip) -> TipOut:
    return TipOut(
        id=tip.id,
        recurring_issue_id=tip.recurring_issue_id,
        text=tip.text,
        author_id=tip.author_id,
        created_at=tip.created_at,
    )


@router.post("/cases/{case_id}/questions", status_code=201, response_model=QuestionOut)
def ask(case_id: str, body: QuestionIn, ctx: ApiContext) -> QuestionOut:
    """ "I'll find out": route a question to an on-duty expert of a department, due by `due_at`."""
    case = case_repository.get(ctx.session, case_id, for_update=True)
    case_policies.require_owner_or_manager(ctx.session, ctx.actor, case, "ask on its behalf")
    question = service.ask(
        ctx.session, case=case, data=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
    )
    return question_out(ctx, question)


@router.get("/cases/{case_id}/questions", response_model=list[QuestionOut])
def questions_of_case(case_id: str, ctx: ApiContext) -> list[QuestionOut]:
    case = case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, case_id))
    return [question_out(ctx, q) for q in repository.questions_of_case(ctx.session, case.id)]


@router.get("/questions/{question_id}", response_model=QuestionOut)
def get_question(question_id: str, ctx: ApiContext) -> QuestionOut:
    question = repository.get_question(ctx.session, question_id)
    case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, question.case_id))
    return question_out(ctx, question)


@router.post("/questions/{question_id}/answer", response_model=QuestionOut)
def answer(question_id: str, body: AnswerIn, ctx: ApiContext) -> QuestionOut:
    question = repository.get_question(ctx.session, question_id, for_update=True)
    policies.require_expert_or_manager(ctx.actor, question)
    service.answer(ctx.session, question=question, data=body, actor=ctx.actor, now=ctx.now)
    return question_out(ctx, question)


@router.get("/knowledge/tips", response_model=TipList)
def tips(recurring_issue_id: RequiredText(40), ctx: ApiContext) -> TipList:  # type: ignore[valid-type]
    """Next-issue-avoidance tips for a recurring issue, newest first."""
    return TipList(items=[tip_out(t) for t in repository.tips_for(ctx.session, recurring_issue_id)])


@router.post("/knowledge/tips", status_code=201, response_model=TipOut)
def add_tip(body: TipIn, ctx: ApiContext) -> TipOut:
    require_manager(ctx.actor, "write next-issue tips")
    tip = service.add_tip(
        ctx.session, recurring_issue_id=body.recurring_issue_id, text=body.text, actor=ctx.actor, now=ctx.now
    )
    return tip_out(tip)


@router.get("/knowledge", response_model=Page[ArticleOut])
def search(
    ctx: ApiContext,
    q: BoundedText(200) | None = None,  # type: ignore[valid-type]
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ArticleOut]:
    """Articles whose title or body contains every word of `q` (any case), newest first."""
    rows = repository.search_articles(ctx.session, q, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda a: a.id)
    return Page[ArticleOut](items=[article_out(a) for a in items], next_cursor=next_cursor)


@router.get("/knowledge/{article_id}", response_model=ArticleOut)
def get_article(article_id: str, ctx: ApiContext) -> ArticleOut:
    return article_out(repository.get_article(ctx.session, article_id))
