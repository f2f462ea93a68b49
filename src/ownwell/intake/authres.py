"""Is an inbound e-mail really from the address in its From header? The receiving server checks
SPF, DKIM and DMARC and writes what it found into an `Authentication-Results` header (RFC 8601),
on top of the ones already there. We read that header; we check no signatures ourselves.

Which header to believe: anyone can write `Authentication-Results: … dmarc=pass` into the mail
they send, so only a header added on our side of the border counts.
- `OWNWELL_INTAKE_TRUSTED_AUTHSERV_IDS` unset: the top-most header only (the last one added,
  by the server that handed the message to us). Anything below it came with the message.
- set (comma-separated authserv-ids, e.g. "mx.acme.test"): the top-most header whose
  authserv-id is one of these; every other header is ignored.
Either way the receiving server must remove headers that claim its authserv-id from incoming
mail (RFC 8601 §5; Postfix with OpenDKIM/OpenDMARC, rspamd and the big mail providers do).
The built-in SMTP listener neither adds such a header nor removes one: it must take mail from
a receiving server that does, never straight from the internet (there the top-most header would
be the sender's own). Mail with no such header is taken all the same, marked unverified.

The sender counts as verified when that header says `dmarc=pass` (for the From domain, when it
names one), `dkim=pass` with `header.d` aligned with the From domain, or `spf=pass` with
`smtp.mailfrom` aligned. Aligned means relaxed alignment approximated without the public suffix
list: the same domain, or one a subdomain of the other."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from ownwell.intake.parse import header_all

_COMMENT = re.compile(r"\([^()]*\)")
_PAIR = re.compile(r'([\w.\-/]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')


@dataclass(frozen=True)
class AuthResult:
    method: str  # "dmarc", "dkim", "spf", …
    result: str  # "pass", "fail", "none", …
    properties: dict[str, str] = field(default_factory=dict)  # "header.d" -> "example.com"


@dataclass(frozen=True)
class AuthHeader:
    authserv_id: str
    results: list[AuthResult]


def parse_header(value: str) -> AuthHeader | None:
    """One `Authentication-Results` value: its authserv-id and its `method=result` entries with
    their `ptype.property=value` pairs. Comments and reasons are dropped; None if no id."""
    while _COMMENT.search(value):  # nested comments go from the inside out
        value = _COMMENT.sub(" ", value)
    first, *entries = value.split(";")
    words = first.split()
    if not words:
        return None
    results = []
    for entry in entries:
        pairs = [(k.lower(), v.strip('"')) for k, v in _PAIR.findall(entry)]
        if not pairs:
            continue  # "none": nothing was checked
        (method, result), rest = pairs[0], pairs[1:]
        results.append(
            AuthResult(
                method=method.split("/")[0],
                result=result.lower(),
                properties={k: v.lower() for k, v in rest if "." in k},
            )
        )
    return AuthHeader(authserv_id=words[0].lower(), results=results)


def trusted_header(message: Message, trusted_ids: frozenset[str]) -> AuthHeader | None:
    """The one header we believe (see the module's docstring), or None."""
    for value in header_all(message, "Authentication-Results"):
        parsed = parse_header(value)
        if not trusted_ids:
            return parsed  # the top-most header, whatever it says
        if parsed is not None and parsed.authserv_id in trusted_ids:
            return parsed
    return None


def aligned(domain: str, other: str) -> bool:
    domain, other = domain.strip(".").lower(), other.strip(".").lower()
    if not domain or not other:
        return False
    return domain == other or domain.endswith("." + other) or other.endswith("." + domain)


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def sender_verified(message: Message, *, sender: str, trusted_ids: frozenset[str]) -> bool:
    """True when the trusted header vouches for the From address's domain."""
    found = trusted_header(message, trusted_ids)
    from_domain = _domain(sender)
    if found is None or not from_domain:
        return False
    for result in found.results:
        if result.result != "pass":
            continue
        props = result.properties
        if result.method == "dmarc" and props.get("header.from", from_domain) == from_domain.lower():
            return True
        if result.method == "dkim" and aligned(props.get("header.d", ""), from_domain):
            return True
        if result.method == "spf" and aligned(_domain(props.get("smtp.mailfrom", "")), from_domain):
            return True
    return False


def trusted_ids(setting: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in setting.split(",") if part.strip())
