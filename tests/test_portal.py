"""The link in every message shows the customer their case, and nothing to anyone else."""

from __future__ import annotations

from datetime import timedelta


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
