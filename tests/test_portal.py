"""The link in every message shows the customer their case, and nothing to anyone else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ownwell.db import unit_of_work
from ownwell.feedback.rules import is_only_thanks, is_praise
from ownwell.portal.repository import latest_fair_solution


def _path(url: str) -> str:
    return url.removeprefix("http://ownwell.test")


def test_portal_shows_owner_promises_and_story(admin, client, clock):
    case = admin.post(
        "/cases",
        {"customer": {"name": "Rui Costa", "emails": ["rui@example.com"]}, "body": "My <b>order</b> is late"},
    ).json()
    due = (clock.now() + timedelta(days=1)).isoformat()
    admin.post(f"/cases/{case['id']}/commitments", {"text": "Send a replacement", "due_at": due})
    admin.post(f"/cases/{case['id']}/messages", {"body": "Checked the courier", "visibility": "internal"})
    page = client.get(_path(case["portal_url"]))
    assert page.status_code == 200
    assert "Ada Admin" in page.text and "Send a replacement" in page.text
    assert "My &lt;b&gt;order&lt;/b&gt; is late" in page.text  # the customer's words, escaped
    assert "Checked the courier" not in page.text  # internal notes stay internal
    title = re.search(r"<title>([^<]*)</title>", page.text)
    assert title is not None and title.group(1).endswith(" · your case")


def test_other_tampered_and_expired_links_show_nothing(admin, client, clock):
    mine = admin.post("/cases", {"customer": {"emails": ["a@example.com"]}, "body": "Secret A"}).json()
    theirs = admin.post("/cases", {"customer": {"emails": ["b@example.com"]}, "body": "Secret B"}).json()
    other = client.get(_path(theirs["portal_url"]))
    assert "Secret A" not in other.text
    token = mine["portal_url"].rsplit("/", 1)[1]
    tampered = client.get(f"/portal/{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}")
    assert tampered.status_code == 404 and "Secret A" not in tampered.text
    clock.advance(timedelta(days=40))
    expired = client.get(_path(mine["portal_url"]))
    assert expired.status_code == 404 and "Secret A" not in expired.text


# ---- The customer's voice on the portal: reply, fair solution, confirm & rate, fresh links ----

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def _case(admin, name: str = "Rui Costa", email: str = "rui@example.com", body: str = "My kettle leaks"):  # type: ignore[no-untyped-def]
    answer = admin.post("/cases", {"customer": {"name": name, "emails": [email]}, "body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _open(client, case) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The customer opens their link: the page, and the CSRF token its forms carry."""
    page = client.get(_path(case["portal_url"]))
    assert page.status_code == 200, page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    match = CSRF_RE.search(page.text)
    assert match, "the page has no form with a CSRF token"
    return page.text, match.group(1)


def _timeline(admin, case) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return admin.get(f"/cases/{case['id']}/timeline").json()["items"]


