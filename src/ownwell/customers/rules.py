"""Pure rules for recognising customers: how identifiers are normalised."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_SYSTEM_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
_QUIET_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def normalise_email(raw: str) -> str:
    """The address as stored and compared: validated, then case-folded whole."""
    try:
        # test_environment admits *.test, which demo and test organisations use.
        result = validate_email(raw.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from exc
    return result.normalized.casefold()


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (+4915112345678), whatever spaces, dashes or brackets the customer typed."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            "not a phone number we can read; give it with its country code, like +44 20 7946 0000"
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_system(raw: str) -> str:
    system = raw.strip().casefold()
    if not _SYSTEM_RE.match(system):
        raise ValueError("system names are 1-50 characters: letters, digits, '_', '.', '-'")
    return system


def normalise_external_id(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 200 or "\x00" in value:
        raise ValueError("external ids are 1-200 characters")
    return value


def check_quiet_time(raw: str) -> str:
    if not _QUIET_RE.match(raw):
        raise ValueError("quiet hours are HH:MM on a 24-hour clock")
    return raw


def guess_identifier_kind(raw: str) -> str:
    text = raw.strip()
    if "@" in text:
        return "email"
    if re.fullmatch(r"[+\d][\d\s().-]{4,}", text):
        return "phone"
    return "external"


def default_name(emails: list[str], phones: list[str]) -> str:
    """A name to address someone by until they tell us theirs."""
    if emails:
        local = emails[0].split("@", 1)[0]
        words = re.split(r"[._+-]+", local)
        name = " ".join(w.capitalize() for w in words if w)
        return name or emails[0]
    if phones:
        return phones[0]
    return "Customer"
