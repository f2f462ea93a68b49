"""Pure decisions about an inbound e-mail: is it a machine talking (ignore it, never reply), and
which case does it answer (the thread hints our own outgoing mail carries)."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass

from ownwell.intake.parse import MailFile, ParsedEmail, clean, header, header_all

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


# --- re-delivery -------------------------------------------------------------------------------

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n[ \t]+")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<?([\x21-\x3b\x3d\x3f-\x7e]+)>?", re.IGNORECASE | re.MULTILINE)
MAX_KEY = 255


def _unfolded_head(raw: bytes) -> bytes:
    """The header block of the raw bytes (first 200 kB at most), folded lines joined."""
    return _FOLD.sub(b" ", _HEAD_END.split(raw[:200_000], maxsplit=1)[0])


def raw_header(raw: bytes, name: str) -> str:
    """A header read straight from the bytes, for mail the email package cannot parse."""
    head = _unfolded_head(raw)
    found = re.search(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*)$", head, re.IGNORECASE | re.MULTILINE)
    return clean(found.group(1).decode("utf-8", "replace"), 300).strip() if found else ""


def message_id(raw: bytes) -> str | None:
    head = _unfolded_head(raw)
    found = _MESSAGE_ID.search(head)
    return found.group(1).decode("ascii") if found else None


def message_key(raw: bytes) -> str:
    """What identifies this message across deliveries: its Message-ID, or (when it has none, or
    one too long to index) a hash of its bytes, which an MTA or IMAP retry repeats exactly."""
    ident = message_id(raw)
    if ident is not None and len(ident) <= MAX_KEY:
        return ident
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# --- attachments -------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^\w.\- ()+,@=]+", re.UNICODE)


def allowed_types(spec: str) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in spec.split(",") if t.strip())


def oversized(files: list[MailFile], limit: int) -> MailFile | None:
    return next((f for f in files if len(f.content) > limit), None)


def refusal(file: MailFile, *, allowed: frozenset[str]) -> str | None:
    """Why this file is not kept, or None when it is."""
    if file.content_type.lower() not in allowed:
        return f"files of type {file.content_type} are not accepted"
    if not file.content:
        return "the file is empty"
    return None


def safe_filename(name: str, content_type: str, index: int) -> str:
    """A name that is safe in a Content-Disposition header and on any file system: no path, no
    control or shell characters, bounded; "attachment-N.ext" when nothing usable is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" ._")
    if len(base) > 150:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: 140 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else base[:150]
    if not base:
        base = f"attachment-{index}{mimetypes.guess_extension(content_type) or '.bin'}"
    return base


def human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.0f} kB"
    return f"{size} bytes"
