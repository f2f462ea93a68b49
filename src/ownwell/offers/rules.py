"""Pure rules of offers: whose authority covers what, and when an approval is due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from ownwell.offers.models import OfferType
from ownwell.staff.models import Staff


def authority_limit(staff: Staff, offer_type: OfferType) -> Decimal:
    """The most this person may give of this kind on their own. Store credit is the staff
    record's `credit` limit; the other kinds share their names with the limits."""
    limits = {
        OfferType.refund: staff.authority_refund,
        OfferType.store_credit: staff.authority_credit,
        OfferType.replacement: staff.authority_replacement,
        OfferType.goodwill: staff.authority_goodwill,
    }
    return Decimal(limits[offer_type] or 0)


def within_authority(staff: Staff, offer_type: OfferType, amount: Decimal) -> bool:
    """`amount` is the running total of this type on the case, this offer included, in the
    organisation's currency: three offers of 50 are 150 against a limit of 50."""
    return amount <= authority_limit(staff, offer_type)


def in_org_currency(
    amount: Decimal, currency: str, *, org_currency: str, rates: Mapping[str, Decimal]
) -> Decimal | None:
    """The amount in the organisation's currency, exactly (Decimal); None when no rate says."""
    if currency == org_currency:
        return amount
    rate = rates.get(currency)
    return None if rate is None else amount * rate


def pack_departments(department_ids: Sequence[str]) -> str:
    """Department ids as stored on an offer: ",a,b," so that one id is found with LIKE ",a,"."""
    return "," + ",".join(sorted(department_ids)) + "," if department_ids else ""


def unpack_departments(packed: str) -> list[str]:
    return [d for d in packed.split(",") if d]


def approval_due(created_at: datetime, sla_minutes: int) -> datetime:
    return created_at + timedelta(minutes=sla_minutes)


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def describe(offer_type: OfferType, amount: Decimal, currency: str) -> str:
    """The offer as a noun phrase, for timelines, agendas and staff mail."""
    value = money(amount, currency)
    return {
        OfferType.refund: f"a refund of {value}",
        OfferType.replacement: f"a replacement worth {value}",
        OfferType.store_credit: f"{value} of store credit",
        OfferType.goodwill: f"a goodwill gesture of {value}",
    }[offer_type]
