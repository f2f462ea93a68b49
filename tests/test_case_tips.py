"""P12: next-issue tips stored for a recurring issue are offered beside the resolve form of a
case of that issue, so the owner can reuse one instead of writing it again."""

from __future__ import annotations

from datetime import timedelta

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.staff.models import Role
from tests.staff_web import make_staff, web_session_for

TIP = "Track the parcel with the courier code before writing to us"


def _case(admin) -> dict:  # type: ignore[no-untyped-def]
    answer = admin.post(
        "/cases",
        {"customer": {"emails": ["mia@example.com"]}, "body": "My parcel is late.", "kind": "complaint"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_case_page_suggests_the_recurring_issues_tips_beside_the_resolve_form(
    admin, client, session_factory, clock, recurring_issue
):
    issue, unrelated = recurring_issue("Late parcels"), recurring_issue("Refunds")
    for text in ("An older tip for the same issue", TIP):
        stored = admin.post("/knowledge/tips", {"recurring_issue_id": issue, "text": text})
        assert stored.status_code == 201, stored.text
        clock.advance(timedelta(minutes=1))
    other = admin.post("/knowledge/tips", {"recurring_issue_id": unrelated, "text": "Unrelated tip"})
    assert other.status_code == 201
    case, plain = _case(admin), _case(admin)
    with unit_of_work(session_factory) as session:
        session.get(Case, case["id"]).recurring_issue_id = issue  # type: ignore[union-attr]
    make_staff(session_factory, clock, name="Sue Super", email="sue@ownwell.test", role=Role.supervisor)
    web_session_for(client, session_factory, clock, "sue@ownwell.test")

    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    resolve_form = page.text[page.text.index('action="/cases/' + case["id"] + '/resolve"') :]
    resolve_form = resolve_form[: resolve_form.index("</form>")]
    # The text is readable (and copyable) without script; the button fills the tip field.
    assert f"<q data-suggested-tip>{TIP}</q>" in resolve_form
    assert f'data-tip="{TIP}"' in resolve_form and 'aria-controls="tip"' in resolve_form
    assert resolve_form.index(TIP) < resolve_form.index("An older tip")  # newest first
    assert "Unrelated tip" not in page.text

    assert "data-suggested-tip" not in client.get(f"/cases/{plain['id']}").text
