"""A realistic demo organisation, loaded through the same service calls as real work."""

from __future__ import annotations

import logging
from datetime import timedelta

from rich.progress import Progress
from sqlalchemy import select

from ownwell.cases.models import CaseChannel, CaseKind, Visibility
from ownwell.cases.schemas import CaseIn
from ownwell.cases.service import add_message, create_case
from ownwell.clock import SystemClock
from ownwell.commitments.service import make_commitment
from ownwell.config import Settings
from ownwell.customers.schemas import CustomerIn
from ownwell.db import make_engine, make_session_factory, unit_of_work
from ownwell.staff.models import Department, Role
from ownwell.staff.schemas import Authority, StaffIn
from ownwell.staff.service import create_staff, create_token, ensure_department

log = logging.getLogger(__name__)

DEPARTMENTS = ["Customer Care", "Shipping", "Billing", "Product"]
STAFF = [
    ("Maya Okafor", "maya@demo.ownwell.test", Role.admin, ["Customer Care"], 500),
    ("Jonas Berg", "jonas@demo.ownwell.test", Role.supervisor, ["Customer Care", "Shipping"], 300),
    ("Priya Nair", "priya@demo.ownwell.test", Role.agent, ["Customer Care"], 50),
    ("Tomás Silva", "tomas@demo.ownwell.test", Role.agent, ["Shipping"], 50),
    ("Aiko Tanaka", "aiko@demo.ownwell.test", Role.agent, ["Billing"], 100),
    ("Sam Fischer", "sam@demo.ownwell.test", Role.supervisor, ["Billing", "Product"], 300),
    ("Lena Novak", "lena@demo.ownwell.test", Role.agent, ["Product"], 25),
]
# (department or None, kind, words as a customer would write them)
PROBLEMS = [
    (
        "Shipping",
        CaseKind.complaint,
        "My parcel was due on Monday and the tracking has not moved for four days.",
    ),
    ("Shipping", CaseKind.complaint, "The box arrived crushed and the lamp inside is broken."),
    ("Shipping", CaseKind.question, "Can I change the delivery address? I will be away next week."),
    ("Billing", CaseKind.complaint, "I was charged twice for the same order this morning."),
    ("Billing", CaseKind.request, "Please send me an invoice with my company's VAT number on it."),
    (
        "Billing",
        CaseKind.complaint,
        "My refund was promised ten days ago and it is still not on my card.",
    ),
    ("Product", CaseKind.complaint, "The kettle switches itself off before the water boils."),
    ("Product", CaseKind.question, "Does the charger work with 110 V sockets in the US?"),
    (None, CaseKind.question, "How do I close my account? I no longer need it."),
    (None, CaseKind.request, "I'd like to update the phone number you have for me."),
    (None, CaseKind.complaint, "Nobody answered my e-mail from last week about my order."),
]
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elif",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lucía",
]
LAST = [
    "Almeida",
    "Brown",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fernández",
    "García",
    "Haddad",
    "Ito",
    "Jensen",
]


def load_demo(settings: Settings, *, only_once: bool, customers: int = 60) -> None:
    factory = make_session_factory(make_engine(settings.database_url))
    clock = SystemClock()
    with unit_of_work(factory) as session:
        if only_once and session.scalars(select(Department).limit(1)).first() is not None:
            log.info("demo: the database already has an organisation; nothing loaded")
            return
    with Progress(transient=False) as progress, unit_of_work(factory) as session:
        now = clock.now()
        task = progress.add_task("Loading demo organisation", total=len(STAFF) + customers)
        departments = {name: ensure_department(session, name=name, now=now) for name in DEPARTMENTS}
        people = []
        for name, email, role, deps, limit in STAFF:
            people.append(
                create_staff(
                    session,
                    data=StaffIn(
                        name=name,
                        email=email,
                        role=role,
                        department_ids=[departments[d].id for d in deps],
                        authority=Authority(
                            refund=limit, credit=limit, replacement=limit, goodwill=limit / 2
                        ),
                        password="ownwell-demo",
                    ),
                    now=now,
                )
            )
            progress.advance(task)
        for i in range(customers):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            department, kind, words = PROBLEMS[i % len(PROBLEMS)]
            opened = now - timedelta(hours=(customers - i) * 3)
            case = create_case(
                session,
                data=CaseIn(
                    customer=CustomerIn(
                        name=f"{first} {last}", emails=[f"{first}.{last}.{i}@example.com".lower()]
                    ),
                    body=words,
                    kind=kind,
                    channel=CaseChannel.email if i % 3 else CaseChannel.web,
                    caused_by_department_id=departments[department].id if department else None,
                ),
                actor=None,
                now=opened,
                settings=settings,
            )
            if i % 2 == 0:
                add_message(
                    session,
                    case=case,
                    body="Thank you for telling us. I am looking into it now.",
                    visibility=Visibility.customer,
                    actor=case.owner,
                    now=opened + timedelta(minutes=20),
                    settings=settings,
                )
            if i % 4 == 0:
                make_commitment(
                    session,
                    case=case,
                    text="Call you back with the outcome",
                    due_at=now + timedelta(hours=2 + i % 20),
                    owner_id=None,
                    actor=case.owner,
                    now=opened + timedelta(minutes=25),
                    zone=settings.timezone,
                )
            progress.advance(task)
        token = create_token(session, staff=people[0], now=now)
    log.info("demo loaded: sign in as %s; API token for the admin: %s", STAFF[0][1], token)
