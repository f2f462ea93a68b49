"""Keeping the files a customer sent with a message: allowed types are stored on the case and
named in the message's timeline event; anything else is noted on the timeline with why.
Writes in the caller's transaction; flushes, never commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Case, CaseEvent, Visibility
from ownwell.config import Settings
from ownwell.intake import rules
from ownwell.intake.models import Attachment
from ownwell.intake.parse import MailFile
from ownwell.kit.ids import new_id

INBOUND_KINDS = frozenset({"case_created", "message_in"})


@contextmanager
def new_events(session: Session) -> Iterator[list[CaseEvent]]:
    """Collects the timeline events added to the session inside the block: the case service
    records the customer's message itself, and this is how we find that exact event."""
    added: list[CaseEvent] = []

    def _pending(_session: Session, instance: Any) -> None:
        if isinstance(instance, CaseEvent):
            added.append(instance)

    event.listen(session, "transient_to_pending", _pending)
    try:
        yield added
    finally:
        event.remove(session, "transient_to_pending", _pending)


def keep_files(
    session: Session,
    *,
    case: Case,
    message_event: CaseEvent | None,
    files: list[MailFile],
    now: datetime,
    settings: Settings,
) -> list[Attachment]:
    """Stores the files the rules accept; the caller has already refused oversized ones."""
    allowed = rules.allowed_types(settings.intake_attachment_types)
    kept: list[Attachment] = []
    not_kept: list[dict[str, Any]] = []
    # Ids are time-ordered but random within a millisecond; sorted, they list the files in the
    # order the customer attached them.
    ids = sorted(new_id("att") for _ in files)
    for index, file in enumerate(files, start=1):
        name = rules.safe_filename(file.filename, file.content_type, index)
        why = rules.refusal(file, allowed=allowed)
        if why is not None:
            not_kept.append(
                {
                    "filename": name,
                    "content_type": file.content_type,
                    "size": len(file.content),
                    "reason": why,
                }
            )
            continue
        row = Attachment(
            id=ids[index - 1],
            case_id=case.id,
            event_id=message_event.id if message_event else None,
            filename=name,
            content_type=file.content_type.lower(),
            size=len(file.content),
            sha256=hashlib.sha256(file.content).hexdigest(),
            created_at=now,
            content=file.content,
        )
        session.add(row)
        kept.append(row)
    for item in not_kept:
        # Customer-visible: they can send it again in a form we keep (a PDF, a photo).
        timeline.record(
            session,
            case_id=case.id,
            kind="attachment_not_kept",
            at=now,
            visibility=Visibility.customer,
            text=(
                f"We did not keep the file {item['filename']} "
                f"({rules.human_size(item['size'])}): {item['reason']}."
            ),
            data=item,
        )
    if message_event is not None and (kept or not_kept):
        # A new dict: the JSON column notices reassignment, not mutation.
        message_event.data = {
            **(message_event.data or {}),
            "attachments": [a.id for a in kept],
            "attachments_not_kept": [i["filename"] for i in not_kept],
        }
    session.flush()
    return kept
