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


def address_changed(*, customer_name: str, old: str, new: list[str], mail_from: str) -> str:
    """To an address that was on file before a change: the customer learns of it even when the
    change was not theirs."""
    now_on_file = ", ".join(new) if new else "no e-mail address"
    return (
        f"Hello {customer_name},\n\n"
        f"The e-mail addresses we keep for you were changed. We had {old}; we now have {now_on_file}. "
        f"Our messages and links to your cases go there from now on.\n\n"
        f"If you did not ask for this, please write to us at {mail_from} straight away."
    )


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
    confirm_url: str,
) -> tuple[str, str]:
    tip_text = f"\n\nA tip so this does not happen again: {tip}" if tip else ""
    body = (
        f"Hello {customer_name},\n\n"
        f'I have solved your case "{subject}": {summary}{tip_text}\n\n'
        f"Is there anything else? Tell me whether this fixed it (one click, no login):\n"
        f"{confirm_url}\n\n"
        f"If it did not, I will pick it up again myself. Your case: {portal_url}"
        f"{signature(owner_name)}"
    )
    return f"Solved: {subject}", body


def check_in(*, customer_name: str, owner_name: str, subject: str, answer_url: str) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n"
        f'A while ago I solved your case "{subject}". Did it stay fixed?\n\n'
        f"Tell me here, and how easy we made it for you (it takes ten seconds):\n{answer_url}\n\n"
        f"If anything is still wrong, I will reopen the case and see it through."
        f"{signature(owner_name)}"
    )
    return f"Did it stay fixed? {subject}", body


def reopened(
    *, customer_name: str, owner_name: str, subject: str, reason: str, portal_url: str
) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n"
        f'I have reopened your case "{subject}": {reason}\n\n'
        f"I still own it. Your case: {portal_url}{signature(owner_name)}"
    )
    return f"Reopened: {subject}", body


# --- orders (P3): we tell the customer about a delivery problem before they have to ask ---


def order_problem(
    *,
    reason: str,
    order_ref: str,
    promised_by: datetime,
    eta: datetime | None,
    note: str | None,
    zone: str,
) -> str:
    """What happened to the order, in one sentence: for the timeline and the notice."""
    promised = local_time(promised_by, zone)
    if reason == "exception":
        detail = f": {note.strip().rstrip('.')}" if note and note.strip() else ""
        return f"The carrier reported a problem with your order {order_ref}{detail}."
    if reason == "late_eta" and eta is not None:
        return (
            f"The carrier moved the delivery of your order {order_ref} to {local_time(eta, zone)}, "
            f"later than the {promised} we promised."
        )
    return f"We promised to deliver your order {order_ref} by {promised}, and it has not arrived yet."


def order_trouble(
    *,
    customer_name: str,
    owner_name: str,
    order_ref: str,
    reason: str,
    problem: str,
    eta: datetime | None,
    next_update: datetime | None,
    zone: str,
    portal_url: str,
    update: bool = False,
) -> tuple[str, str]:
    """The proactive notice: what happened, what we are doing, the new date, who owns it."""
    if eta is not None:
        when = f"The new delivery date is {local_time(eta, zone)}. If that changes, I will tell you first."
    elif next_update is not None:
        when = f"I will write to you with a new date by {local_time(next_update, zone)} at the latest."
    else:
        when = "I will write to you with a new date as soon as I have it."
    doing = (
        "I am chasing it with the carrier and our team now."
        if update
        else f"I am {owner_name}, and I own this until your order is with you. I am chasing it with "
        f"the carrier and our team now; you do not need to contact us."
    )
    body = (
        f"Hello {customer_name},\n\n{problem}\n\n{doing}\n\n{when}\n\n"
        f"You can follow this and write to me here: {portal_url}{signature(owner_name)}"
    )
    if update:
        return f"News about your order {order_ref}", body
    if reason == "exception":
        return f"A problem with your order {order_ref}: I am on it", body
    return f"Your order {order_ref} is late: I am on it", body


def order_delivered_line(*, order_ref: str, delivered_at: datetime, zone: str) -> str:
    return f"Your order {order_ref} was delivered on {local_time(delivered_at, zone)}."


def order_delivered(*, customer_name: str, owner_name: str, line: str, portal_url: str) -> tuple[str, str]:
    body = (
        f"Hello {customer_name},\n\n{line}\n\n"
        f"If anything about it is not right, tell me here and I will fix it: {portal_url}"
        f"{signature(owner_name)}"
    )
    return "Your order has arrived", body


# --- incidents (P11): every affected customer hears it from us, from a person they can answer ---


def incident_message(
    *, customer_name: str, title: str, message: str, concierge_name: str, hear_next: str, first: bool
) -> tuple[str, str]:
    """The first notice and every update: what happened and what we are doing (the incident
    owner's words), who looks after this customer, and when they will hear from us next."""
    who = (
        f"I am {concierge_name}, and I look after you personally until this is over. You do not "
        f"need to contact us; if you want to, reply to this message and it comes to me."
        if first
        else f"This is {concierge_name}, still looking after you personally: reply to this message "
        f"and it comes to me."
    )
    body = (
        f"Hello {customer_name},\n\n{message.strip()}\n\n{who}\n\n"
        f"You will hear from me again by {hear_next} at the latest, sooner if anything changes."
        f"\n\n{concierge_name}\nYour contact for this incident"
    )
    return (f"{title}: what happened and what we are doing" if first else f"Update: {title}"), body
