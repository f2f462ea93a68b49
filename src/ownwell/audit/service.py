"""The one writer of audit rows. Called by the writers of audited changes, in their transaction,
so a change and its audit row are stored together or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ownwell.audit.models import AuditEntry
from ownwell.kit.ids import new_id

# Who acts when no staff member does.
COMMAND_LINE = "command line"
WORKER = "worker"


def record(
    session: Session,
    *,
    action: str,
    target_type: str,
    target_id: str | None,
    actor_id: str | None,
    actor_label: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """`before`/`after` hold only the fields that changed, in JSON-friendly values; never a secret."""
    entry = AuditEntry(
        id=new_id("aud"),
        at=now,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        reason=reason,
    )
    session.add(entry)
    session.flush()
    return entry


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose values differ, as (old values, new values)."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
