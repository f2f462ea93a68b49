"""CSV exports of the case list, the metrics and the recurring issues, from the API and the staff
web app: the same rows as the JSON lists, every page of them, read in chunks, with formulas made
inert, under the same access rules."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.kit.csv_export import csv_chunks
from ownwell.kit.ids import new_id
from ownwell.staff.models import Role
from tests.staff_web import make_staff, web_session_for

CASE_FILTERS = {
    "owner_id",
    "status",
    "customer_id",
    "caused_by_department_id",
    "kind",
    "proactive",
    "order_id",
    "recurring_issue_id",
}


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def header_of(response) -> list[str]:
    return next(csv.reader(io.StringIO(response.text)))


def all_json_ids(api, path: str, **params) -> list[str]:
    """Every id the JSON list gives, page after page (two per page, so there are several)."""
    ids, cursor = [], None
    while True:
        page = api.get(path, limit=2, **params, **({"cursor": cursor} if cursor else {})).json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def open_case(api, email: str, body: str = "It broke again.", **extra) -> dict:
    response = api.post(
        "/cases", {"customer": {"name": email.split("@")[0], "emails": [email]}, "body": body, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def cases(admin):
    """Seven cases: two departments, three kinds, one customer with three cases, one resolved."""
    billing = admin.post("/departments", {"name": "Billing"}).json()["id"]
    shipping = admin.post("/departments", {"name": "Shipping"}).json()["id"]
    for name, email, dept in (("Bea", "bea@acme.test", billing), ("Sid", "sid@acme.test", shipping)):
        made = admin.post("/staff", {"name": name, "email": email, "role": "agent", "department_ids": [dept]})
        assert made.status_code == 201, made.text
    made = [
        open_case(admin, "kim@example.com", kind="complaint", caused_by_department_id=billing),
        open_case(admin, "kim@example.com", kind="question"),
        open_case(admin, "kim@example.com", kind="complaint", caused_by_department_id=shipping),
        open_case(admin, "lou@example.com", kind="request", caused_by_department_id=billing),
        open_case(admin, "max@example.com", kind="complaint", caused_by_department_id=shipping),
        open_case(admin, "ned@example.com", kind="question"),
        open_case(admin, "ola@example.com", kind="complaint", caused_by_department_id=billing),
    ]
    resolved = admin.post(f"/cases/{made[1]['id']}/resolve", {"summary": "Answered."})
    assert resolved.status_code == 200, resolved.text
    return {"items": made, "billing": billing, "shipping": shipping}


def test_the_case_export_takes_exactly_the_filters_of_the_case_list(client):
    spec = client.get("/api/v1/openapi.json").json()["paths"]

    def params(path: str) -> set[str]:
        return {p["name"] for p in spec[path]["get"]["parameters"]}

    assert params("/api/v1/cases") - {"limit", "cursor"} == CASE_FILTERS
    assert params("/api/v1/cases.csv") == CASE_FILTERS
    assert "text/csv" in spec["/api/v1/cases.csv"]["get"]["responses"]["200"]["content"]


def test_the_case_export_holds_every_case_the_json_list_gives_for_the_same_filter(admin, cases):
    kim = cases["items"][0]["customer_id"]
    owner = cases["items"][0]["owner"]["id"]
    for flt in (
        {},
        {"kind": "complaint"},
        {"caused_by_department_id": cases["billing"]},
        {"customer_id": kim},
        {"customer_id": kim, "status": "open"},
        {"status": "resolved"},
        {"owner_id": owner},
        {"proactive": "false"},
        {"kind": "request", "caused_by_department_id": cases["shipping"]},
    ):
        exported = [row["id"] for row in rows_of(admin.get("/cases.csv", **flt))]
        assert exported == all_json_ids(admin, "/cases", **flt), flt
    assert len(rows_of(admin.get("/cases.csv"))) == 7


def test_a_case_row_names_the_customer_owner_and_department_and_the_file_is_dated(admin, cases, clock):
    response = admin.get("/cases.csv", kind="request")
    assert header_of(response)[:6] == ["id", "created_at", "status", "kind", "channel", "subject"]
    assert response.headers["content-disposition"] == (
        f'attachment; filename="cases-{clock.now().date().isoformat()}.csv"'
    )
    [row] = rows_of(response)
    case = cases["items"][3]
    assert row["id"] == case["id"]
    assert row["customer_name"] == "lou"
    assert row["owner_id"] == case["owner"]["id"] and row["owner_name"] == "Bea"
    assert row["caused_by_department_name"] == "Billing"
    assert row["status"] == "open" and row["proactive"] == "false"
    assert row["created_at"] == "2026-03-02T09:00:00+00:00"


def test_an_unknown_filter_value_is_refused_naming_the_field(admin):
    answer = admin.get("/cases.csv", kind="gossip")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "kind"


def test_without_a_token_there_is_no_export(client):
    for path in ("/api/v1/cases.csv", "/api/v1/metrics.csv", "/api/v1/insights/recurring.csv"):
        assert client.get(path).status_code == 401, path


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_subject_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(admin, start):
    subject = f'{start}HYPERLINK("http://evil.example","click")'
    open_case(admin, "eve@example.com", subject=subject)
    open_case(admin, "sam@example.com", subject="Fine subject - with a dash")
    rows = {row["customer_name"]: row for row in rows_of(admin.get("/cases.csv"))}
    assert rows["eve"]["subject"] == "'" + subject
    assert rows["sam"]["subject"] == "Fine subject - with a dash"


def test_a_large_export_is_read_and_sent_a_chunk_at_a_time(admin, session_factory, db):
    """2,500 cases are read in three statements of at most 1,000 rows, each in its own
    transaction, instead of one read holding them all."""
    first = open_case(admin, "big@example.com")
    with unit_of_work(session_factory) as session:
        row = dict(session.execute(select(Case.__table__).where(Case.id == first["id"])).mappings().one())
        session.execute(insert(Case.__table__), [{**row, "id": new_id("cas")} for _ in range(2_499)])
    reads: list[tuple[str, int]] = []  # (statement, how many transactions had begun)
    transactions: list[object] = []

    def seen(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            reads.append((statement, len(transactions)))

    def began(conn):  # type: ignore[no-untyped-def]
        transactions.append(conn)

    event.listen(db, "before_cursor_execute", seen)
    event.listen(db, "begin", began)
    try:
        with admin.client.stream("GET", "/api/v1/cases.csv", headers=admin.headers) as response:
            assert response.status_code == 200
            body = b"".join(response.iter_bytes()).decode()
    finally:
        event.remove(db, "before_cursor_execute", seen)
        event.remove(db, "begin", began)
    ids = [r["id"] for r in csv.DictReader(io.StringIO(body))]
    assert len(ids) == len(set(ids)) == 2_500
    assert ids == sorted(ids, reverse=True)
    assert len(reads) == 3
    assert all("LIMIT" in statement.upper() for statement, _ in reads)
    # Each chunk in a transaction of its own: on SQLite one holds the write lock.
    assert len({began for _, began in reads}) == 3


# Metrics


def supervisor_of(admin, as_token, department_id: str):
    staff = admin.post(
        "/staff",
        {"name": "Sue", "email": "sue@acme.test", "role": "supervisor", "department_ids": [department_id]},
    ).json()
    return as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])


def test_the_metrics_export_has_one_row_per_metric_and_per_department(admin, cases, clock):
    clock.advance(timedelta(hours=1))  # the period ends now: the cases are in it
    answer = admin.get("/metrics").json()
    rows = rows_of(admin.get("/metrics.csv"))
    header = header_of(admin.get("/metrics.csv"))
    assert header[:4] == ["since", "until", "scope_department_id", "metric"]
    by_metric: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_metric.setdefault(row["metric"], []).append(row)
    [proactive] = by_metric["proactive_ratio"]
    assert int(proactive["numerator"]) == answer["proactive_ratio"]["numerator"]
    assert int(proactive["denominator"]) == answer["proactive_ratio"]["denominator"]
    [promises] = by_metric["promise_kept_rate"]
    assert int(promises["broken"]) == answer["promise_kept_rate"]["broken"]
    errors = {row["name"]: row for row in by_metric["department_error_rate"]}
    assert {d["name"]: d["cases"] for d in answer["department_error_rate"]} == {
        name: int(row["cases"]) for name, row in errors.items()
    }
    assert int(errors["Billing"]["cases"]) == 3
    [weights] = by_metric["disloyalty_risk.weights"]
    assert {k: int(weights[k]) for k in answer["disloyalty_risk"]["weights"]} == answer["disloyalty_risk"][
        "weights"
    ]
    assert [r["customer_id"] for r in by_metric.get("disloyalty_risk", [])] == [
        i["customer_id"] for i in answer["disloyalty_risk"]["items"]
    ]
    assert {row["since"] for row in rows} == {answer["since"].replace("Z", "+00:00")}
    assert set(by_metric) >= {"csat", "ces", "time_to_resolution", "first_response_time", "reopen_rate"}


def test_the_metrics_export_is_refused_to_whoever_may_not_read_those_metrics(admin, cases, as_token):
    agent = admin.post("/staff", {"name": "Al", "email": "al@acme.test", "role": "agent"}).json()
    agent_api = as_token(admin.post(f"/staff/{agent['id']}/tokens").json()["token"])
    assert agent_api.get("/metrics").status_code == 403
    assert agent_api.get("/metrics.csv").status_code == 403
    sue = supervisor_of(admin, as_token, cases["billing"])
    assert sue.get("/metrics.csv").status_code == 403  # the whole organisation
    refused = sue.get("/metrics.csv", department_id=cases["shipping"])
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "department_id"
    own = rows_of(sue.get("/metrics.csv", department_id=cases["billing"]))
    assert {row["scope_department_id"] for row in own} == {cases["billing"]}


# Recurring issues


def test_the_recurring_issues_export_lists_what_the_json_list_gives(admin, recurring_issue):
    made = [recurring_issue(f"Issue {n}") for n in range(5)]
    formula = recurring_issue("=1+1 parcel lockers")
    rows = rows_of(admin.get("/insights/recurring.csv"))
    assert [r["id"] for r in rows] == all_json_ids(admin, "/insights/recurring") == [formula, *reversed(made)]
    assert rows[0]["label"] == "'=1+1 parcel lockers"
    assert rows[1]["label"] == "Issue 4" and rows[1]["case_count"] == "0"
    assert header_of(admin.get("/insights/recurring.csv"))[:3] == ["id", "label", "case_count"]


def test_a_cell_starting_with_a_tab_or_carriage_return_is_written_as_text_and_numbers_stay_numbers():
    # Subjects and labels reach the file stripped of both, so the writer is checked on its own.
    body = b"".join(csv_chunks(["text", "number"], [[("\tcmd|' /C calc'!A0", -5)], [("\r=2+3", 1.5)]]))
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert rows == [["text", "number"], ["'\tcmd|' /C calc'!A0", "-5"], ["'\r=2+3", "1.5"]]


# The staff web app


@pytest.fixture
def signed_in(client, session_factory, clock):
    def as_role(role: Role, departments=()):  # type: ignore[no-untyped-def]
        email = f"{role.value}@acme.test"
        make_staff(
            session_factory, clock, name=role.value.title(), email=email, role=role, departments=departments
        )
        web_session_for(client, session_factory, clock, email)
        return client

    return as_role


def test_the_case_search_page_links_an_export_of_what_it_shows(admin, cases, signed_in):
    web = signed_in(Role.agent)
    page = web.get("/cases", params={"q": "kim@example.com", "scope": "active"})
    assert 'href="/exports/cases.csv?q=kim%40example.com&amp;scope=active"' in page.text
    rows = rows_of(web.get("/exports/cases.csv", params={"q": "kim@example.com", "scope": "active"}))
    kim_open = [c["id"] for c in (cases["items"][2], cases["items"][0])]
    assert [r["id"] for r in rows] == kim_open
    everything = rows_of(web.get("/exports/cases.csv", params={"q": "", "scope": "all"}))
    assert [r["id"] for r in everything] == all_json_ids(admin, "/cases")
    assert len(rows_of(web.get("/exports/cases.csv", params={"scope": "active"}))) == 6
    assert len(rows_of(web.get("/exports/cases.csv"))) == 6  # as on the page: open cases unless "all"


def test_the_insights_pages_link_their_exports(admin, cases, signed_in, recurring_issue):
    recurring_issue("Parcel lockers")
    web = signed_in(Role.admin)
    assert 'href="/exports/metrics.csv?department_id=&amp;weeks=8"' in web.get("/insights").text
    assert 'href="/exports/recurring-issues.csv"' in web.get("/insights/recurring").text
    metrics = rows_of(web.get("/exports/metrics.csv", params={"department_id": "", "weeks": "4"}))
    # Each of the four weeks, then all four together.
    assert len({(r["since"], r["until"]) for r in metrics}) == 5
    [issue] = rows_of(web.get("/exports/recurring-issues.csv"))
    assert issue["label"] == "Parcel lockers"


def test_an_agent_signed_in_cannot_export_the_metrics(cases, signed_in):
    web = signed_in(Role.agent)
    answer = web.get("/exports/metrics.csv")
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]


def test_signed_out_the_export_link_leads_to_the_sign_in(client):
    answer = client.get("/exports/cases.csv?scope=all", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/exports/cases.csv")


def test_the_customer_and_department_pages_link_an_export_of_their_cases(admin, cases, signed_in):
    web = signed_in(Role.admin)
    kim = cases["items"][0]["customer_id"]
    assert f'href="/exports/cases.csv?customer_id={kim}&amp;scope=all"' in web.get(f"/customers/{kim}").text
    kims = rows_of(web.get("/exports/cases.csv", params={"customer_id": kim, "scope": "all"}))
    assert [r["id"] for r in kims] == all_json_ids(admin, "/cases", customer_id=kim)
    assert len(kims) == 3

    billing = cases["billing"]
    link = f'href="/exports/cases.csv?caused_by_department_id={billing}&amp;scope=active"'
    assert link in web.get(f"/departments/{billing}").text
    caused = rows_of(
        web.get("/exports/cases.csv", params={"caused_by_department_id": billing, "scope": "active"})
    )
    assert [r["id"] for r in caused] == all_json_ids(
        admin, "/cases", caused_by_department_id=billing, status="open"
    )
