"""Tables of the knowledge domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class QuestionStatus(StrEnum):
    open = "open"
    answered = "answered"


class Question(Base):
    """Something the case owner did not know: routed to an expert of a department, who owes
    the answer by `due_at` through a commitment on the case (P4 keeps track of it)."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_expert_status", "expert_id", "status"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    asked_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    expert_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[QuestionStatus] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    article_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Article(Base):
    """An answer worth keeping: found by search the next time someone does not know."""

    __tablename__ = "knowledge_articles"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    source_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    question_id: Mapped[str | None] = mapped_column(String(40))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Tip(Base):
    """How a customer avoids the next occurrence of a recurring issue. Keyed by the issue's id
    as a plain string: recurring issues live in the insights domain, which may be absent."""

    __tablename__ = "knowledge_tips"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    recurring_issue_id: Mapped[str] = mapped_column(String(40), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
