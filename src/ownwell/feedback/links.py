"""Signed links in e-mails that let a customer answer without logging in.

They live 60 days, far longer than a portal link, so they are signed with a salt of their own:
a feedback token opens the feedback page of its one case and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

from ownwell.config import Settings
from ownwell.portal.links import PortalGrant, make_token, read_token

ANSWER_DAYS = 60
FEEDBACK_SALT = "ownwell.feedback"


def feedback_url(settings: Settings, *, customer_id: str, case_id: str, now: datetime, source: str) -> str:
    token = make_token(
        settings.resolved_secret_key(),
        customer_id=customer_id,
        case_id=case_id,
        expires_at=now + timedelta(days=ANSWER_DAYS),
        salt=FEEDBACK_SALT,
    )
    return f"{settings.base_url}/feedback/{token}?source={source}"


def read_feedback_token(secret: str, token: str, *, now: datetime) -> PortalGrant | None:
    """The grant of a feedback link, or None (forged, expired, or a portal token)."""
    return read_token(secret, token, now=now, salt=FEEDBACK_SALT)
