"""Words the case owner sends the customer about an offer: what we decided, in active voice.
Internal notes (the proposer's reasons, the supervisor's decision note) never appear here."""

from __future__ import annotations

from decimal import Decimal

from ownwell.notifications.render import signature
from ownwell.offers.models import OfferType
from ownwell.offers.rules import describe, money


def _giving(offer_type: OfferType, amount: Decimal, currency: str) -> str:
    value = money(amount, currency)
    return {
        OfferType.refund: f"we are refunding you {value}",
        OfferType.replacement: f"we are sending you a replacement (worth {value}) at our cost",
        OfferType.store_credit: f"we are giving you {value} of store credit to spend with us",
        OfferType.goodwill: f"we are giving you {value} as a goodwill gesture, to say sorry",
    }[offer_type]


def applied(
    *,
    customer_name: str,
    owner_name: str,
    subject: str,
    offer_type: OfferType,
    amount: Decimal,
    currency: str,
    portal_url: str,
) -> tuple[str, str]:
    giving = _giving(offer_type, amount, currency)
    body = (
        f"Hello {customer_name},\n\n"
        f'To make things right about "{subject}", {giving}.\n\n'
        f"I still own your case; if anything about this is not right, tell me and I will fix it.\n"
        f"Your case: {portal_url}{signature(owner_name)}"
    )
    what = describe(offer_type, amount, currency)
    return f"{what[0].upper()}{what[1:]} for you: {subject}", body


def applied_line(offer_type: OfferType, amount: Decimal, currency: str) -> str:
    """The customer-visible timeline line."""
    giving = _giving(offer_type, amount, currency)
    return f"{giving[0].upper()}{giving[1:]}."


def declined(
    *,
    customer_name: str,
    owner_name: str,
    subject: str,
    offer_type: OfferType,
    amount: Decimal,
    currency: str,
    next_update: str | None,
    portal_url: str,
) -> tuple[str, str]:
    when = (
        f"I still own your case, and I will write to you by {next_update} at the latest with what "
        f"we can do instead."
        if next_update
        else "I still own your case: reply to this message and it comes straight to me."
    )
    body = (
        f"Hello {customer_name},\n\n"
        f'About "{subject}": we looked at {describe(offer_type, amount, currency)} for you and have '
        f"decided not to give it. I am sorry that this is not the answer you hoped for, and I would "
        f"rather tell you now than keep you waiting.\n\n{when}\n\n"
        f"Your case: {portal_url}{signature(owner_name)}"
    )
    return f"About your case: {subject}", body


def declined_line(offer_type: OfferType, amount: Decimal, currency: str) -> str:
    return f"We decided not to give {describe(offer_type, amount, currency)}."