def test_reply_lands_on_the_timeline_and_the_case_is_open_again(admin, client):
    case = _case(admin)
    asked = admin.post(
        f"/cases/{case['id']}/messages", {"body": "Which model is it?", "wait_for_customer": True}
    )
    assert asked.json()["status"] == "waiting_on_customer"
    _, csrf = _open(client, case)
    sent = client.post(
        _path(case["portal_url"]) + "/reply",
        data={"csrf": csrf, "body": "The <i>blue</i> one,\nmodel K2"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = client.get(sent.headers["location"])
    assert "Your message is on your case" in page.text
    assert "The &lt;i&gt;blue&lt;/i&gt; one,\nmodel K2" in page.text
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "open"
    inbound = [e for e in _timeline(admin, case) if e["kind"] == "message_in"]
    assert [e["text"] for e in inbound] == ["The <i>blue</i> one,\nmodel K2"]
    assert inbound[0]["actor"]["type"] == "customer" and inbound[0]["visibility"] == "customer"


def test_fair_solution_is_recorded_shown_and_sent_to_the_owner(admin, client, session_factory):
    case = _case(admin)
    assert admin.get(f"/cases/{case['id']}/fair-solution").json()["fair_solution"] is None
    _, csrf = _open(client, case)
    url = _path(case["portal_url"]) + "/fair-solution"
    client.post(url, data={"csrf": csrf, "fair_solution": "A replacement kettle"})
    sent = client.post(url, data={"csrf": csrf, "fair_solution": "Or a refund of 30 EUR"})
    assert sent.status_code == 200 and "Or a refund of 30 EUR" in sent.text  # redirect followed
    assert "weigh it before making an offer" in sent.text
    events = [e for e in _timeline(admin, case) if e["kind"] == "fair_solution"]
    assert [e["text"] for e in events] == ["A replacement kettle", "Or a refund of 30 EUR"]
    with unit_of_work(session_factory) as session:
        latest = latest_fair_solution(session, case["id"])
        assert latest is not None and latest.text == "Or a refund of 30 EUR"
    shown = admin.get(f"/cases/{case['id']}/fair-solution").json()["fair_solution"]
    assert shown["text"] == "Or a refund of 30 EUR" and shown["event_id"] == events[1]["id"]
    to_owner = [
        m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "fair_solution"
    ]
    assert len(to_owner) == 2 and {m["recipient"] for m in to_owner} == {"ada@ownwell.test"}
    assert any("Or a refund of 30 EUR" in m["body"] for m in to_owner)


def test_all_good_closes_the_case_and_praise_becomes_kudos(admin, client):
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "We sent a new kettle."})
    page, csrf = _open(client, case)
    assert "Is everything solved?" in page and "Send my answer" in page
    sent = client.post(
        _path(case["portal_url"]) + "/feedback",
        data={"csrf": csrf, "fixed": "yes", "csat": "5", "ces": "6", "comment": "Ada was brilliant, thanks!"},
    )
    assert sent.status_code == 200 and "Your case is closed" in sent.text
    assert "Is everything solved?" not in sent.text  # answered once, not asked again
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "closed"
    kudos = admin.get(f"/staff/{case['owner']['id']}/kudos").json()
    assert kudos["next_cursor"] is None
    assert [(k["text"], k["source"], k["case_id"]) for k in kudos["items"]] == [
        ("Ada was brilliant, thanks!", "survey", case["id"])
    ]
    feedback = [e for e in _timeline(admin, case) if e["kind"] == "feedback"]
    assert feedback[0]["data"] == {"source": "portal", "fixed": True, "csat": 5, "ces": 6}
    # A thank-you on the closed case is kept on it and reopens nothing...
    client.post(
        _path(case["portal_url"]) + "/reply", data={"csrf": csrf, "body": "Thank you so much, all good!"}
    )
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "closed"
    assert _timeline(admin, case)[-1]["text"] == "Thank you so much, all good!"
    # ...writing anything else reopens it, with the same owner.
    client.post(_path(case["portal_url"]) + "/reply", data={"csrf": csrf, "body": "One more thing"})
    again = admin.get(f"/cases/{case['id']}").json()
    assert again["status"] == "open" and again["owner"] == case["owner"]


def test_not_fixed_reopens_with_the_same_owner_and_no_kudos(admin, client):
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Fixed, we think."})
    _, csrf = _open(client, case)
    sent = client.post(
        _path(case["portal_url"]) + "/feedback",
        data={"csrf": csrf, "fixed": "no", "csat": "2", "comment": "Thanks for nothing, it still leaks"},
    )
    assert "has reopened your case" in sent.text
    now = admin.get(f"/cases/{case['id']}").json()
    assert now["status"] == "open" and now["owner"] == case["owner"]
    assert admin.get(f"/staff/{case['owner']['id']}/kudos").json()["items"] == []


def test_a_good_score_on_not_fixed_is_no_kudos_by_itself(admin, client):
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Fixed, we think."})
    _, csrf = _open(client, case)
    client.post(
        _path(case["portal_url"]) + "/feedback",
        data={"csrf": csrf, "fixed": "no", "csat": "4", "comment": "It still leaks under the lid"},
    )
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "open"
    assert admin.get(f"/staff/{case['owner']['id']}/kudos").json()["items"] == []


def test_praise_in_a_reply_is_kudos_and_complaints_are_not(admin, client):
    case = _case(admin)
    _, csrf = _open(client, case)
    url = _path(case["portal_url"]) + "/reply"
    client.post(url, data={"csrf": csrf, "body": "This is not helpful at all."})
    client.post(url, data={"csrf": csrf, "body": "Thank you so much, that was quick!"})
    items = admin.get(f"/staff/{case['owner']['id']}/kudos").json()["items"]
    assert [(k["text"], k["source"]) for k in items] == [("Thank you so much, that was quick!", "message")]


