"""Validated string types for API input: bounded, no NUL bytes (PostgreSQL refuses them)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _cursor(value: str) -> str:
    # A cursor is base64 of an id; one that decodes to NUL ("AA") would reach the database.
    try:
        decoded = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor this API gave out") from exc
    if "\x00" in decoded:
        raise ValueError("not a cursor this API gave out")
    return value


def _sane_moment(value: datetime) -> datetime:
    # Refuse times whose UTC form cannot be stored (year 1 with an offset, year 9999...).
    if not 1970 <= value.year <= 2999:
        raise ValueError("must be between the years 1970 and 2999")
    return value.astimezone(UTC)


def BoundedText(max_length: int, *, min_length: int = 0) -> type[str]:
    """A string of at most `max_length` characters with no NUL."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


def RequiredText(max_length: int) -> type[str]:
    """Like BoundedText, but something other than white space must be there."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(_no_nul),
        AfterValidator(_not_blank),
    ]


Moment = Annotated[AwareDatetime, AfterValidator(_sane_moment)]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000_000, max_digits=12, decimal_places=2)]
# `?cursor=` of a list: the opaque `next_cursor` of the previous page.
PageCursor = Annotated[BoundedText(200), AfterValidator(_cursor)]  # type: ignore[valid-type]
