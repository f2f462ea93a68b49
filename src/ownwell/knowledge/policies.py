"""Who may ask, answer and write tips."""

from __future__ import annotations

from ownwell.errors import Forbidden
from ownwell.knowledge.models import Question
from ownwell.staff.models import Role, Staff


def require_expert_or_manager(actor: Staff, question: Question) -> Question:
    """The expert owes the answer; a supervisor or admin may give it in their place."""
    if actor.id == question.expert_id or actor.role in (Role.supervisor, Role.admin):
        return question
    raise Forbidden("only the expert asked or a supervisor may answer this question")