@pytest.mark.parametrize(
    ("text", "csat", "praise"),
    [
        ("Thank you, great service", None, True),
        ("Ada was so patient with me", None, True),
        ("Excellent!", None, True),
        ("It was fine", 4, True),  # a good score with words attached
        ("Thanks for nothing", None, False),
        ("Not helpful, and it wasn't great either", None, False),
        ("Ada was rude", None, False),
        ("Thank you", 1, False),  # words of a low score are not praise
        ("Where is my parcel?", None, False),
        ("", 5, False),  # a score without words: nothing to show as kudos
    ],
)
def test_praise_rule(text, csat, praise):  # type: ignore[no-untyped-def]
    assert is_praise(text, owner_first_name="Ada", csat=csat) is praise


@pytest.mark.parametrize(
    ("text", "only_thanks"),
    [
        ("Thanks a lot, all sorted!", True),
        ("Cheers, much appreciated", True),
        ("Thank you for all your help!", True),
        ("Thanks. I need help with my other order", False),
        ("Thank you Ada — works perfectly now.", True),
        ("Thanks, but it is broken again", False),
        ("Thanks. Can you also check my other order?", False),
        ("Thank you, it still doesn\u2019t work", False),
        ("It works", False),  # no thanks: not this rule's call
        ("Thanks! " + "The kettle is fine. " * 20, False),  # a long message is a message
    ],
)
def test_only_thanks_rule(text, only_thanks):  # type: ignore[no-untyped-def]
    assert is_only_thanks(text) is only_thanks


FORMS = [
    ("/reply", {"body": "Hello"}),
    ("/fair-solution", {"fair_solution": "A refund"}),
    ("/feedback", {"fixed": "yes", "csat": "5"}),
]


@pytest.mark.parametrize(("suffix", "data"), FORMS)
def test_forms_refuse_missing_or_forged_csrf(admin, client, suffix, data):  # type: ignore[no-untyped-def]
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Done."})
    _, csrf = _open(client, case)
    before = _timeline(admin, case)
    url = _path(case["portal_url"]) + suffix
    assert client.post(url, data=data).status_code == 403
    assert client.post(url, data={**data, "csrf": "0" * 64}).status_code == 403
    client.cookies.clear()  # a token copied into another site's form, without our cookie
    refused = client.post(url, data={**data, "csrf": csrf})
    assert refused.status_code == 403 and "open the page again" in refused.text
    assert _timeline(admin, case) == before
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "resolved"


@pytest.mark.parametrize(
    ("suffix", "field", "limit", "extra"),
    [
        ("/reply", "body", 10_000, {}),
        ("/fair-solution", "fair_solution", 2_000, {}),
        ("/feedback", "comment", 4_000, {"fixed": "yes"}),
    ],
)
def test_over_long_text_is_refused_with_a_clear_message(admin, client, suffix, field, limit, extra):  # type: ignore[no-untyped-def]
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/messages", {"body": "Noted", "wait_for_customer": True})
    if suffix == "/feedback":
        admin.post(f"/cases/{case['id']}/resolve", {"summary": "Done."})
    _, csrf = _open(client, case)
    before = _timeline(admin, case)
    status = admin.get(f"/cases/{case['id']}").json()["status"]
    answer = client.post(
        _path(case["portal_url"]) + suffix, data={"csrf": csrf, field: "x" * (limit + 1), **extra}
    )
    assert answer.status_code == 422
    assert f"under {limit:,} characters" in answer.text and f'id="{field}-error"' in answer.text
    assert _timeline(admin, case) == before
    assert admin.get(f"/cases/{case['id']}").json()["status"] == status


def test_feedback_scores_out_of_range_are_refused(admin, client):
    case = _case(admin)
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Done."})
    _, csrf = _open(client, case)
    url = _path(case["portal_url"]) + "/feedback"
    answer = client.post(url, data={"csrf": csrf, "fixed": "yes", "csat": "9", "ces": "²"})
    assert answer.status_code == 422
    assert "from 1 to 5" in answer.text and "from 1 to 7" in answer.text
    assert client.post(url, data={"csrf": csrf, "csat": "4"}).status_code == 422  # fixed? unanswered
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "resolved"


