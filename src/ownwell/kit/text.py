"""Validated string types for API input: bounded, no NUL bytes (PostgreSQL refuses them)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# What ends a line somewhere: every C0 control (tab too), DEL, NEL, and the Unicode line and
# paragraph separators. None of them belongs in a name or a subject; in a mail header, CR or LF
# starts a header of the sender's choosing.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _single_line(value: str) -> str:
    if _LINE_BREAKING.search(value):
        raise ValueError("must be a single line, without line breaks or control characters")
    return value


def one_line(value: str) -> str:
    """`value` with every run of line-breaking or control characters made one space: for text
    that reaches a header from a path that did not validate it (data stored earlier, mail)."""
    return _LINE_BREAKING.sub(" ", value).strip()


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


def SingleLine(max_length: int, *, required: bool = False) -> type[str]:
    """Text that may become a header (a subject, a name, a title): one line, no controls."""
    base = RequiredText(max_length) if required else BoundedText(max_length)
    return Annotated[base, AfterValidator(_single_line)]  # type: ignore[return-value, valid-type]


Moment = Annotated[AwareDatetime, AfterValidator(_sane_moment)]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000_000, max_digits=12, decimal_places=2)]
# `?cursor=` of a list: the opaque `next_cursor` of the previous page.
PageCursor = Annotated[BoundedText(200), AfterValidator(_cursor)]  # type: ignore[valid-type]
