"""Loading the demo: the organisation, then order histories in chunks with a progress bar."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ownwell.cases.models import Case, CaseChannel, Visibility
from ownwell.cases.schemas import CaseIn
from ownwell.cases.service import add_message, create_case
from ownwell.clock import SystemClock
from ownwell.commitments.service import make_commitment
from ownwell.config import Settings
from ownwell.customers.schemas import CustomerIn, PreferencesIn
from ownwell.db import make_engine, make_session_factory, unit_of_work
from ownwell.demo import org
from ownwell.demo.stories import OrderStory, olist_stories, shift_to, synthetic_stories
from ownwell.orders import repository as order_repository
from ownwell.orders.models import OrderEventType, OrderStatus
from ownwell.orders.schemas import OrderEventIn, OrderIn
from ownwell.orders.service import create_order, record_event
from ownwell.staff.models import Department, Staff
from ownwell.staff.schemas import Authority, StaffIn
from ownwell.staff.service import create_staff, create_token, ensure_department

log = logging.getLogger(__name__)
CHUNK = 100


def _organisation(session: Session, *, now: datetime) -> tuple[dict[str, Department], list[Staff], str]:
    departments = {name: ensure_department(session, name=name, now=now, by=None) for name in org.DEPARTMENTS}
    people = []
    for name, email, role, deps, limit in org.STAFF:
        data = StaffIn(
            name=name,
            email=email,
            role=role,
            department_ids=[departments[d].id for d in deps],
            authority=Authority(refund=limit, credit=limit, replacement=limit, goodwill=limit / 2),
            password=org.DEMO_PASSWORD,
        )
        people.append(create_staff(session, data=data, now=now, by=None))
    return departments, people, create_token(session, staff=people[0], now=now)


def _load_order(
    session: Session,
    story: OrderStory,
    *,
    customer: CustomerIn,
    shipping: str,
    now: datetime,
    settings: Settings,
) -> None:
    delivered = story.delivered if story.delivered and story.delivered <= now else None
    status = (
        OrderStatus.cancelled
        if story.cancelled
        else OrderStatus.delivered
        if delivered
        else OrderStatus.placed
    )
    order = create_order(
        session,
        data=OrderIn(
            external_id=story.external_id,
            customer=customer,
            promised_by=story.promised,
            department_id=shipping,
        ),
        now=now,
        settings=settings,
        status=status,
        delivered_at=delivered,
    )
    if status != OrderStatus.placed:
        return  # history: nothing more will happen to it
    events = order_repository.events_of(session, [order.id]).get(order.id, [])
    if story.shipped and story.shipped <= now:
        data = OrderEventIn(type=OrderEventType.shipped, occurred_at=story.shipped)
        record_event(session, order=order, events=events, data=data, now=now, settings=settings)
    running_late = (
        story.delivered and story.delivered > story.promised and story.shipped and story.shipped <= now
    )
    if running_late and story.promised > now:
        # The carrier already knows this one will be late: the customer hears it from us today.
        data = OrderEventIn(
            type=OrderEventType.delayed,
            occurred_at=now - timedelta(minutes=5),
            eta=story.delivered,
            note="Carrier reports a missed connection at the regional hub.",
        )
        record_event(session, order=order, events=events, data=data, now=now, settings=settings)


def _inbound_cases(
    session: Session, *, departments: dict[str, Department], now: datetime, settings: Settings
) -> None:
    rng = random.Random(11)
    for i, (department, kind, words) in enumerate(org.PROBLEMS * 3):
        name, email = org.person(9000 + i)
        opened = now - timedelta(hours=rng.randint(1, 70))
        case = create_case(
            session,
            data=CaseIn(
                customer=CustomerIn(name=name, emails=[email]),
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
        if i % 3 == 0:
            make_commitment(
                session,
                case=case,
                text="Call you back with the outcome",
                due_at=now + timedelta(hours=1 + i % 30),
                owner_id=None,
                actor=case.owner,
                now=opened + timedelta(minutes=25),
                zone=settings.timezone,
            )


def _already_loaded(factory: sessionmaker[Session]) -> bool:
    with unit_of_work(factory) as session:
        return session.scalars(select(Department).limit(1)).first() is not None


def load_demo(settings: Settings, *, only_once: bool, orders: int = 1500) -> None:
    factory = make_session_factory(make_engine(settings.database_url))
    if only_once and _already_loaded(factory):
        log.info("demo: the database already has an organisation; nothing loaded")
        return
    now = SystemClock().now()
    found = olist_stories(orders)
    stories, source = found if found else synthetic_stories(orders)
    stories = shift_to(stories, now)
    zone = "America/Sao_Paulo"  # where the Olist customers live
    customers: dict[str, CustomerIn] = {}
    with Progress() as progress:
        task = progress.add_task(f"Demo: {len(stories)} orders from {source}", total=len(stories) + 1)
        with unit_of_work(factory) as session:
            departments, _people, token = _organisation(session, now=now)
            _inbound_cases(session, departments=departments, now=now, settings=settings)
        progress.advance(task)
        shipping = departments["Shipping"].id
        for start in range(0, len(stories), CHUNK):
            with unit_of_work(factory) as session:
                for story in stories[start : start + CHUNK]:
                    if story.customer_key not in customers:
                        name, email = org.person(len(customers))
                        customers[story.customer_key] = CustomerIn(
                            name=name, emails=[email], preferences=PreferencesIn(timezone=zone)
                        )
                    _load_order(
                        session,
                        story,
                        customer=customers[story.customer_key],
                        shipping=shipping,
                        now=now,
                        settings=settings,
                    )
            progress.advance(task, min(CHUNK, len(stories) - start))
    with unit_of_work(factory) as session:
        proactive = session.scalar(select(func.count()).select_from(Case).where(Case.proactive.is_(True)))
    log.info(
        "demo loaded: %d orders (%s), %d proactive cases so far; more open as promised dates pass. "
        "Sign in as %s / %s; admin API token: %s",
        len(stories),
        source,
        proactive or 0,
        org.STAFF[0][1],
        org.DEMO_PASSWORD,
        token,
    )
