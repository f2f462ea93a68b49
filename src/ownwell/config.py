"""One Settings object, read from OWNWELL_* environment variables and a `.env` file."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path("./ownwell-data")


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
    mail_from: str = "care@localhost"
    intake_smtp_port: int = 0
    intake_max_bytes: int = Field(default=10_000_000, gt=0)
    worker_interval_s: float = Field(default=5.0, gt=0)
    timezone: str = "UTC"
    portal_link_days: int = Field(default=30, gt=0)
    # Gateway for customers who prefer SMS or chat: HMAC-SHA256-signed JSON POSTs.
    webhook_url: str | None = None
    webhook_secret: str = ""
    delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    delivery_backoff_s: float = Field(default=30.0, gt=0)
    # A claimed batch must be sent within the lease, or another worker takes it over.
    delivery_lease_s: float = Field(default=300.0, gt=0)
    delivery_batch: int = Field(default=50, ge=1, le=1000)
    smtp_timeout_s: float = Field(default=20.0, gt=0)
    check_in_days: int = Field(default=14, ge=1)
    reminder_lead_minutes: int = Field(default=120, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

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
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
