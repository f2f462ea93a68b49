"""Recurring issues in the staff web app (P10, issue #6): the live issues with their trend, and
one issue's page with its cases and the supervisor's forms: merge into another issue, split
cases off into a new one, record the root cause with a prevention action owned by one person.
Every form calls insights.service, as POST /api/v1/insights/recurring/{id}/... does."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.deps import Ctx
from ownwell.errors import AppError
from ownwell.insights import policies, prevention, repository, service
from ownwell.insights.api import issue_out, issues_out
from ownwell.insights.schemas import MergeIn, SplitIn
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.staff.service import is_manager
from ownwell.web import pickers
from ownwell.web.form_errors import app_error, parse, per_input
from ownwell.web.forms import local_input, local_moment
from ownwell.web.session import StaffForm, StaffPage, WebCtx, safe_next

router = APIRouter(include_in_schema=False)
PAGE = 50
CASES_SHOWN = 200
Text = Annotated[str, Form(max_length=5000)]
DONE = {
    "merged": "Merged. Its cases now count towards this issue.",
    "split": "Split off into this new issue.",
    "root_cause": "Root cause recorded; the prevention action's owner has been told.",
    "prevention_done": "Prevention action marked done.",
}


def _api_ctx(ctx: WebCtx) -> Ctx:
    return Ctx(session=ctx.session, actor=ctx.actor, now=ctx.now, settings=ctx.settings)


@router.get("/insights/recurring", response_class=HTMLResponse)
def recurring(ctx: StaffPage, cursor: str | None = None) -> Response:
    rows = repository.list_page(ctx.session, since=None, limit=PAGE, cursor=checked_cursor(cursor))
    issues, next_cursor = split_page(rows, PAGE, lambda i: i.id)
    items = issues_out(_api_ctx(ctx), issues)
    names = pickers.department_names(ctx.session, [i.department_id for i in items if i.department_id])
    return ctx.render(
        "staff/recurring.html",
        {"nav": "insights", "items": items, "departments": names, "next_cursor": next_cursor},
    )


def _issue_page(
    ctx: WebCtx,
    issue_id: str,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    issue = repository.get(ctx.session, issue_id)
    detail = issue_out(_api_ctx(ctx), issue)
    members = repository.vectors_of(ctx.session, issue.id)[-CASES_SHOWN:]
    subjects = repository.subjects(ctx.session, [m.case_id for m in members])
    others = [i for i in repository.live_issues(ctx.session) if i.id != issue.id]
    people = pickers.all_staff(ctx.session)
    names = pickers.department_names(
        ctx.session, [d.department_id for d in detail.departments if d.department_id]
    )
    owners = {s.id: s.name for s in people}
    return ctx.render(
        "staff/recurring_issue.html",
        {
            "nav": "insights",
            "issue": detail,
            "cases": [(m.case_id, subjects.get(m.case_id, ""), m.case_created_at) for m in reversed(members)],
            "others": sorted(others, key=lambda i: i.label.casefold()),
            "people": people,
            "owners": owners,
            "departments": names,
            "may_curate": is_manager(ctx.actor),
            "errors": errors or {},
            "values": values or {},
            # A prevention action is a piece of work, not a reply: two weeks is a sensible default.
            "default_due": local_input(ctx.now + timedelta(days=14), ctx.settings.timezone),
            "flash": DONE.get(ctx.request.query_params.get("done", "")),
        },
        status_code=status_code,
    )


@router.get("/insights/recurring/{issue_id}", response_class=HTMLResponse)
def issue_page(issue_id: str, ctx: StaffPage) -> Response:
    return _issue_page(ctx, issue_id)


def _refused(
    ctx: WebCtx, issue_id: str, form: str, errors: dict[str, str], values: dict[str, Any], status: int
) -> Response:
    # Nothing of a refused command may stay behind: the page is rendered in this transaction.
    ctx.session.rollback()
    return _issue_page(
        ctx, issue_id, errors={form: per_input(errors)}, values={form: values}, status_code=status
    )


@router.post("/insights/recurring/{issue_id}/merge")
def merge(issue_id: str, ctx: StaffForm, into_id: Text = "") -> Response:
    policies.require_can_curate(ctx.actor, "merge")
    body, errors = parse(MergeIn, {"into_id": into_id})
    if body is None:
        return _refused(ctx, issue_id, "merge", errors, {"into_id": into_id}, 422)
    try:
        issue = repository.get(ctx.session, issue_id, for_update=True)
        into = repository.get(ctx.session, body.into_id, for_update=True, field="into_id")
        survivor = service.merge(ctx.session, issue=issue, into=into, actor=ctx.actor, now=ctx.now)
    except AppError as exc:
        if exc.field is None and exc.status_code == 404:
            raise
        return _refused(ctx, issue_id, "merge", app_error(exc), {"into_id": into_id}, exc.status_code)
    return RedirectResponse(f"/insights/recurring/{survivor.id}?done=merged", status_code=303)


@router.post("/insights/recurring/{issue_id}/split")
def split(
    issue_id: str,
    ctx: StaffForm,
    case_ids: Annotated[list[str], Form(max_length=1000)] = [],  # noqa: B006 (FastAPI copies it)
    label: Text = "",
) -> Response:
    policies.require_can_curate(ctx.actor, "split")
    values = {"case_ids": case_ids, "label": label}
    body, errors = parse(SplitIn, {"case_ids": case_ids, "label": label.strip() or None})
    if body is None:
        if "case_ids" in errors:
            errors["case_ids"] = "Tick the cases that belong to a different issue."
        return _refused(ctx, issue_id, "split", errors, values, 422)
    try:
        issue = repository.get(ctx.session, issue_id, for_update=True)
        fresh = service.split(
            ctx.session, issue=issue, case_ids=body.case_ids, label=body.label, actor=ctx.actor, now=ctx.now
        )
    except AppError as exc:
        if exc.field is None and exc.status_code == 404:
            raise
        return _refused(ctx, issue_id, "split", app_error(exc), values, exc.status_code)
    return RedirectResponse(f"/insights/recurring/{fresh.id}?done=split", status_code=303)


@router.post("/insights/recurring/{issue_id}/root-cause")
def root_cause(
    issue_id: str,
    ctx: StaffForm,
    root_cause: Text = "",
    prevention: Text = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
    owner_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    policies.require_can_curate(ctx.actor, "record root causes of")
    values = {"root_cause": root_cause, "prevention": prevention, "due_at": due_at, "owner_id": owner_id}
    errors: dict[str, str] = {}
    if not root_cause.strip():
        errors["root_cause"] = "Please say what caused it."
    if not prevention.strip():
        errors["prevention"] = "Please say what will stop it from happening again."
    try:
        due = local_moment(due_at, ctx.settings.timezone, field="due_at")
    except AppError as exc:
        errors["due_at"] = app_error(exc)["due_at"]
    if errors:
        return _refused(ctx, issue_id, "root_cause", errors, values, 422)
    try:
        issue = repository.get(ctx.session, issue_id, for_update=True)
        service.record_root_cause(
            ctx.session,
            issue=issue,
            root_cause=root_cause.strip(),
            prevention_text=prevention.strip(),
            due_at=due,
            owner_id=owner_id,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
    except AppError as exc:
        if exc.field is None and exc.status_code == 404:
            raise
        found = app_error(exc)
        # The service names the API's nested fields (prevention.owner_id); the form's are flat.
        found = {k.removeprefix("prevention.").replace("text", "prevention"): v for k, v in found.items()}
        return _refused(ctx, issue_id, "root_cause", found, values, exc.status_code)
    return RedirectResponse(f"/insights/recurring/{issue_id}?done=root_cause", status_code=303)


@router.post("/insights/prevention/{prevention_id}/done")
def prevention_done(
    prevention_id: str, ctx: StaffForm, next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """From My day (comes back there) or the issue's page."""
    action = repository.get_prevention(ctx.session, prevention_id, for_update=True)
    policies.require_can_complete(ctx.actor, action)
    target = safe_next(next) if next else f"/insights/recurring/{action.issue_id}?done=prevention_done"
    if action.status == "open":
        prevention.complete(ctx.session, action=action, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
    # Already done (a second click, another tab): the person wanted it done, and it is.
    return RedirectResponse(target, status_code=303)
