"""Polling a mailbox over IMAP (imap-tools): unseen messages go through the same receive path
as the SMTP listener (so dedup and quarantine apply), and are marked seen only once the
database has committed them. A crash in between leaves them unseen; the next poll finds them
already received and just marks them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from imap_tools import AND, BaseMailBox, MailBox, MailBoxUnencrypted, MailMessageFlags
from sqlalchemy import event
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.intake.models import MailSource
from ownwell.intake.service import receive_email

log = logging.getLogger("ownwell.intake")


def connect(settings: Settings) -> BaseMailBox:
    ssl = settings.imap_ssl
    port = settings.imap_port or (993 if ssl else 143)
    box: BaseMailBox
    if ssl:
        box = MailBox(settings.imap_host or "", port=port, timeout=settings.imap_timeout_s)
    else:
        box = MailBoxUnencrypted(settings.imap_host or "", port=port, timeout=settings.imap_timeout_s)
    return box.login(settings.imap_user or "", settings.imap_password or "", settings.imap_folder)


def fetch_raw(box: BaseMailBox, uid: str) -> bytes | None:
    """The message's bytes exactly as stored, without setting \\Seen (BODY.PEEK) and without
    letting a parser near them: that is receive_email's job, which quarantines what it cannot read."""
    status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        raise RuntimeError(f"IMAP FETCH {uid} failed: {data!r}")
    for item in data:
        if isinstance(item, tuple) and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged by someone else meanwhile


def _logout(box: BaseMailBox) -> None:
    try:
        box.logout()
    except Exception:  # the server may already have closed the connection; nothing to keep
        log.debug("IMAP logout failed", exc_info=True)


def _after_commit_mark_seen(session: Session, box: BaseMailBox, uids: list[str]) -> None:
    """Flag `uids` seen right after the caller's transaction commits; on rollback, only log out.
    The listeners go quiet after the first real end (they cannot be removed while firing)."""
    pending = [True]

    def committed(sess: Session) -> None:
        if not pending or sess.in_nested_transaction():
            return  # done already, or a savepoint was released and the real commit is to come
        try:
            if uids:
                box.flag(uids, MailMessageFlags.SEEN, True)
        except Exception:
            # Committed all the same: the next poll finds these already received and marks them.
            log.exception("could not mark %d IMAP message(s) seen", len(uids))

    def ended(_sess: Session, transaction: Any) -> None:
        if pending and transaction.parent is None:
            pending.clear()
            _logout(box)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


def poll(session: Session, *, now: datetime, settings: Settings) -> int:
    """Take up to `imap_batch` unseen messages into the caller's transaction."""
    box = connect(settings)
    taken: list[str] = []
    try:
        for uid in box.uids(AND(seen=False))[: settings.imap_batch]:
            raw = fetch_raw(box, uid)
            if raw is None:
                continue
            result = receive_email(session, raw=raw, now=now, settings=settings, source=MailSource.imap)
            log.info(
                "IMAP message %s: %s %s", uid, result.outcome, result.case_id or result.quarantine_id or ""
            )
            taken.append(uid)
    except BaseException:
        _logout(box)
        raise
    _after_commit_mark_seen(session, box, taken)
    return len(taken)
