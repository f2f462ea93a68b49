"""One Settings object, read from OWNWELL_* environment variables and a `.env` file."""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownwell.kit.private_files import write_private

DATA_DIR = Path("./ownwell-data")


def is_currency_code(value: str) -> bool:
    return len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()


def parse_rates(text: str) -> dict[str, Decimal]:
    """ "USD=0.92, GBP=1.17" -> {"USD": Decimal("0.92"), ...}; refuses anything else, naming the
    variable, so a typo stops the start instead of letting offers in that currency through."""
    rates: dict[str, Decimal] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        code, sep, number = (piece.strip() for piece in item.partition("="))
        try:
            rate = Decimal(number) if sep else None
        except InvalidOperation:
            rate = None
        if not is_currency_code(code) or rate is None or not rate.is_finite() or rate <= 0 or code in rates:
            raise ValueError(
                f"OWNWELL_CURRENCY_RATES: {item!r} is not CODE=RATE (like USD=0.92), a positive rate, "
                "once per currency"
            )
        rates[code] = rate
    return rates


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OWNWELL_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DATA_DIR}/ownwell.db"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # A password sent before STARTTLS crosses the network in the clear: refused unless allowed.
    smtp_allow_plaintext_auth: bool = False
    mail_from: str = "care@localhost"
    intake_smtp_port: int = 0
    # Base64 inflates attachments by a third: the whole message may be bigger than one attachment.
    intake_max_bytes: int = Field(default=25_000_000, gt=0)
    # Inbound attachments: each at most this big; only these content types are kept
    # (comma-separated; anything else is noted on the timeline, not stored).
    intake_attachment_max_bytes: int = Field(default=10_000_000, gt=0)
    intake_attachment_types: str = (
        "application/pdf,image/png,image/jpeg,image/gif,image/webp,image/heic,image/tiff,"
        "text/plain,text/csv,application/msword,application/rtf,application/vnd.ms-excel,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
        "application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet"
    )
    # Inbound mail's sender counts as verified only by an Authentication-Results header (RFC 8601)
    # from one of these authserv-ids (comma-separated); unset: the top-most such header only, the
    # one our receiving server added. See intake/authres.py.
    intake_trusted_authserv_ids: str = ""
    # IMAP polling by the worker; no host = off. Messages are marked seen after the commit.
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, gt=0, lt=65536)  # None: 993 with SSL, else 143
    imap_user: str | None = None
    imap_password: str | None = None
    imap_folder: str = "INBOX"
    imap_ssl: bool = True
    imap_batch: int = Field(default=25, ge=1, le=500)
    imap_timeout_s: float = Field(default=30.0, gt=0)
    worker_interval_s: float = Field(default=5.0, gt=0)
    # Scheduled backups by the worker (`ownwell backup` any time by hand): off while unset.
    backup_dir: str | None = None
    backup_keep: int = Field(default=7, ge=1)
    backup_every_hours: float = Field(default=24.0, gt=0)
    # Customers with no activity (case, message, order, feedback) for this many days have their
    # personal data erased by the worker (customers/erasure.py); unset = kept until asked.
    retention_days: int | None = Field(default=None, ge=1)
    timezone: str = "UTC"
    portal_link_days: int = Field(default=30, gt=0)
    # Gateway for customers who prefer SMS or chat: HMAC-SHA256-signed JSON POSTs (a URL needs
    # a secret; see notifications/signing.py for the signature).
    webhook_url: str | None = None
    webhook_secret: str = ""
    # Request bodies larger than this are refused with 413 while they stream in (JSON and
    # forms); multipart uploads may be as large as an intake message (`intake_max_bytes`).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # /metrics: with a token, only `Authorization: Bearer <token>` reads it; without, loopback only.
    metrics_token: str | None = None
    delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    delivery_backoff_s: float = Field(default=30.0, gt=0)
    # A claimed batch must be sent within the lease, or another worker takes it over.
    delivery_lease_s: float = Field(default=300.0, gt=0)
    delivery_batch: int = Field(default=50, ge=1, le=1000)
    smtp_timeout_s: float = Field(default=20.0, gt=0)
    check_in_days: int = Field(default=14, ge=1)
    reminder_lead_minutes: int = Field(default=120, ge=1)
    # How long an offer above someone's authority may wait for a supervisor before they are reminded.
    approval_sla_minutes: int = Field(default=240, ge=1)
    # The organisation's currency: authority limits are in it. An offer in another currency is
    # refused unless `currency_rates` says what one unit of it is worth here, such as
    # "USD=0.92,GBP=1.17" (units of `currency` per unit of the other).
    currency: str = "EUR"
    currency_rates: str = ""
    # Recurring issues (P10): the worker matches new cases every `insights_interval_s`, which is
    # far shorter than the timer sweep so a case has its issue within seconds. The similarity
    # threshold was chosen on CFPB complaints, not on any benchmark's labels (bench/RESULTS.md).
    insights_enabled: bool = True
    insights_interval_s: float = Field(default=0.5, gt=0)
    insights_threshold: float = Field(default=0.55, gt=0, lt=1)
    insights_spike_cases: int = Field(default=5, ge=2)
    insights_spike_window_hours: int = Field(default=24, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not is_currency_code(value):
            raise ValueError(
                f"OWNWELL_CURRENCY must be a three-letter ISO 4217 code in upper case, not {value!r}"
            )
        return value

    @field_validator("currency_rates")
    @classmethod
    def _rate_table(cls, value: str) -> str:
        parse_rates(value)
        return value

    def rates(self) -> dict[str, Decimal]:
        """`currency_rates` as a table: code -> units of the organisation's currency per unit."""
        return parse_rates(self.currency_rates)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_unsafe_delivery(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError(
                "OWNWELL_WEBHOOK_URL is set but OWNWELL_WEBHOOK_SECRET is empty: the gateway could "
                "not tell our messages from forged ones; set a long random secret"
            )
        if self.smtp_user and not self.smtp_starttls and not self.smtp_allow_plaintext_auth:
            raise ValueError(
                "OWNWELL_SMTP_USER is set without OWNWELL_SMTP_STARTTLS=1: the password would cross "
                "the network in the clear; turn STARTTLS on, or set "
                "OWNWELL_SMTP_ALLOW_PLAINTEXT_AUTH=1 if the link is otherwise protected"
            )
        return self

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once into ./ownwell-data/secret (read once:
        this sits on the path of every request that signs a portal link)."""
        if not self.secret_key:
            self.secret_key = self._stored_secret()
        return self.secret_key

    @staticmethod
    def _stored_secret() -> str:
        path = DATA_DIR / "secret"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        write_private(path, key)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