def test_another_customers_link_cannot_touch_the_first_case(admin, client):
    mine = _case(admin, "Ana Silva", "ana@example.com", "Secret A kettle")
    theirs = _case(admin, "Bo Berg", "bo@example.com", "Secret B toaster")
    _, my_csrf = _open(client, mine)
    their_page, their_csrf = _open(client, theirs)
    assert "Secret A" not in their_page and "Ana Silva" not in their_page
    mine_before = _timeline(admin, mine)
    # A's form token is bound to A's link: it does not work on B's.
    assert (
        client.post(_path(theirs["portal_url"]) + "/reply", data={"csrf": my_csrf, "body": "x"}).status_code
        == 403
    )
    for suffix, data in FORMS[:2]:
        answer = client.post(_path(theirs["portal_url"]) + suffix, data={**data, "csrf": their_csrf})
        assert answer.status_code == 200 and "Secret A" not in answer.text
    assert _timeline(admin, mine) == mine_before
    assert {e["kind"] for e in _timeline(admin, theirs)} >= {"message_in", "fair_solution"}


def test_expired_link_offers_a_fresh_one_by_email_without_telling_who_is_a_customer(admin, client, clock):
    case = _case(admin, "Ana Silva", "ana@example.com", "Secret A kettle")
    clock.advance(timedelta(days=40))
    expired = client.get(_path(case["portal_url"]))
    assert expired.status_code == 404
    assert "Secret A" not in expired.text and "Ana Silva" not in expired.text
    assert "E-mail me a fresh link" in expired.text
    assert "<title>This link has expired</title>" in expired.text
    csrf = CSRF_RE.search(expired.text).group(1)  # type: ignore[union-attr]
    assert client.post("/portal/fresh-link", data={"email": "ana@example.com"}).status_code == 403

    def outbox() -> list[dict]:  # type: ignore[type-arg]
        return [m for m in admin.get("/outbox", limit=200).json()["items"] if m["kind"] == "portal_link"]

    known = client.post("/portal/fresh-link", data={"csrf": csrf, "email": " Ana@Example.com "})
    unknown = client.post("/portal/fresh-link", data={"csrf": csrf, "email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text and "Check your inbox" in known.text
    assert "<title>Check your inbox</title>" in known.text
    [message] = outbox()
    assert message["recipient"] == "ana@example.com" and message["case_id"] == case["id"]
    link = re.search(r"http://ownwell\.test(/portal/\S+)", message["body"]).group(1)  # type: ignore[union-attr]
    fresh = client.get(link)
    assert fresh.status_code == 200 and "Secret A kettle" in fresh.text
    bad = client.post("/portal/fresh-link", data={"csrf": csrf, "email": "not an address"})
    assert bad.status_code == 422 and "does not look like an e-mail address" in bad.text


def test_fresh_link_requests_are_rate_limited(admin, client, clock):
    _case(admin, "Ana Silva", "ana@example.com")
    page = client.get("/portal/not-a-token")
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    for _ in range(3):
        assert (
            client.post("/portal/fresh-link", data={"csrf": csrf, "email": "ana@example.com"}).status_code
            == 200
        )
    limited = client.post("/portal/fresh-link", data={"csrf": csrf, "email": "ana@example.com"})
    assert limited.status_code == 429 and "wait ten minutes" in limited.text
    clock.advance(timedelta(minutes=11))
    assert (
        client.post("/portal/fresh-link", data={"csrf": csrf, "email": "ana@example.com"}).status_code == 200
    )


def test_kudos_of_an_unknown_staff_member_is_404(admin):
    answer = admin.get("/staff/stf_nope/kudos")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_an_expired_confirm_link_also_offers_a_fresh_one(admin, client, clock):
    case = _case(admin, "Ana Silva", "ana@example.com", "Secret A kettle")
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Sorted."})
    [mail] = [
        m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "resolution"
    ]
    confirm = re.search(r"http://ownwell\.test(/feedback/\S+)", mail["body"]).group(1)  # type: ignore[union-attr]
    assert "Is everything solved?" in client.get(confirm).text
    clock.advance(timedelta(days=61))
    expired = client.get(confirm)
    assert expired.status_code == 404 and "E-mail me a fresh link" in expired.text
    assert "Secret A" not in expired.text and "Ana Silva" not in expired.text
