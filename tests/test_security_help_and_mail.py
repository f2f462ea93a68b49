"""Issue #17: the help form does not tell who our customers are, and a case opened in the name of
an address nobody proved to hold (the help form, or e-mail the receiving server did not vouch for
in its Authentication-Results header, RFC 8601) is marked "unverified sender" for staff until the
customer answers from that address."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

import pytest

from ownwell.db import unit_of_work
from ownwell.intake.listener import start_listener
from ownwell.intake.service import receive_email
from tests.mailsink import free_port
from tests.staff_web import web_session_for

CARE = "care@acme.test"
ADMIN_EMAIL = "ada@ownwell.test"  # the `admin` fixture's address
PORTAL_LINK = re.compile(r"http://ownwell\.test(/portal/\S+)")
BADGE = "unverified sender — web form"


# --- helpers ---------------------------------------------------------------------------------


def _help_token(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/help")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


def _ask_for_help(client, email: str, what: str = "My kettle leaks.", order: str = ""):  # type: ignore[no-untyped-def]
    answer = client.post(
        "/help", data={"csrf": _help_token(client), "email": email, "what": what, "order": order}
    )
    assert answer.status_code == 200, answer.text
    return answer


def _acknowledgement(admin, recipient: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    [ack] = [
        m
        for m in admin.get("/outbox", limit=200).json()["items"]
        if m["recipient"] == recipient and m["kind"] == "acknowledgement"
    ]
    return ack


def _help_case(admin, client, email: str = "ines@example.com") -> tuple[dict, str]:  # type: ignore[no-untyped-def, type-arg]
    """A case opened through the help form: (the case as the API shows it, its portal path)."""
    _ask_for_help(client, email)
    ack = _acknowledgement(admin, email)
    found = PORTAL_LINK.search(ack["body"])
    assert found, ack["body"]
    return admin.get(f"/cases/{ack['case_id']}").json(), found.group(1)


def _staff_case_page(client, session_factory, clock, case_id: str) -> str:  # type: ignore[no-untyped-def]
    web_session_for(client, session_factory, clock, ADMIN_EMAIL)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    return page.text


def _timeline(admin, case_id: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return admin.get(f"/cases/{case_id}/timeline", limit=200).json()["items"]


@pytest.fixture
def intake_settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"mail_from": CARE})


@pytest.fixture
def listener(intake_settings, session_factory, clock, admin):  # type: ignore[no-untyped-def]
    controller = start_listener(intake_settings, session_factory, clock, port=free_port())
    yield controller
    controller.stop()


def _mail(body: str, *, results: list[str], sender: str = "Ines Moreau <ines@example.com>", **headers: str):
    """A customer's e-mail; `results` are its Authentication-Results headers, top-most first."""
    message = EmailMessage()
    for value in results:  # the receiving server puts its header on top of the ones already there
        message["Authentication-Results"] = value
    message["From"] = sender
    message["To"] = CARE
    message["Subject"] = headers.pop("Subject", "Broken kettle")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def _send(listener, message: EmailMessage) -> str:  # type: ignore[no-untyped-def]
    """Over a real SMTP conversation with the built-in listener; the id of the case it went to."""
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    with smtplib.SMTP(listener.hostname, listener.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("bounces@example.com")
        smtp.rcpt(CARE)
        code, reply = smtp.data(data)
    assert code == 250, reply
    return next(w.rstrip(")") for w in reply.decode().split() if w.startswith("cas_"))


def _receive(session_factory, settings, clock, message: EmailMessage) -> str:  # type: ignore[no-untyped-def]
    """Through the intake service itself (for settings the shared listener does not have)."""
    with unit_of_work(session_factory) as session:
        result = receive_email(session, raw=message.as_bytes(), now=clock.now(), settings=settings)
    assert result.case_id is not None, result
    return result.case_id


DMARC_PASS = "mx.acme.test; spf=pass smtp.mailfrom=ines@example.com; dmarc=pass header.from=example.com"


# --- the help form ---------------------------------------------------------------------------


def test_the_help_form_answers_a_known_and_an_unknown_address_with_the_same_page(admin, client):
    admin.post(
        "/customers", {"name": "Ines Moreau", "emails": ["ines@example.com"], "timezone": "Asia/Tokyo"}
    )
    known = _ask_for_help(client, "ines@example.com", order="A-1001").text
    unknown = _ask_for_help(client, "nobody@example.com", order="A-1001").text
    assert known.replace("ines@example.com", "ADDRESS") == unknown.replace("nobody@example.com", "ADDRESS")
    for page in (known, unknown):
        assert "Ines" not in page and "Moreau" not in page and "Welcome back" not in page
        assert "/portal/" not in page and "cas_" not in page
        assert "Ada Admin" not in page  # nor who owns it: routing may depend on the customer
        assert "We have written to" in page


def test_the_link_to_a_help_form_case_goes_only_in_the_acknowledgement_e_mail(admin, client):
    admin.post("/customers", {"name": "Ines Moreau", "emails": ["ines@example.com"]})
    case, portal = _help_case(admin, client)
    ack = _acknowledgement(admin, "ines@example.com")
    assert ack["channel"] == "email" and "Hello Ines Moreau" in ack["body"]
    assert (
        case["customer_id"] == admin.get("/customers", identifier="ines@example.com").json()["items"][0]["id"]
    )
    opened = client.get(portal)
    assert opened.status_code == 200 and "My kettle leaks." in opened.text


def test_a_help_form_case_is_marked_unverified_sender_on_the_api_and_the_staff_case_page(
    admin, client, session_factory, clock
):
    case, _ = _help_case(admin, client)
    assert case["unverified_sender"] is True and case["channel"] == "web"
    page = _staff_case_page(client, session_factory, clock, case["id"])
    assert BADGE in page
    staff_made = admin.post("/cases", {"customer": {"emails": ["rui@example.com"]}, "body": "Hello"}).json()
    assert staff_made["unverified_sender"] is False
    assert "unverified sender" not in _staff_case_page(client, session_factory, clock, staff_made["id"])


def test_a_reply_through_the_e_mailed_case_link_clears_the_unverified_mark(
    admin, client, session_factory, clock
):
    case, portal = _help_case(admin, client)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(portal).text).group(1)  # type: ignore[union-attr]
    sent = client.post(
        portal + "/reply", data={"csrf": csrf, "body": "It is the blue one."}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert admin.get(f"/cases/{case['id']}").json()["unverified_sender"] is False
    [cleared] = [e for e in _timeline(admin, case["id"]) if e["kind"] == "sender_verified"]
    assert cleared["visibility"] == "internal" and cleared["data"]["via"] == "case page"
    page = _staff_case_page(client, session_factory, clock, case["id"])
    assert BADGE not in page and "answered from their own address" in page


def test_an_authenticated_e_mail_reply_threaded_onto_the_case_clears_the_unverified_mark(
    admin, client, listener
):
    case, _ = _help_case(admin, client)
    ack = _acknowledgement(admin, "ines@example.com")
    reply = _mail("Blue one.", results=[DMARC_PASS], Subject="Re: x", In_Reply_To=f"<{ack['id']}@acme.test>")
    assert _send(listener, reply) == case["id"]
    assert admin.get(f"/cases/{case['id']}").json()["unverified_sender"] is False
    [cleared] = [e for e in _timeline(admin, case["id"]) if e["kind"] == "sender_verified"]
    assert cleared["data"]["via"] == "e-mail"


def test_an_unauthenticated_e_mail_reply_leaves_the_mark_and_is_marked_itself(
    admin, client, listener, session_factory, clock
):
    case, _ = _help_case(admin, client)
    reply = _mail("Blue one.", results=[], Subject=f"Re: [{case['id']}] x")
    assert _send(listener, reply) == case["id"]
    assert admin.get(f"/cases/{case['id']}").json()["unverified_sender"] is True
    [message] = [e for e in _timeline(admin, case["id"]) if e["kind"] == "message_in"]
    assert message["data"]["unverified_sender"] is True
    assert not [e for e in _timeline(admin, case["id"]) if e["kind"] == "sender_verified"]
    page = _staff_case_page(client, session_factory, clock, case["id"])
    assert page.count('class="badge unverified"') >= 2  # the case head and the message


# --- Authentication-Results on inbound mail --------------------------------------------------


@pytest.mark.parametrize(
    "results",
    [
        [DMARC_PASS],
        ["mx.acme.test; dkim=pass (good signature) header.d=example.com header.s=k1; dmarc=none"],
        ["mx.acme.test 1; dkim=pass header.d=mail.example.com"],  # relaxed alignment
        ["mx.acme.test; spf=pass (sender SPF authorized) smtp.mailfrom=bounces@example.com"],
    ],
    ids=["dmarc-pass", "dkim-pass-aligned", "dkim-pass-subdomain", "spf-pass-aligned"],
)
def test_mail_the_receiving_server_vouches_for_opens_a_case_without_the_mark(admin, listener, results):
    case_id = _send(listener, _mail("My kettle leaks.", results=results))
    assert admin.get(f"/cases/{case_id}").json()["unverified_sender"] is False
    [message] = [e for e in _timeline(admin, case_id) if e["kind"] == "case_created"]
    assert "unverified_sender" not in message["data"]


@pytest.mark.parametrize(
    "results",
    [
        [],
        ["mx.acme.test; none"],
        ["mx.acme.test; dmarc=fail (p=reject) header.from=example.com; spf=softfail smtp.mailfrom=x@e.test"],
        ["mx.acme.test; dkim=pass header.d=evil.test; spf=pass smtp.mailfrom=bounce@evil.test"],
        ["mx.acme.test; dmarc=pass header.from=evil.test"],
        # A header the sender wrote themselves, below the one our receiving server added.
        ["mx.acme.test; dmarc=fail header.from=example.com", DMARC_PASS],
        ["mx.acme.test; none", DMARC_PASS],
    ],
    ids=[
        "absent",
        "none",
        "fail",
        "pass-not-aligned",
        "dmarc-other-domain",
        "forged-below-fail",
        "forged-below",
    ],
)
def test_mail_without_a_passing_trusted_result_is_taken_but_marked_unverified(
    admin, client, listener, session_factory, clock, results
):
    case_id = _send(listener, _mail("My kettle leaks.", results=results))
    case = admin.get(f"/cases/{case_id}").json()
    assert case["unverified_sender"] is True and case["channel"] == "email"
    [opened] = [e for e in _timeline(admin, case_id) if e["kind"] == "case_created"]
    assert opened["data"]["unverified_sender"] is True and opened["text"] == "My kettle leaks."
    page = _staff_case_page(client, session_factory, clock, case_id)
    assert ">unverified sender</span>" in page and BADGE not in page


def test_with_trusted_authserv_ids_only_the_top_most_trusted_header_counts(
    admin, session_factory, intake_settings, clock
):
    trusting = intake_settings.model_copy(
        update={"intake_trusted_authserv_ids": "mx.acme.test, filter.acme.test"}
    )
    verified = [
        # An internal relay's header on top is not ours to trust; the MX's below it is.
        ["relay.acme.test; none", "mx.acme.test; dkim=pass header.d=example.com"],
        ["Filter.Acme.Test; dmarc=pass header.from=example.com"],
    ]
    unverified = [
        # Whatever another server says, and a forged copy of ours below the real one.
        ["gmail.test; dmarc=pass header.from=example.com"],
        ["mx.acme.test; dmarc=fail header.from=example.com", DMARC_PASS],
    ]
    for results, expected in [(r, False) for r in verified] + [(r, True) for r in unverified]:
        case_id = _receive(session_factory, trusting, clock, _mail("Leaks.", results=results))
        assert admin.get(f"/cases/{case_id}").json()["unverified_sender"] is expected, results
