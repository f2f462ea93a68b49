"""Settings of the staff web app (admins only): departments, staff with their roles,
departments and authority limits, and the update cadence per kind of case. Every form calls the
same service function as the JSON API and shows the API's validation next to the field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.cases import repository as case_repository
from ownwell.cases import service as case_service
from ownwell.cases.models import CaseKind
from ownwell.cases.rules import DEFAULT_CADENCE_MINUTES
from ownwell.cases.schemas import CadenceIn
from ownwell.errors import AppError, InvalidInput
from ownwell.kit.pagination import MAX_LIMIT
from ownwell.staff import policies, repository, service
from ownwell.staff.models import Role
from ownwell.staff.schemas import DepartmentIn, StaffIn, StaffPatch
from ownwell.web.form_errors import app_error, parse, per_input
from ownwell.web.session import StaffForm, StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=5000)]
AUTHORITY = ("refund", "credit", "replacement", "goodwill")
DONE = {
    "department": "Department added.",
    "staff": "Staff member added. They can sign in with the password you gave.",
    "authority": "Authority limits saved.",
    "cadence": "Cadence saved. It applies to update windows that start from now on.",
}


def _authority(form: dict[str, str]) -> dict[str, str]:
    # An empty box means "no authority of its own": every offer of that kind needs approval.
    return {kind: (form.get(kind) or "0").strip() for kind in AUTHORITY}


def _page(
    ctx: WebCtx,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    departments = sorted(
        repository.list_departments(ctx.session, limit=MAX_LIMIT, cursor=None),
        key=lambda d: d.name.casefold(),
    )
    people = sorted(
        repository.list_staff(ctx.session, limit=MAX_LIMIT, cursor=None), key=lambda s: s.name.casefold()
    )
    cadence = dict(DEFAULT_CADENCE_MINUTES)
    cadence.update({p.kind: p.update_every_minutes for p in case_repository.cadence_policies(ctx.session)})
    done = ctx.request.query_params.get("done", "")
    return ctx.render(
        "staff/settings.html",
        {
            "nav": "settings",
            "departments": departments,
            "people": people,
            "roles": [r.value for r in Role],
            "kinds": [k.value for k in CaseKind],
            "cadence": cadence,
            "authority_kinds": AUTHORITY,
            "errors": errors or {},
            "values": values or {},
            "flash": DONE.get(done),
        },
        status_code=status_code,
    )


def _refused(
    ctx: WebCtx, form: str, errors: dict[str, str], values: dict[str, Any], status: int = 422
) -> Response:
    return _page(ctx, errors={form: per_input(errors)}, values={form: values}, status_code=status)


def _done(what: str, anchor: str) -> Response:
    return RedirectResponse(f"/settings?done={what}#{anchor}", status_code=303)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(ctx: StaffPage) -> Response:
    policies.require_admin(ctx.actor, "change settings")
    return _page(ctx)


@router.post("/settings/departments")
def create_department(ctx: StaffForm, name: Text = "") -> Response:
    policies.require_admin(ctx.actor, "create departments")
    data, errors = parse(DepartmentIn, {"name": name})
    if data is None:
        return _refused(ctx, "department", errors, {"name": name})
    try:
        service.create_department(ctx.session, name=data.name, now=ctx.now, by=ctx.actor)
    except AppError as exc:
        return _refused(ctx, "department", app_error(exc, "name"), {"name": name}, exc.status_code)
    return _done("department", "departments")


@router.post("/settings/staff")
def create_staff(
    ctx: StaffForm,
    name: Text = "",
    email: Text = "",
    role: Text = "",
    password: Text = "",
    department_ids: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 (FastAPI copies it)
    refund: Text = "",
    credit: Text = "",
    replacement: Text = "",
    goodwill: Text = "",
) -> Response:
    policies.require_admin(ctx.actor, "add staff")
    form = {"refund": refund, "credit": credit, "replacement": replacement, "goodwill": goodwill}
    values = {"name": name, "email": email, "role": role, "department_ids": department_ids, **form}
    data, errors = parse(
        StaffIn,
        {
            "name": name,
            "email": email,
            "role": role,
            "password": password or None,
            "department_ids": department_ids,
            "authority": _authority(form),
        },
    )
    if data is None:
        return _refused(ctx, "staff", errors, values)
    if data.password is None:
        # The API may add staff who only use tokens; a person added here must be able to sign in.
        return _refused(
            ctx, "staff", {"password": "Please give a first password (at least 10 characters)."}, values
        )
    try:
        service.create_staff(ctx.session, data=data, now=ctx.now, by=ctx.actor)
    except AppError as exc:
        return _refused(ctx, "staff", app_error(exc), values, exc.status_code)
    return _done("staff", "staff")


@router.post("/settings/staff/{staff_id}/authority")
def set_authority(
    staff_id: str,
    ctx: StaffForm,
    refund: Text = "",
    credit: Text = "",
    replacement: Text = "",
    goodwill: Text = "",
) -> Response:
    policies.require_admin(ctx.actor, "change staff")
    staff = repository.get_staff(ctx.session, staff_id)
    form = {"refund": refund, "credit": credit, "replacement": replacement, "goodwill": goodwill}
    patch, errors = parse(StaffPatch, {"authority": _authority(form)})
    if patch is None:
        return _refused(ctx, f"authority:{staff.id}", errors, form)
    service.update_staff(ctx.session, staff=staff, patch=patch, now=ctx.now, by=ctx.actor)
    return _done("authority", f"staff-{staff.id}")


@router.post("/settings/cadence/{kind}")
def set_cadence(kind: str, ctx: StaffForm, update_every_minutes: Text = "") -> Response:
    policies.require_admin(ctx.actor, "change cadence policies")
    if kind not in {k.value for k in CaseKind}:
        raise InvalidInput(f"unknown kind of case {kind[:40]!r}", field="kind")
    data, errors = parse(CadenceIn, {"update_every_minutes": update_every_minutes.strip()})
    if data is None:
        return _refused(ctx, f"cadence:{kind}", errors, {"update_every_minutes": update_every_minutes})
    case_service.set_cadence(
        ctx.session, kind=kind, minutes=data.update_every_minutes, actor=ctx.actor, now=ctx.now
    )
    return _done("cadence", "cadence")
