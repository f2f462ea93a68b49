"""Keyset pagination over opaque string ids: `{items, next_cursor}`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Select

from ownwell.errors import InvalidInput
from ownwell.kit.text import PageCursor

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("cursor is not one this API gave out", field="cursor") from exc


_CURSOR: TypeAdapter[str] = TypeAdapter(PageCursor)


def checked_cursor(cursor: str | None) -> str | None:
    """A page's `?cursor=` checked as the API checks its own (kit.text.PageCursor): one this
    app gave out, or none. Web routes call it; the API's query type does the same."""
    if not cursor:
        return None
    try:
        return _CURSOR.validate_python(cursor)
    except ValidationError as exc:
        raise InvalidInput("cursor is not one this page gave out", field="cursor") from exc


def check_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def paginate_desc(stmt: Select[Any], id_column: Any, *, limit: int, cursor: str | None) -> Select[Any]:
    """Newest first: ids are time-ordered, so `id < cursor` continues where the last page ended."""
    if cursor:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    return stmt.order_by(id_column.desc()).limit(check_limit(limit) + 1)


def split_page(rows: Sequence[T], limit: int, id_of: Any) -> tuple[list[T], str | None]:
    items = list(rows[:limit])
    next_cursor = encode_cursor(id_of(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor
