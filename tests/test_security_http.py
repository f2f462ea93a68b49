"""Issue #17, the HTTP side: headers, limits, link scopes, settings that refuse unsafe set-ups."""

from __future__ import annotations

import re

from tests.test_followthrough import _link, _outbox


def _resolved_case_feedback_link(admin) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    case = admin.post("/cases", {"customer": {"emails": ["moe@example.com"]}, "body": "Login fails"}).json()
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Reset your password link."})
    message = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "resolution")
    return case, _link(message["body"])


# --- feedback links are not portal links ---


def test_a_feedback_link_token_does_not_open_the_portal(admin, client):  # type: ignore[no-untyped-def]
    case, link = _resolved_case_feedback_link(admin)
    token = re.match(r"/feedback/([^?]+)", link).group(1)  # type: ignore[union-attr]
    portal = client.get(f"/portal/{token}")
    assert portal.status_code == 404
    assert "This link has expired" in portal.text
    assert case["subject"] not in portal.text
    page = client.get(link)
    assert page.status_code == 200 and "Is everything solved?" in page.text


def test_a_portal_link_token_does_not_open_the_feedback_page(admin, client):  # type: ignore[no-untyped-def]
    case, _ = _resolved_case_feedback_link(admin)
    ack = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "acknowledgement")
    token = re.search(r"http://ownwell\.test/portal/(\S+)", ack["body"]).group(1)  # type: ignore[union-attr]
    assert client.get(f"/portal/{token}").status_code == 200
    assert client.get(f"/feedback/{token}").status_code == 404
