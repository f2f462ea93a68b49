"""Signed links in e-mails that let a customer answer without logging in."""

from __future__ import annotations

from datetime import datetime, timedelta

from ownwell.config import Settings
from ownwell.portal.links import make_token

ANSWER_DAYS = 60


def feedback_url(settings: Settings, *, customer_id: str, case_id: str, now: datetime, source: str) -> str:
    token = make_token(
        settings.resolved_secret_key(),
        customer_id=customer_id,
        case_id=case_id,
        expires_at=now + timedelta(days=ANSWER_DAYS),
    )
    return f"{settings.base_url}/feedback/{token}?source={source}"
