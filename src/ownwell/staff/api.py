"""JSON routes for departments and staff."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ownwell.deps import ApiContext
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.staff import policies, repository, service
from ownwell.staff.models import Department, Staff
from ownwell.staff.schemas import (
    AuthorityOut,
    DepartmentIn,
    DepartmentOut,
    StaffIn,
    StaffOut,
    StaffPatch,
)

router = APIRouter(tags=["staff"])
Cursor = PageCursor | None


def department_out(department: Department) -> DepartmentOut:
    return DepartmentOut(id=department.id, name=department.name, created_at=department.created_at)


def staff_out(staff: Staff) -> StaffOut:
    return StaffOut(
        id=staff.id,
        name=staff.name,
        email=staff.email,
        role=staff.role,
        department_ids=[d.id for d in staff.departments],
        authority=AuthorityOut(
            refund=staff.authority_refund,
            credit=staff.authority_credit,
            replacement=staff.authority_replacement,
            goodwill=staff.authority_goodwill,
        ),
        on_duty=staff.on_duty,
        open_case_count=staff.open_case_count,
        created_at=staff.created_at,
    )


@router.post("/departments", status_code=201, response_model=DepartmentOut)
def create_department(body: DepartmentIn, ctx: ApiContext) -> DepartmentOut:
    policies.require_admin(ctx.actor, "create departments")
    return department_out(service.create_department(ctx.session, name=body.name, now=ctx.now))


@router.get("/departments", response_model=Page[DepartmentOut])
def list_departments(
    ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[DepartmentOut]:
    rows = repository.list_departments(ctx.session, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda d: d.id)
    return Page[DepartmentOut](items=[department_out(d) for d in items], next_cursor=next_cursor)


@router.post("/staff", status_code=201, response_model=StaffOut)
def create_staff(body: StaffIn, ctx: ApiContext) -> StaffOut:
    policies.require_admin(ctx.actor, "add staff")
    return staff_out(service.create_staff(ctx.session, data=body, now=ctx.now))


@router.get("/staff", response_model=Page[StaffOut])
def list_staff(ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[StaffOut]:
    rows = repository.list_staff(ctx.session, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda s: s.id)
    return Page[StaffOut](items=[staff_out(s) for s in items], next_cursor=next_cursor)


@router.get("/staff/{staff_id}", response_model=StaffOut)
def get_staff(staff_id: str, ctx: ApiContext) -> StaffOut:
    return staff_out(repository.get_staff(ctx.session, staff_id))


@router.patch("/staff/{staff_id}", response_model=StaffOut)
def update_staff(staff_id: str, body: StaffPatch, ctx: ApiContext) -> StaffOut:
    policies.require_admin(ctx.actor, "change staff")
    staff = repository.get_staff(ctx.session, staff_id)
    return staff_out(service.update_staff(ctx.session, staff=staff, patch=body))


class TokenOut(BaseModel):
    token: str


@router.post("/staff/{staff_id}/tokens", status_code=201, response_model=TokenOut)
def create_token(staff_id: str, ctx: ApiContext) -> TokenOut:
    """A new API token for a staff member, shown this once; only its hash is stored."""
    policies.require_admin(ctx.actor, "issue API tokens")
    staff = repository.get_staff(ctx.session, staff_id)
    return TokenOut(token=service.create_token(ctx.session, staff=staff, now=ctx.now))
