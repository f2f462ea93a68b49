"""Senders: the only code that talks to SMTP servers and webhook gateways."""

from __future__ import annotations

import contextlib
import json
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import format_datetime
from typing import Protocol

import httpx

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.kit.text import one_line
from ownwell.notifications.signing import SIGNATURE_HEADER, signature


class DeliveryError(Exception):
    """A message could not be handed over. `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of an outbox row, detached from the session."""

    id: str
    channel: str
    recipient: str
    subject: str
    body: str
    kind: str
    case_id: str | None
    created_at: datetime


class Sender(Protocol):
    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None: ...


def mail_domain(settings: Settings) -> str:
    return settings.mail_from.rpartition("@")[2] or "localhost"


def message_id(message_id_base: str, settings: Settings) -> str:
    return f"<{message_id_base}@{mail_domain(settings)}>"


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def build_email(message: Outgoing, settings: Settings) -> Message:
    """Headers that let mail clients thread a case and let replies find their way back.

    Built with the compat32 classes: EmailMessage's header objects cost most of a worker's CPU
    per message (measured in bench/delivery_rate.py)."""
    email = MIMEText(message.body, "plain", "utf-8")
    local, _, domain = settings.mail_from.partition("@")
    email["From"] = settings.mail_from
    # The API refuses line breaks in subjects and names; these may come from elsewhere (rows
    # stored before, a gateway, an import), so no text reaches a header unflattened.
    email["To"] = one_line(message.recipient)
    email["Subject"] = _header(one_line(message.subject))
    # Stable per outbox row: a retry after a crash carries the same id, so receivers dedupe.
    email["Message-ID"] = message_id(message.id, settings)
    email["Date"] = format_datetime(message.created_at)
    if message.case_id:
        thread = message_id(message.case_id, settings)
        email["In-Reply-To"] = thread
        email["References"] = thread
        email["Reply-To"] = f"{local}+{message.case_id}@{domain or 'localhost'}"
    if message.kind not in ("reply",):
        # Machine-written: autoresponders must not answer it (no mail loops).
        email["Auto-Submitted"] = "auto-generated"
    email["X-Ownwell-Kind"] = message.kind
    return email


class SmtpSender:
    """One SMTP connection reused for a batch; reconnects when the server drops it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            smtp = smtplib.SMTP(s.smtp_host or "localhost", s.smtp_port, timeout=s.smtp_timeout_s)
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            self._smtp = smtp
        return self._smtp

    def send(self, message: Outgoing) -> None:
        email = build_email(message, self.settings)
        try:
            self._connect().send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self.close()
            raise DeliveryError(
                f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


class WebhookSender:
    """JSON POST to the SMS/chat gateway, signed with the time of sending (signing.py) so the
    gateway can trust it and refuse a replay."""

    def __init__(self, settings: Settings, *, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._client = httpx.Client(timeout=10.0)

    def send(self, message: Outgoing) -> None:
        payload = json.dumps(
            {
                "id": message.id,
                "kind": message.kind,
                "recipient": message.recipient,
                "subject": message.subject,
                "body": message.body,
                "case_id": message.case_id,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(
                self.settings.webhook_secret, payload, timestamp=int(self.clock.now().timestamp())
            ),
            "Idempotency-Key": message.id,
        }
        try:
            response = self._client.post(self.settings.webhook_url or "", content=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
            raise DeliveryError(f"gateway answered {response.status_code}", permanent=permanent)

    def close(self) -> None:
        self._client.close()


class PortalSender:
    """Portal messages are delivered by being on the portal; nothing leaves the machine."""

    def send(self, message: Outgoing) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class MemorySender:
    """A test double that records what would have been sent."""

    sent: list[Outgoing] = field(default_factory=list)
    fail_with: DeliveryError | None = None

    def send(self, message: Outgoing) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)

    def close(self) -> None:
        return None


def senders_for(settings: Settings, *, clock: Clock) -> dict[str, Sender]:
    senders: dict[str, Sender] = {"portal": PortalSender()}
    if settings.smtp_host:
        senders["email"] = SmtpSender(settings)
    if settings.webhook_url:
        senders["webhook"] = WebhookSender(settings, clock=clock)
    return senders
