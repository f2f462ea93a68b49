"""Pure decisions about an inbound e-mail: is it a machine talking (ignore it, never reply), and
which case does it answer (the thread hints our own outgoing mail carries)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ownwell.intake.parse import ParsedEmail, header, header_all

_ID = r"[0-9a-hjkmnp-tv-z]{26}"
_PLUS_CASE = re.compile(rf"\+(cas_{_ID})@", re.IGNORECASE)
_REF = re.compile(rf"<((?:cas|msg)_{_ID})@([^>\s]+)>", re.IGNORECASE)
_SUBJECT_TAG = re.compile(rf"\[(cas_{_ID})\]", re.IGNORECASE)
_ROBOT_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply")


def automatic_reason(mail: ParsedEmail, envelope_from: str | None = None) -> str | None:
    """Why this mail was written by a machine (so it must not open a case or get an answer).
    `envelope_from` is SMTP's MAIL FROM when known: "" (the null sender `<>`) marks a bounce."""
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        return "null sender (a bounce)"
    message = mail.message
    auto = header(message, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return "mailing list"
    if header(message, "X-Ownwell-Kind"):
        return "our own mail came back"
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return "autoresponder"
    local = mail.sender.rpartition("@")[0].lower()
    if local in _ROBOT_SENDERS:
        return f"sent by {local}"
    try:
        kind = message.get_content_type()
        report = message.get_param("report-type") if kind == "multipart/report" else None
    except Exception:
        kind, report = "", None
    if kind == "multipart/report":
        return f"delivery report ({report or 'unknown'})"
    return None


@dataclass(frozen=True)
class ThreadHint:
    case_id: str | None = None
    outbox_id: str | None = None  # one of our messages, whose case is looked up
    how: str = ""


def _lower_id(value: str) -> str:
    prefix, _, rest = value.partition("_")
    return f"{prefix.lower()}_{rest.lower()}"


def thread_hints(mail: ParsedEmail, domain: str) -> list[ThreadHint]:
    """Every pointer to an existing case, strongest first: our plus-address, then the
    In-Reply-To/References ids we minted (on our domain), then a [cas_…] tag in the subject."""
    hints: list[ThreadHint] = []
    for address in mail.recipients:
        if address.lower().endswith("@" + domain.lower()):
            found = _PLUS_CASE.search(address)
            if found:
                hints.append(ThreadHint(case_id=_lower_id(found.group(1)), how="reply-to address"))
    references = " ".join(header_all(mail.message, "In-Reply-To") + header_all(mail.message, "References"))
    for found in _REF.finditer(references):
        if found.group(2).lower() != domain.lower():
            continue
        ident = _lower_id(found.group(1))
        if ident.startswith("cas_"):
            hints.append(ThreadHint(case_id=ident, how="references"))
        else:
            hints.append(ThreadHint(outbox_id=ident, how="references"))
    found_tag = _SUBJECT_TAG.search(mail.subject)
    if found_tag:
        hints.append(ThreadHint(case_id=_lower_id(found_tag.group(1)), how="subject tag"))
    return hints
