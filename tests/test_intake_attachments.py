"""E-mail in with files: allowed files are kept on the case and named in the message's timeline
event, served to staff and (by the signed portal link) to the customer who sent them; other
types are noted on the timeline with why; one over the limit is refused at SMTP time."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import urlparse

import pytest

from ownwell.intake.listener import start_listener
from tests.mailsink import free_port
from tests.test_intake_email import CARE, case_from, counts, send

LIMIT = 50_000
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02pixels" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 500


@pytest.fixture
def listener(settings, session_factory, clock, admin):
    tuned = settings.model_copy(
        update={"mail_from": CARE, "intake_max_bytes": 400_000, "intake_attachment_max_bytes": LIMIT}
    )
    controller = start_listener(tuned, session_factory, clock, port=free_port())
    yield controller
    controller.stop()


def with_files(body: str, files: list[tuple[bytes, str, str, str]], **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Ines Moreau <ines@example.com>")
    message["To"] = CARE
    message["Subject"] = headers.pop("Subject", "Broken kettle")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    for content, maintype, subtype, filename in files:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def test_files_are_kept_on_the_case_and_served_to_staff_and_the_customer(listener, admin, client):
    message = with_files(
        "Photo and receipt attached.",
        [
            (PDF, "application", "pdf", "receipt.pdf"),
            (PNG, "image", "png", "../../etc/kettle photo.png"),
            (EXE, "application", "x-msdownload", "fix.exe"),
        ],
    )
    code, reply = send(listener, message)
    assert code == 250 and "opened" in reply, reply
    case_id = case_from(reply)

    files = admin.get(f"/cases/{case_id}/attachments").json()["items"]
    assert [(f["filename"], f["content_type"], f["size"]) for f in files] == [
        ("receipt.pdf", "application/pdf", len(PDF)),
        ("kettle photo.png", "image/png", len(PNG)),  # no path survives
    ]
    events = admin.get(f"/cases/{case_id}/timeline").json()["items"]
    created = next(e for e in events if e["kind"] == "case_created")
    assert created["text"] == "Photo and receipt attached."
    assert created["data"]["attachments"] == [f["id"] for f in files]
    assert created["data"]["attachments_not_kept"] == ["fix.exe"]
    [refused] = [e for e in events if e["kind"] == "attachment_not_kept"]
    assert "fix.exe" in refused["text"] and "application/x-msdownload are not accepted" in refused["text"]
    assert refused["visibility"] == "customer"

    pdf = admin.client.get(files[0]["download_url"], headers=admin.headers)
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith('attachment; filename="receipt.pdf"')
    assert pdf.headers["x-content-type-options"] == "nosniff"
    png = admin.client.get(files[1]["download_url"], headers=admin.headers)
    assert png.content == PNG and "filename*=UTF-8''kettle%20photo.png" in png.headers["content-disposition"]
    assert client.get(files[0]["download_url"]).status_code == 401
    assert admin.get("/attachments/att_nope").status_code == 404

    # The customer downloads their own file through the signed link of their case.
    token = urlparse(admin.get(f"/cases/{case_id}").json()["portal_url"]).path.split("/")[-1]
    mine = client.get(f"/portal/{token}/attachments/{files[0]['id']}")
    assert mine.status_code == 200 and mine.content == PDF
    assert client.get(f"/portal/{token}x/attachments/{files[0]['id']}").status_code == 404

    # Someone else's link to their own case does not reach Ines's file.
    _, other = send(listener, with_files("Mine too", [], From="bob@example.com"))
    other_token = urlparse(admin.get(f"/cases/{case_from(other)}").json()["portal_url"]).path.split("/")[-1]
    assert client.get(f"/portal/{other_token}/attachments/{files[0]['id']}").status_code == 404


def test_a_reply_with_a_file_names_it_on_its_message(listener, admin):
    _, reply = send(listener, with_files("The lid is cracked.", []))
    case_id = case_from(reply)
    answer = with_files("Here is the photo.", [(PNG, "image", "png", "lid.png")], Subject="Re: Broken kettle")
    code, threaded = send(listener, answer, rcpt=f"care+{case_id}@acme.test")
    assert code == 250 and case_from(threaded) == case_id
    [file] = admin.get(f"/cases/{case_id}/attachments").json()["items"]
    [message_in] = [
        e for e in admin.get(f"/cases/{case_id}/timeline").json()["items"] if e["kind"] == "message_in"
    ]
    assert message_in["data"]["attachments"] == [file["id"]] and file["event_id"] == message_in["id"]


def test_an_attachment_over_the_limit_is_refused_with_the_reason(listener, session_factory):
    before = counts(session_factory)
    big = with_files("Video of the leak.", [(b"v" * (LIMIT + 1), "application", "pdf", "leak.pdf")])
    code, reply = send(listener, big)
    assert code == 552, (code, reply)
    assert "'leak.pdf'" in reply and f"{LIMIT + 1} bytes" in reply and f"limit is {LIMIT} bytes" in reply
    assert counts(session_factory) == before
