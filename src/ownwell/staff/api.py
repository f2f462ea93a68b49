"""JSON routes for departments and staff."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.cases import handover
from ownwell.deps import ApiContext
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.staff import policies, repository, service
from ownwell.staff.models import ApiToken, Department, Staff
from ownwell.staff.schemas import (
    AuthorityOut,
    DepartmentIn,
    DepartmentOut,
    StaffIn,
    StaffOut,
    StaffPatch,
    TokenCreated,
    TokenIn,
    TokenOut,
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
        active=staff.active,
        open_case_count=staff.open_case_count,
        created_at=staff.created_at,
    )


@router.post("/departments", status_code=201, response_model=DepartmentOut)
def create_department(body: DepartmentIn, ctx: ApiContext) -> DepartmentOut:
    policies.require_admin(ctx.actor, "create departments")
    return department_out(service.create_department(ctx.session, name=body.name, now=ctx.now, by=ctx.actor))


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
    return staff_out(service.create_staff(ctx.session, data=body, now=ctx.now, by=ctx.actor))


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
    service.update_staff(ctx.session, staff=staff, patch=body, now=ctx.now, by=ctx.actor)
    if body.active is False:
        handover.deactivate(ctx.session, staff=staff, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
    elif body.active:
        service.set_active(ctx.session, staff=staff, active=True, now=ctx.now, by=ctx.actor)
    return staff_out(staff)


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        staff_id=token.staff_id,
        scope=token.scope,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last4=token.last4,
    )


@router.post("/staff/{staff_id}/tokens", status_code=201, response_model=TokenCreated)
def create_token(staff_id: str, ctx: ApiContext, body: TokenIn | None = None) -> TokenCreated:
    """A new API token for a staff member, shown this once; only its hash is stored. Admins
    issue tokens (integrator tokens included); `expires_at` is optional."""
    body = body or TokenIn()
    policies.require_admin(ctx.actor, f"issue {body.scope} API tokens")
    staff = repository.get_staff(ctx.session, staff_id)
    token, secret = service.issue_token(
        ctx.session, staff=staff, now=ctx.now, by=ctx.actor, scope=body.scope, expires_at=body.expires_at
    )
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.get("/staff/{staff_id}/tokens", response_model=Page[TokenOut])
def list_tokens(
    staff_id: str, ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[TokenOut]:
    """A person's tokens, newest first, revoked and expired ones included."""
    staff = repository.get_staff(ctx.session, staff_id)
    policies.require_token_access(ctx.actor, staff, "see their API tokens")
    rows = repository.list_tokens(ctx.session, staff.id, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda t: t.id)
    return Page[TokenOut](items=[token_out(t) for t in items], next_cursor=next_cursor)


@router.get("/staff/{staff_id}/tokens/{token_id}", response_model=TokenOut)
def get_token(staff_id: str, token_id: str, ctx: ApiContext) -> TokenOut:
    staff = repository.get_staff(ctx.session, staff_id)
    policies.require_token_access(ctx.actor, staff, "see their API tokens")
    return token_out(repository.get_token(ctx.session, staff_id=staff.id, token_id=token_id))


@router.delete("/staff/{staff_id}/tokens/{token_id}", response_model=TokenOut)
def revoke_token(staff_id: str, token_id: str, ctx: ApiContext) -> TokenOut:
    """Revoke a token: refused from the very next request on."""
    staff = repository.get_staff(ctx.session, staff_id)
    policies.require_token_access(ctx.actor, staff, "revoke their API tokens")
    token = repository.get_token(ctx.session, staff_id=staff.id, token_id=token_id)
    return token_out(service.revoke_token(ctx.session, token=token, now=ctx.now, by=ctx.actor))
