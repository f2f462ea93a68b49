"""Pydantic shapes of the knowledge domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ownwell.kit.text import BoundedText, Moment, RequiredText, SingleLine
from ownwell.knowledge.models import QuestionStatus


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuestionIn(Strict):
    question: RequiredText(2000)  # type: ignore[valid-type]
    department_id: BoundedText(40)  # type: ignore[valid-type]
    due_at: Moment


class AnswerIn(Strict):
    answer: RequiredText(20_000)  # type: ignore[valid-type]
    # Keep the answer as a knowledge article others can find.
    publish: bool = False
    title: SingleLine(300) | None = None  # type: ignore[valid-type]
    tags: list[RequiredText(50)] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]


class Person(BaseModel):
    id: str
    name: str


class QuestionOut(BaseModel):
    id: str
    case_id: str
    department_id: str
    question: str
    due_at: datetime
    status: QuestionStatus
    expert: Person
    asked_by_id: str | None
    commitment_id: str
    answer: str | None
    answered_at: datetime | None
    article_id: str | None
    created_at: datetime


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    tags: list[str]
    source_case_id: str | None
    question_id: str | None
    author_id: str | None
    created_at: datetime


class TipIn(Strict):
    recurring_issue_id: RequiredText(40)  # type: ignore[valid-type]
    text: RequiredText(2000)  # type: ignore[valid-type]


class TipOut(BaseModel):
    id: str
    recurring_issue_id: str
    text: str
    author_id: str | None
    created_at: datetime


class TipList(BaseModel):
    items: list[TipOut]
