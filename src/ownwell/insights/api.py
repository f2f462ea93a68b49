"""JSON routes for recurring issues (P10)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from ownwell.deps import ApiContext, Ctx
from ownwell.insights import policies, prevention, repository, rules, service
from ownwell.insights.models import RecurringIssue
from ownwell.insights.schemas import (
    DepartmentCount,
    MergeIn,
    PreventionOut,
    RecurringIssueOut,
    RecurringIssuePage,
    RootCauseIn,
    SplitIn,
    TrendOut,
)
from ownwell.kit.pagination import DEFAULT_LIMIT, split_page
from ownwell.kit.text import Moment, PageCursor

router = APIRouter(prefix="/insights", tags=["insights"])
EXAMPLES = 5


def issues_out(ctx: Ctx, issues: list[RecurringIssue], *, detail: bool = False) -> list[RecurringIssueOut]:
    ids = [i.id for i in issues]
    examples = repository.recent_case_ids(ctx.session, ids, EXAMPLES)
    arrivals: dict[str, list] = {i: [] for i in ids}
    for issue_id, at in repository.arrivals_since(
        ctx.session, ids, ctx.now - timedelta(days=rules.TREND_DAYS)
    ):
        arrivals[issue_id].append(at)
    out = []
    for issue in issues:
        item = RecurringIssueOut(
            id=issue.id,
            label=issue.label,
            case_count=issue.case_count,
            first_seen=issue.first_seen,
            last_seen=issue.last_seen,
            department_id=issue.department_id,
            example_case_ids=examples[issue.id],
            trend=TrendOut(**rules.trend(arrivals[issue.id], now=ctx.now)),  # type: ignore[arg-type]
            root_cause=issue.root_cause,
            spike_alerted_at=issue.spike_alerted_at,
            merged_into_id=issue.merged_into_id,
        )
        if detail:
            item.departments = [
                DepartmentCount(department_id=d, case_count=n)
                for d, n in repository.departments_involved(ctx.session, issue.id)
            ]
            item.prevention_actions = [
                PreventionOut.model_validate(a, from_attributes=True)
                for a in repository.prevention_actions(ctx.session, issue.id)
            ]
        out.append(item)
    return out


def issue_out(ctx: Ctx, issue: RecurringIssue) -> RecurringIssueOut:
    return issues_out(ctx, [issue], detail=True)[0]


@router.get("/recurring", response_model=RecurringIssuePage)
def list_recurring(
    ctx: ApiContext,
    since: Moment | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: PageCursor | None = None,  # type: ignore[valid-type]
) -> RecurringIssuePage:
    """Live recurring issues, newest first; `since` keeps those with a case at or after it."""
    rows = repository.list_page(ctx.session, since=since, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda i: i.id)
    return RecurringIssuePage(items=issues_out(ctx, items), next_cursor=next_cursor)


@router.get("/recurring/{issue_id}", response_model=RecurringIssueOut)
def get_recurring(issue_id: str, ctx: ApiContext) -> RecurringIssueOut:
    return issue_out(ctx, repository.get(ctx.session, issue_id))


@router.post("/recurring/{issue_id}/merge", response_model=RecurringIssueOut)
def merge(issue_id: str, body: MergeIn, ctx: ApiContext) -> RecurringIssueOut:
    policies.require_can_curate(ctx.actor, "merge")
    issue = repository.get(ctx.session, issue_id, for_update=True)
    into = repository.get(ctx.session, body.into_id, for_update=True, field="into_id")
    survivor = service.merge(ctx.session, issue=issue, into=into, actor=ctx.actor, now=ctx.now)
    return issue_out(ctx, survivor)


@router.post("/recurring/{issue_id}/split", status_code=201, response_model=RecurringIssueOut)
def split(issue_id: str, body: SplitIn, ctx: ApiContext) -> RecurringIssueOut:
    policies.require_can_curate(ctx.actor, "split")
    issue = repository.get(ctx.session, issue_id, for_update=True)
    fresh = service.split(
        ctx.session, issue=issue, case_ids=body.case_ids, label=body.label, actor=ctx.actor, now=ctx.now
    )
    return issue_out(ctx, fresh)


@router.post("/recurring/{issue_id}/root-cause", response_model=RecurringIssueOut)
def root_cause(issue_id: str, body: RootCauseIn, ctx: ApiContext) -> RecurringIssueOut:
    policies.require_can_curate(ctx.actor, "record root causes of")
    issue = repository.get(ctx.session, issue_id, for_update=True)
    service.record_root_cause(
        ctx.session,
        issue=issue,
        root_cause=body.root_cause,
        prevention_text=body.prevention.text,
        due_at=body.prevention.due_at,
        owner_id=body.prevention.owner_id,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return issue_out(ctx, issue)


@router.post("/prevention/{prevention_id}/done", response_model=PreventionOut)
def prevention_done(prevention_id: str, ctx: ApiContext) -> PreventionOut:
    """The owner (or a supervisor or admin) marks a prevention action done; 409 if it already is."""
    action = repository.get_prevention(ctx.session, prevention_id, for_update=True)
    policies.require_can_complete(ctx.actor, action)
    prevention.complete(ctx.session, action=action, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
    return PreventionOut.model_validate(action, from_attributes=True)
