"""Shapes of the metrics answer. Every figure comes with the counts it was computed from, so a
reader can check it; a figure with nothing to measure is null."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Rate(BaseModel):
    value: float | None
    numerator: int
    denominator: int


class PromiseRate(Rate):
    kept_late: int
    broken: int
    # Due in the period but neither kept nor yet marked broken by the sweep.
    pending: int
    # Of the commitments due in the period, how many had their due time moved at least once.
    renegotiated: int


class FollowUpRate(Rate):
    not_fixed: int
    no_answer_on_fixed: int


class Durations(BaseModel):
    """Seconds, nearest-rank percentiles."""

    p50_seconds: float | None
    p90_seconds: float | None
    count: int


class FirstResponse(Durations):
    # Opened by the customer in the period and still waiting for a first answer.
    unanswered: int


class Score(BaseModel):
    mean: float | None
    count: int


class DepartmentErrors(BaseModel):
    department_id: str
    name: str
    cases: int
    orders: int
    per_1000_orders: float | None


class RiskParts(BaseModel):
    open_problems: int
    broken_commitments: int
    late_updates: int
    repeat_contacts: int
    low_scores: int


class RiskItem(BaseModel):
    customer_id: str
    name: str
    score: int
    parts: RiskParts


class DisloyaltyRisk(BaseModel):
    # score = sum(weights[part] * parts[part])
    weights: dict[str, int]
    items: list[RiskItem]


class MetricsOut(BaseModel):
    since: datetime
    until: datetime
    department_id: str | None
    proactive_ratio: Rate
    promise_kept_rate: PromiseRate
    update_on_time_rate: Rate
    first_response_time: FirstResponse
    time_to_resolution: Durations
    repeat_contact_rate: Rate
    reopen_rate: Rate
    follow_up_success_rate: FollowUpRate
    csat: Score
    ces: Score
    department_error_rate: list[DepartmentErrors]
    disloyalty_risk: DisloyaltyRisk
