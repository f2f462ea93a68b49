"""The built-in inbound SMTP listener (aiosmtpd). Each accepted message is one transaction:
stored whole or not at all, and answered 250 only once it is committed. Mail we cannot read or
process is quarantined (and still answered 250, so the sending server does not retry forever);
a message or attachment over the limits is refused with 552 and the reason; only when nothing
could be stored at all (the database is down) is the answer 451, so the sender tries later."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import database_unavailable, unit_of_work
from ownwell.intake.service import IntakeResult, receive_email

log = logging.getLogger("ownwell.intake")


def _reply(status: str, text: str) -> str:
    """One SMTP reply line: ASCII, no CR/LF (our reasons quote the sender's headers)."""
    safe = " ".join(text.encode("ascii", "replace").decode("ascii").split())
    return f"{status} {safe}"[:400]


class IntakeHandler:
    def __init__(self, settings: Settings, factory: sessionmaker[Session], clock: Clock) -> None:
        self.settings = settings
        self.factory = factory
        self.clock = clock
        self.max_bytes = settings.intake_max_bytes

    def store(self, content: bytes, rcpt_tos: list[str], mail_from: str | None) -> IntakeResult:
        try:
            return self._store_once(content, rcpt_tos, mail_from)
        except IntegrityError:
            # Two deliveries of one message raced on its unique key; this second try sees
            # the first one committed and answers "duplicate".
            return self._store_once(content, rcpt_tos, mail_from)

    def _store_once(self, content: bytes, rcpt_tos: list[str], mail_from: str | None) -> IntakeResult:
        with unit_of_work(self.factory) as session:
            return receive_email(
                session,
                raw=content,
                now=self.clock.now(),
                settings=self.settings,
                envelope_rcpts=rcpt_tos,
                envelope_from=mail_from,
            )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        if len(content) > self.max_bytes:
            log.info("refused %d-byte mail from %r: over the limit", len(content), envelope.mail_from)
            return f"552 5.3.4 Message too big: {len(content)} bytes; the limit is {self.max_bytes} bytes"
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                None, self.store, content, list(envelope.rcpt_tos), envelope.mail_from
            )
        except Exception as exc:
            if database_unavailable(exc):
                # One line, the cause only: an outage would repeat a traceback a message.
                cause = getattr(exc, "orig", exc)
                log.error("database unavailable; asked the sender of a mail to retry: %s", cause)
            else:
                log.exception("could not store mail from %r; asked the sender to retry", envelope.mail_from)
            return "451 4.3.0 Try again later"
        if result.outcome == "refused":
            return _reply("552 5.3.4", f"Message refused: {result.reason}")
        if result.outcome == "ignored":
            return _reply("250 2.0.0", f"Accepted (not answered: {result.reason})")
        if result.outcome == "duplicate":
            return "250 2.0.0 Accepted (already received; nothing done again)"
        if result.outcome == "quarantined":
            # The reason may quote our own failure; the sender only learns it is held.
            return f"250 2.0.0 Accepted (held for review {result.quarantine_id})"
        return f"250 2.0.0 Accepted ({result.outcome} {result.case_id})"


def start_listener(
    settings: Settings,
    factory: sessionmaker[Session],
    clock: Clock,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Controller:
    """Listen on `port` (default: settings.intake_smtp_port); the caller stops the controller."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    handler = IntakeHandler(settings, factory, clock)
    controller = Controller(
        handler,
        hostname=host,
        port=port or settings.intake_smtp_port,
        # The server stops reading a little past the limit; the handler names the limit.
        data_size_limit=settings.intake_max_bytes + 65_536,
    )
    controller.start()
    log.info("accepting e-mail on smtp://%s:%d", host, controller.port)
    return controller
