"""Pure parsing of an inbound e-mail (standard library only): who sent it, about what, in which
words. Hostile input never raises here: broken MIME, unknown charsets and odd headers degrade
to the best text we can read."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from ownwell.kit.text import one_line

MAX_BODY_CHARS = 50_000
MAX_PARTS = 200
# Real mail nests a handful of multiparts (a forward of a forward: a dozen). Each level costs
# the email package milliseconds, so thousands are a cheap way to burn our CPU: refused unread.
MAX_MULTIPARTS = 50
_MULTIPART = re.compile(rb"content-type:[ \t]*multipart/", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WROTE = re.compile(r"^\s*(On\b.{0,300}\bwrote:|-{2,}\s*Original Message\s*-{2,})\s*$", re.IGNORECASE)


def clean(text: str, limit: int) -> str:
    """Storable text: no lone surrogates, NULs or control characters, bounded length."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))[:limit]


def header(message: Message, name: str) -> str:
    """A header as text, or "" when it is missing or too broken to read."""
    try:
        value = message.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    return clean(str(value), 2000).replace("\n", " ").strip()


def header_all(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except Exception:
        return []
    return [clean(str(v), 2000).replace("\n", " ") for v in values]


class _Text(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this is belt and braces
        return re.sub(r"<[^>]*>", " ", html)
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return payload.decode(charset, errors="replace")
    except (LookupError, ValueError, TypeError):
        return payload.decode("utf-8", errors="replace")


def _text_parts(message: Message) -> tuple[str, str]:
    """(first text/plain, first text/html) body, skipping attachments; bounded walk."""
    plain = html = ""
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS:
            break
        try:
            if part.is_multipart() or part.get_content_disposition() == "attachment":
                continue
            kind = part.get_content_type()
        except Exception:
            continue
        if kind == "text/plain" and not plain:
            plain = _decode(part)
        elif kind == "text/html" and not html:
            html = _decode(part)
    return plain, html


def split_quoted(text: str) -> tuple[str, str]:
    """(the new words, the quoted history): history starts at an "On … wrote:" line or is the
    run of ">" lines at the end."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _WROTE.match(line):
            return "\n".join(lines[:i]).strip(), "\n".join(lines[i:]).strip()
    end = len(lines)
    while end > 0 and (lines[end - 1].startswith(">") or not lines[end - 1].strip()):
        end -= 1
    return "\n".join(lines[:end]).strip(), "\n".join(lines[end:]).strip()


@dataclass(frozen=True)
class MailFile:
    """A file the sender attached, as declared (name and type are the sender's claims)."""

    filename: str  # as written, cleaned of control characters; may be ""
    content_type: str
    content: bytes


def _attached_files(message: Message) -> list[MailFile]:
    """Every leaf part that is a file rather than the body: marked as an attachment, named, or
    not text. A single-part message is its own body, never a file."""
    files: list[MailFile] = []
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS:
            break
        try:
            if part.is_multipart():
                continue
            disposition = part.get_content_disposition()
            filename = part.get_filename() or ""
            kind = part.get_content_type()
        except Exception:
            continue
        named = disposition == "attachment" or bool(filename)
        if part is message and not named:
            continue
        if not named and kind.startswith(("text/", "message/")):
            continue  # another body part (plain next to html), not a file
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            payload = None
        if not isinstance(payload, bytes):
            continue
        files.append(
            MailFile(
                filename=clean(str(filename), 500).strip(), content_type=clean(kind, 100), content=payload
            )
        )
    return files


@dataclass(frozen=True)
class ParsedEmail:
    sender: str  # the From address as written ("" if none could be read)
    sender_name: str
    recipients: list[str]
    subject: str
    body: str  # the customer's new words
    quoted: str  # the history they quoted, kept but not shown first
    message: Message = field(repr=False)
    files: list[MailFile] = field(default_factory=list, repr=False)

    def text(self) -> str:
        return self.body if not self.quoted else f"{self.body}\n\n{self.quoted}".strip()


class UnreadableEmail(ValueError):
    """The standard library could not make a message of these bytes (e.g. nested too deep)."""


def parse_email(raw: bytes, envelope_rcpts: list[str] | None = None) -> ParsedEmail:
    multiparts = sum(1 for _ in itertools.islice(_MULTIPART.finditer(raw), MAX_MULTIPARTS + 1))
    if multiparts > MAX_MULTIPARTS:
        raise UnreadableEmail(f"more than {MAX_MULTIPARTS} multipart sections (nested too deep)")
    try:
        return _parse(raw, envelope_rcpts)
    except (RecursionError, MemoryError) as exc:
        raise UnreadableEmail(f"{type(exc).__name__}: nested too deep or too large") from exc
    except Exception as exc:  # the email package has had many odd failure modes on hostile input
        raise UnreadableEmail(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _parse(raw: bytes, envelope_rcpts: list[str] | None) -> ParsedEmail:
    message = message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(header(message, "From"))
    recipients = list(envelope_rcpts or [])
    for name_ in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients += [a for _, a in getaddresses(header_all(message, name_)) if a]
    plain, html = _text_parts(message)
    text = clean(plain if plain.strip() else html_to_text(html), MAX_BODY_CHARS)
    body, quoted = split_quoted(text)
    if not body:  # everything was quoted: keep it all rather than lose the words
        body, quoted = quoted, ""
    return ParsedEmail(
        sender=clean(address, 320).strip(),
        # Both may end in a header of our answer: one line each (tabs and U+2028 too).
        sender_name=one_line(clean(name, 200)),
        recipients=[clean(r, 320).strip() for r in recipients],
        subject=one_line(clean(header(message, "Subject"), 300)),
        body=body,
        quoted=quoted,
        message=message,
        files=_attached_files(message),
    )
