"""Pydantic shapes of the staff domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer

from ownwell.customers.rules import normalise_email
from ownwell.kit.text import BoundedText, Moment, Money, SingleLine
from ownwell.staff.models import Role, TokenScope

# One rule for every way a password is set (the API, `ownwell user create`, `ownwell user password`).
PASSWORD_MIN_CHARS = 10
PASSWORD_MAX_CHARS = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DepartmentIn(Strict):
    name: SingleLine(100, required=True)  # type: ignore[valid-type]


class DepartmentOut(BaseModel):
    id: str
    name: str
    created_at: datetime


class Authority(Strict):
    """The most a person may give on their own authority, per kind of resolution offer."""

    refund: Money = Decimal(0)
    credit: Money = Decimal(0)
    replacement: Money = Decimal(0)
    goodwill: Money = Decimal(0)


StaffEmail = Annotated[BoundedText(320, min_length=3), AfterValidator(normalise_email)]


class StaffIn(Strict):
    name: SingleLine(200, required=True)  # type: ignore[valid-type]
    email: StaffEmail
    role: Role
    department_ids: list[BoundedText(40)] = Field(default_factory=list, max_length=50)  # type: ignore[valid-type]
    authority: Authority = Field(default_factory=Authority)
    password: BoundedText(PASSWORD_MAX_CHARS, min_length=PASSWORD_MIN_CHARS) | None = None  # type: ignore[valid-type]
    on_duty: bool = True


class StaffPatch(Strict):
    name: SingleLine(200, required=True) | None = None  # type: ignore[valid-type]
    role: Role | None = None
    department_ids: list[BoundedText(40)] | None = Field(default=None, max_length=50)  # type: ignore[valid-type]
    authority: Authority | None = None
    on_duty: bool | None = None
    # false: deactivate (admins only): sessions and tokens end, open cases are handed on.
    active: bool | None = None


class AuthorityOut(BaseModel):
    refund: Decimal
    credit: Decimal
    replacement: Decimal
    goodwill: Decimal

    @field_serializer("refund", "credit", "replacement", "goodwill")
    def _as_string(self, value: Decimal) -> str:
        return f"{value:.2f}"


class StaffOut(BaseModel):
    id: str
    name: str
    email: str
    role: Role
    department_ids: list[str]
    authority: AuthorityOut
    on_duty: bool
    active: bool
    open_case_count: int
    created_at: datetime


class TokenIn(Strict):
    scope: TokenScope = TokenScope.staff
    expires_at: Moment | None = None


class TokenOut(BaseModel):
    """A token as lists show it: never the secret, nor its hash."""

    id: str
    staff_id: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last4: str | None


class TokenCreated(TokenOut):
    token: str  # shown this once
