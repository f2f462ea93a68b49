"""Turning HTML form fields into the API's input shapes, so a web form is validated by exactly
the rules the JSON API applies, and a bad field becomes a 4xx naming it. (form_errors.py keeps
every field's error, for long forms; `validate` stops at the first, for the case page's.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from ownwell.errors import InvalidInput
from ownwell.web.form_errors import field_errors

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """The shape, or InvalidInput naming the first offending field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = next(iter(field_errors(exc).items()))
        if exc.errors()[0].get("type") == "string_too_short":
            message = "Please fill this in."  # a blank text field, as a person sees it
        raise InvalidInput(message, field=None if field == "form" else field) from exc


def local_moment(value: str, zone: str, *, field: str) -> datetime:
    """A `datetime-local` field ('2026-03-02T14:30', no offset) read in the organisation's time
    zone; an offset, if given, wins."""
    text = value.strip()
    if not text:
        raise InvalidInput("Please give a date and time.", field=field)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("This is not a date and time like 2026-03-02 14:30.", field=field) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment


def local_input(moment: datetime | None, zone: str) -> str:
    """The value for a `datetime-local` input showing `moment` in the organisation's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")
