"""Words we send to customers: active voice, who owns it, what happens next and when."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A %d %B %Y, %H:%M} ({zone})"


def signature(owner_name: str) -> str:
    return f"\n\n{owner_name}\nYour case owner"


def acknowledgement(
    *,
    customer_name: str,
    owner_name: str,
    subject: str,
    next_update: datetime,
    zone: str,
    portal_url: str,
) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n"
        f'I have your message about "{subject}". I am {owner_name} and I own your case from '
        f"now until it is solved: you deal with me, and you will not have to explain it again.\n\n"
        f"You will hear from me by {local_time(next_update, zone)} at the latest.\n"
        f"You can follow your case and write to me here: {portal_url}"
        f"{signature(owner_name)}"
    )
    return f"We have your message: {subject}", body


def staff_reply(*, customer_name: str, owner_name: str, text: str, portal_url: str) -> str:
    return f"Hello {customer_name},\n\n{text}\n\nYour case: {portal_url}{signature(owner_name)}"


def new_owner(
    *, customer_name: str, old_owner: str, new_owner: str, subject: str, portal_url: str
) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n"
        f'{old_owner} has handed your case "{subject}" to me, {new_owner}. I now own it and '
        f"have read everything you told us, so you will not need to repeat yourself.\n\n"
        f"Your case: {portal_url}{signature(new_owner)}"
    )
    return f"{new_owner} now owns your case: {subject}", body


def resolution(
    *,
    customer_name: str,
    owner_name: str,
    subject: str,
    summary: str,
    tip: str | None,
    portal_url: str,
) -> tuple[str, str]:
    tip_text = f"\n\nA tip so this does not happen again: {tip}" if tip else ""
    body = (
        f"Hello {customer_name},\n\n"
        f'I have solved your case "{subject}": {summary}{tip_text}\n\n'
        f"Is there anything else? If this did not fix it, tell me here and I will pick it up "
        f"again: {portal_url}{signature(owner_name)}"
    )
    return f"Solved: {subject}", body


def reopened(
    *, customer_name: str, owner_name: str, subject: str, reason: str, portal_url: str
) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n"
        f'I have reopened your case "{subject}": {reason}\n\n'
        f"I still own it. Your case: {portal_url}{signature(owner_name)}"
    )
    return f"Reopened: {subject}", body
