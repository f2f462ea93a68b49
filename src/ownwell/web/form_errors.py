"""Form errors shown beside the inputs: the API's pydantic shapes validate a whole staff form,
and every bad field gets its sentence (ownwell.web.forms.validate stops at the first one, for
small forms; these pages re-render a long form with everything to fix at once)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ownwell.errors import AppError

Model = TypeVar("Model", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """First error per field: {"authority.refund": "...", "email": "..."}."""
    found: dict[str, str] = {}
    for error in exc.errors():
        parts = [str(p) for p in error.get("loc", ()) if not str(p).startswith(("function-", "constrained-"))]
        name = ".".join(parts) or "form"
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "Please fill this in."
        found.setdefault(name, message[:1].upper() + message[1:])
    return found


def parse(model: type[Model], data: dict[str, Any]) -> tuple[Model | None, dict[str, str]]:
    """(the validated shape, {}) or (None, errors by field)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def app_error(exc: AppError, default_field: str = "form") -> dict[str, str]:
    """A service's refusal (a Conflict on `email`...) shown like a validation error."""
    return {exc.field or default_field: exc.message[:1].upper() + exc.message[1:]}


def per_input(errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by the form input they belong to: an item of a list ('customer_ids.3',
    'department_ids.0') belongs to the list's input, and its sentence says which item."""
    found: dict[str, str] = {}
    for key, message in errors.items():
        name, _, index = key.rpartition(".")
        if name and index.isdigit():
            found.setdefault(name, f"Item {int(index) + 1}: {message[:1].lower()}{message[1:]}")
        else:
            found.setdefault(key, message)
    return found
