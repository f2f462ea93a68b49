"""Every route of the app, asked by every role, answers as the permission table in
docs/security.md says. A route missing from the table (or a row whose route is gone) fails.

The roles (columns of the table), all acting on the same seeded world:
- agent: Bea, an agent of Care who does not own the case (an `own` cell also checks that Ann,
  the agent of Care who owns it, is allowed);
- supervisor, other dept: Sid, a supervisor of Billing only;
- supervisor, case's dept: Sue, a supervisor of Care (the case is attributed to Care);
- admin; integrator: an API token with the `integrator` scope; no token: nothing at all.
API routes get the role's bearer token; pages get the role's signed-in session and its CSRF
token (the integrator sends its bearer token to pages, where tokens never count).

Each route is one test with a fresh database. A write acts, for each role, on objects seeded for
that role alone (its own case, promise, offer...), so one role's change never changes the next
one's answer; reads share one set. Bodies are valid apart from permissions (BODIES below)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from ownwell.db import unit_of_work
from ownwell.feedback.links import feedback_url
from ownwell.insights.jobs import assign_pending
from ownwell.insights.service import new_issue
from ownwell.intake.quarantine import hold
from ownwell.intake.service import receive_email
from ownwell.operations.service import stamp_sweep
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role
from ownwell.staff.schemas import StaffIn
from ownwell.staff.service import create_staff, create_token, ensure_department
from ownwell.web.session import COOKIE, find_session, staff_csrf, start_session
from tests.conftest import Api
from tests.staff_web import PASSWORD, _hash

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"
ROLES = ("agent", "sup_other", "sup_case", "admin", "integrator", "anonymous")
HEADINGS = (
    "route",
    "request",
    "agent",
    "supervisor, other dept",
    "supervisor, case's dept",
    "admin",
    "integrator",
    "no token",
)
CELLS = {"allow", "own", "deny", "auth", "public", "closed"}
STAFF = ("agent", "sup_other", "sup_case", "admin", "owner")
# Not routes of the app's own: the static files' mount has no methods to check.
NOT_CHECKED = {"/static"}


# ---- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    variant: str
    cells: dict[str, str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.variant}]" if self.variant else "")


def read_table() -> dict[str, Row]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index("<!-- permission-table -->")
    rows: dict[str, Row] = {}
    header_seen = False
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            if header_seen:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header_seen:
            assert tuple(cells) == HEADINGS, f"the permission table's columns changed: {cells}"
            header_seen = True
            continue
        if set(cells[0]) <= {"-", ":", " "}:
            continue
        found = re.fullmatch(r"`(GET|POST|PUT|PATCH|DELETE) (\S+)`", cells[0])
        assert found, f"a route cell must read `METHOD /path`: {cells[0]!r}"
        variant = cells[1].strip("`")
        values = dict(zip(ROLES, cells[2:], strict=True))
        for role, value in values.items():
            assert value in CELLS, f"{cells[0]}: unknown cell {value!r} for {role}"
        row = Row(found.group(1), found.group(2), variant, values)
        assert row.key not in rows, f"{row.key} is in the table twice"
        rows[row.key] = row
    return rows


def app_routes(app) -> set[str]:  # type: ignore[no-untyped-def]
    def walk(routes):  # type: ignore[no-untyped-def]
        for route in routes:
            if hasattr(route, "effective_candidates"):  # an included router: FastAPI nests them
                yield from walk(route.effective_candidates())
            else:
                yield route

    found = set()
    for route in walk(app.routes):
        if route.path in NOT_CHECKED:
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add(f"{method} {route.path}")
    return found


TABLE = read_table()


# ---- the world ----------------------------------------------------------------------------

LATE = "My parcel has not arrived yet and the delivery is late."
MAIL = (
    "From: Mia Jensen <mia@example.com>\r\nTo: care@ownwell.test\r\nSubject: {subject}\r\n"
    "Message-ID: <{key}@example.com>\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
    "The receipt is attached.\r\n--b\r\nContent-Type: application/pdf\r\n"
    'Content-Disposition: attachment; filename="receipt.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    "JVBERi0xLjQKJSVFT0YK\r\n--b--\r\n"
)


@dataclass
class World:
    """Care and Billing (and Warehouse, whose only member is Ann, so that she is the expert a
    question goes to); Ann owns a case of Mia's attributed to Care. Objects a write acts on are
    made per `slot` (a role's name, or "shared" for reads) on first use."""

    client: Any
    admin: Api
    session_factory: Any
    clock: Any
    settings: Any
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, tuple[str, str]] = field(default_factory=dict)
    made: dict[tuple[str, str], Any] = field(default_factory=dict)

    def build(self) -> World:
        """People, their tokens and signed-in sessions in one transaction (the routes that make
        them are checked by their own rows); the integrator's token through the API."""
        people = {
            "owner": ("Ann Owner", Role.agent, ["Care", "Warehouse"]),
            "agent": ("Bea Agent", Role.agent, ["Care"]),
            "sup_other": ("Sid Billing", Role.supervisor, ["Billing"]),
            "sup_case": ("Sue Care", Role.supervisor, ["Care"]),
            "gateway": ("Shop Gateway", Role.agent, []),
        }
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            for name in ("Care", "Billing", "Warehouse"):
                self.ids[name] = ensure_department(session, name=name, now=now, by=None).id
            for slot, (name, role, departments) in people.items():
                data = StaffIn(
                    name=name,
                    email=f"{slot}@ownwell.test",
                    role=role,
                    department_ids=[self.ids[d] for d in departments],
                )
                staff = create_staff(session, data=data, now=now, by=None)
                self.ids[slot] = staff.id
                if slot != "gateway":
                    self.tokens[slot] = create_token(session, staff=staff, now=now)
                if slot == "owner":
                    staff.password_hash = _hash(PASSWORD)  # Ann can sign in with the form
            admin = staff_repository.staff_by_email(session, "ada@ownwell.test")
            assert admin is not None
            self.ids["admin"] = admin.id
            for slot in STAFF:
                staff = admin if slot == "admin" else staff_repository.get_staff(session, self.ids[slot])
                cookie = start_session(session, staff=staff, now=now)
                found = find_session(session, cookie=cookie, now=now)
                assert found is not None
                self.cookies[slot] = (cookie, staff_csrf(self.settings, found[0]))
            stamp_sweep(session, now=now)  # a desk with a worker: /readyz is ready
        self.tokens["admin"] = self.admin.headers["Authorization"].removeprefix("Bearer ")
        # The integrator: a channel's token with the `integrator` scope, made by an admin.
        made = self.admin.post(f"/staff/{self.ids['gateway']}/tokens", {"scope": "integrator"})
        assert made.status_code == 201, made.text
        self.tokens["integrator"] = made.json()["token"]
        customer = self.admin.post("/customers", {"name": "Mia Jensen", "emails": ["mia@example.com"]})
        assert customer.status_code == 201, customer.text
        self.ids["customer"] = customer.json()["id"]
        return self

    def once(self, what: str, slot: str, make: Callable[[], Any]) -> Any:
        if (what, slot) not in self.made:
            self.made[what, slot] = make()
        return self.made[what, slot]

    def as_(self, slot: str) -> Api:
        return Api(self.client, self.tokens[slot])

    def due(self, hours: int = 48) -> str:
        return (self.clock.now() + timedelta(hours=hours)).isoformat()

    # -- per-slot objects

    def case(self, slot: str) -> str:
        def make() -> str:
            answer = self.admin.post(
                "/cases",
                {
                    "customer_id": self.ids["customer"],
                    "subject": f"Lamp {slot}",
                    "body": "The lamp arrived broken.",
                    "kind": "complaint",
                    "caused_by_department_id": self.ids["Care"],
                },
            )
            assert answer.status_code == 201, answer.text
            case = answer.json()
            if case["owner"]["id"] != self.ids["owner"]:
                moved = self.admin.post(
                    f"/cases/{case['id']}/transfer",
                    {"to_staff_id": self.ids["owner"], "handoff_note": "Ann takes lamps."},
                )
                assert moved.status_code == 200, moved.text
            return case["id"]

        return self.once("case", slot, make)

    def resolved_case(self, slot: str) -> str:
        def make() -> str:
            case_id = self.case(f"resolved-{slot}")
            done = self.admin.post(f"/cases/{case_id}/resolve", {"summary": "Sent a new lamp."})
            assert done.status_code == 200, done.text
            return case_id

        return self.once("resolved", slot, make)

    def commitment(self, slot: str) -> str:
        def make() -> str:
            made = self.as_("owner").post(
                f"/cases/{self.case(slot)}/commitments", {"text": "A new lamp", "due_at": self.due()}
            )
            assert made.status_code == 201, made.text
            return made.json()["id"]

        return self.once("commitment", slot, make)

    def offer(self, slot: str) -> str:
        """Pending: Ann (no refund authority) proposed it on her case."""

        def make() -> str:
            made = self.as_("owner").post(
                f"/cases/{self.case(slot)}/offers",
                {"type": "refund", "amount": "30", "currency": "EUR", "note": "Fair for the wait"},
            )
            assert made.status_code == 201 and made.json()["status"] == "pending_approval", made.text
            return made.json()["id"]

        return self.once("offer", slot, make)

    def question(self, slot: str) -> str:
        """Asked by the admin on Ann's case, to Warehouse: Ann is the expert who owes the answer."""

        def make() -> str:
            asked = self.admin.post(
                f"/cases/{self.case(slot)}/questions",
                {
                    "question": "Is the lamp in stock?",
                    "department_id": self.ids["Warehouse"],
                    "due_at": self.due(),
                },
            )
            assert asked.status_code == 201, asked.text
            assert asked.json()["expert"]["id"] == self.ids["owner"], asked.text
            return asked.json()["id"]

        return self.once("question", slot, make)

    def article(self, slot: str) -> str:
        def make() -> str:
            answered = self.as_("owner").post(
                f"/questions/{self.question('article')}/answer",
                {"answer": "Yes, 40 in stock.", "publish": True, "title": "Lamp stock"},
            )
            assert answered.status_code == 200, answered.text
            return answered.json()["article_id"]

        return self.once("article", "shared", make)

    def issue(self, slot: str) -> str:
        def make() -> str:
            with unit_of_work(self.session_factory) as session:
                now = self.clock.now()
                issue = new_issue(label=f"Issue {slot}", at=now, department_id=None, now=now)
                session.add(issue)
                return issue.id

        return self.once("issue", slot, make)

    def late_cases(self) -> tuple[str, dict[str, str]]:
        """One recurring issue of late parcels, with one case per slot (to split out)."""

        def make() -> tuple[str, dict[str, str]]:
            cases = {}
            for slot in (*ROLES, "owner", "left"):
                answer = self.admin.post(
                    "/cases", {"customer_id": self.ids["customer"], "body": LATE, "kind": "complaint"}
                )
                assert answer.status_code == 201, answer.text
                cases[slot] = answer.json()["id"]
                self.clock.advance(timedelta(minutes=1))
            with unit_of_work(self.session_factory) as session:
                assign_pending(session, now=self.clock.now(), settings=self.settings)
            issue_id = self.admin.get(f"/cases/{cases['left']}").json()["recurring_issue_id"]
            assert issue_id, "the late-parcel cases were not matched"
            return issue_id, cases

        return self.once("late", "shared", make)

    def prevention(self, slot: str) -> str:
        def make() -> str:
            issue_id = self.issue(f"prevention-{slot}")
            named = self.admin.post(
                f"/insights/recurring/{issue_id}/root-cause",
                {
                    "root_cause": "Courier hand-off",
                    "prevention": {
                        "text": "New courier contract",
                        "due_at": self.due(),
                        "owner_id": self.ids["owner"],
                    },
                },
            )
            assert named.status_code == 200, named.text
            return named.json()["prevention_actions"][0]["id"]

        return self.once("prevention", slot, make)

    def order(self, slot: str) -> str:
        def make() -> str:
            made = self.admin.post(
                "/orders",
                {
                    "external_id": "SO-1",
                    "customer_id": self.ids["customer"],
                    "promised_by": self.due(72),
                    "department_id": self.ids["Care"],
                },
            )
            assert made.status_code == 201, made.text
            return made.json()["id"]

        return self.once("order", "shared", make)

    def incident(self, slot: str) -> str:
        def make() -> str:
            made = self.admin.post(
                "/incidents",
                {
                    "title": "Payments down",
                    "caused_by_department_id": self.ids["Billing"],
                    "owner_id": self.ids["sup_other"],
                    "customer_ids": [self.ids["customer"]],
                    "message": "Card payments fail; we are on it.",
                },
            )
            assert made.status_code == 201, made.text
            return made.json()["id"]

        return self.once("incident", "shared", make)

    def attachment(self, slot: str) -> tuple[str, str]:
        """A file Mia sent by e-mail: (attachment id, its case)."""

        def make() -> tuple[str, str]:
            with unit_of_work(self.session_factory) as session:
                raw = MAIL.format(subject="Receipt", key="receipt").encode()
                result = receive_email(session, raw=raw, now=self.clock.now(), settings=self.settings)
                assert result.case_id, result
                case_id = result.case_id
            files = self.admin.get(f"/cases/{case_id}/attachments").json()["items"]
            assert files, "the e-mail's file was not kept"
            return files[0]["id"], case_id

        return self.once("attachment", "shared", make)

    def quarantined(self, slot: str) -> str:
        def make() -> str:
            with unit_of_work(self.session_factory) as session:
                raw = MAIL.format(subject=f"Held {slot}", key=f"held-{slot}").encode()
                row = hold(
                    session,
                    raw=raw,
                    reason="held for the test",
                    source="smtp",
                    envelope_from="mia@example.com",
                    envelope_rcpts=["care@ownwell.test"],
                    now=self.clock.now(),
                )
                return row.id

        return self.once("quarantined", slot, make)

    def failed_message(self, slot: str) -> str:
        def make() -> str:
            case_id = self.case(slot)
            items = self.admin.get("/outbox", case_id=case_id).json()["items"]
            assert items, "the case sent nothing to retry"
            with unit_of_work(self.session_factory) as session:
                session.execute(
                    text("UPDATE outbox_messages SET status = 'failed' WHERE id = :id"),
                    {"id": items[0]["id"]},
                )
            return items[0]["id"]

        return self.once("failed", slot, make)

    def token_id(self, slot: str) -> str:
        """Another API token of Ann's (not the one she acts with)."""

        def make() -> str:
            made = self.admin.post(f"/staff/{self.ids['owner']}/tokens", {})
            assert made.status_code == 201, made.text
            return made.json()["id"]

        return self.once("token", slot, make)

    def portal_token(self, slot: str) -> str:
        case = self.admin.get(f"/cases/{self.case(slot)}").json()
        return case["portal_url"].rsplit("/", 1)[1]

    def resolved_portal_token(self, slot: str) -> str:
        self.resolved_case(slot)
        return self.portal_token(f"resolved-{slot}")

    def feedback_token(self, slot: str) -> str:
        case_id = self.resolved_case(slot)
        url = feedback_url(
            self.settings,
            customer_id=self.ids["customer"],
            case_id=case_id,
            now=self.clock.now(),
            source="confirm",
        )
        return urlsplit(url).path.rsplit("/", 1)[1]


# ---- what each route is sent -----------------------------------------------------------------


def doomed_customer(world: World, slot: str) -> str:
    """A customer of this role's own, for a request that erases the customer it names."""
    key = f"doomed:{slot}"
    if key not in world.ids:
        made = world.admin.post(
            "/customers", {"name": f"Gone {slot}", "emails": [f"gone-{slot}@example.com"]}
        )
        assert made.status_code == 201, made.text
        world.ids[key] = made.json()["id"]
    return world.ids[key]


@dataclass(frozen=True)
class Call:
    """How to fill one route's request. `body(world, slot)` is JSON for the API and form fields
    for pages; `query` likewise; `params` fills path parameters beyond the defaults."""

    body: Callable[[World, str], dict[str, Any]] | None = None
    query: Callable[[World, str], dict[str, Any]] | None = None
    params: Callable[[World, str], dict[str, str]] | None = None
    # Seeds what the request relies on without naming it (a case Ann owns, for instance).
    prepare: Callable[[World, str], Any] | None = None
    # A public form: GET this page first (same cookies) and send the CSRF token found on it.
    form_page: Callable[[World, str], str] | None = None


def _default_params(world: World, slot: str, names: list[str]) -> dict[str, str]:
    fill: dict[str, Callable[[], str]] = {
        "case_id": lambda: world.case(slot),
        "commitment_id": lambda: world.commitment(slot),
        "offer_id": lambda: world.offer(slot),
        "customer_id": lambda: world.ids["customer"],
        "staff_id": lambda: world.ids["owner"],
        "kind": lambda: "complaint",
        "order_id": lambda: world.order(slot),
        "incident_id": lambda: world.incident(slot),
        "question_id": lambda: world.question(slot),
        "article_id": lambda: world.article(slot),
        "issue_id": lambda: world.issue(slot),
        "prevention_id": lambda: world.prevention(slot),
        "quarantine_id": lambda: world.quarantined(slot),
        "attachment_id": lambda: world.attachment(slot)[0],
        "department_id": lambda: world.ids["Care"],
        "message_id": lambda: world.failed_message(slot),
        "token": lambda: world.portal_token(slot),
        "token_id": lambda: world.token_id(slot),
    }
    return {name: fill[name]() for name in names}


def _slug(slot: str) -> str:
    return slot.replace("_", "-")


API = "/api/v1"
BODIES: dict[str, Call] = {
    # staff and departments
    f"POST {API}/departments": Call(body=lambda w, s: {"name": f"Returns {s}"}),
    f"POST {API}/staff": Call(
        body=lambda w, s: {"name": f"New {s}", "email": f"new-{_slug(s)}@ownwell.test", "role": "agent"}
    ),
    f"PATCH {API}/staff/{{staff_id}}": Call(body=lambda w, s: {"name": f"Ann Owner ({s})"}),
    # customers
    f"POST {API}/customers": Call(
        body=lambda w, s: {"name": "Leo", "emails": [f"leo-{_slug(s)}@example.com"]}
    ),
    f"GET {API}/customers [identifier]": Call(query=lambda w, s: {"identifier": "mia@example.com"}),
    # Ann owns an open case of Mia's: she may change Mia's identifiers.
    f"PATCH {API}/customers/{{customer_id}}": Call(
        body=lambda w, s: {"emails": ["mia@example.com", f"mia-{_slug(s)}@example.com"]},
        prepare=lambda w, s: w.case(s),
    ),
    f"PATCH {API}/customers/{{customer_id}} [preferences]": Call(
        body=lambda w, s: {"preferences": {"language": "da"}}
    ),
    f"POST {API}/customers/{{customer_id}}/facts": Call(body=lambda w, s: {"text": "Prefers mornings"}),
    f"POST {API}/customers/{{customer_id}}/erase": Call(
        body=lambda w, s: {"reason": "Art. 17 request"},
        params=lambda w, s: {"customer_id": doomed_customer(w, s)},
    ),
    # cases
    f"POST {API}/cases": Call(
        body=lambda w, s: {"customer_id": w.ids["customer"], "body": "My lamp flickers.", "kind": "complaint"}
    ),
    f"PATCH {API}/cases/{{case_id}}": Call(body=lambda w, s: {"subject": "Broken lamp", "kind": "request"}),
    f"PATCH {API}/cases/{{case_id}} [attribution]": Call(
        body=lambda w, s: {"caused_by_department_id": w.ids["Billing"]}
    ),
    f"POST {API}/cases/{{case_id}}/messages": Call(body=lambda w, s: {"body": "A new lamp is on its way."}),
    f"POST {API}/cases/{{case_id}}/messages [internal note]": Call(
        body=lambda w, s: {"body": "Courier says Tuesday.", "visibility": "internal"}
    ),
    f"POST {API}/cases/{{case_id}}/messages [from_customer]": Call(
        body=lambda w, s: {"body": "Any news?", "from_customer": True}
    ),
    f"POST {API}/cases/{{case_id}}/transfer": Call(
        body=lambda w, s: {"to_staff_id": w.ids["sup_case"], "handoff_note": "Sue knows lamps."}
    ),
    f"POST {API}/cases/{{case_id}}/resolve": Call(body=lambda w, s: {"summary": "Sent a new lamp."}),
    f"POST {API}/cases/{{case_id}}/reopen": Call(
        body=lambda w, s: {"reason": "Still broken."}, params=lambda w, s: {"case_id": w.resolved_case(s)}
    ),
    f"PUT {API}/cadence-policies/{{kind}}": Call(body=lambda w, s: {"update_every_minutes": 240}),
    # commitments
    f"POST {API}/cases/{{case_id}}/commitments": Call(
        body=lambda w, s: {"text": "Call back", "due_at": w.due()}
    ),
    f"POST {API}/commitments/{{commitment_id}}/renegotiate": Call(
        body=lambda w, s: {"due_at": w.due(72), "note": "Courier delay"}
    ),
    # orders
    f"POST {API}/orders": Call(
        body=lambda w, s: {
            "external_id": f"SO-{_slug(s)}",
            "customer_id": w.ids["customer"],
            "promised_by": w.due(72),
            "department_id": w.ids["Care"],
        }
    ),
    f"POST {API}/orders/{{order_id}}/events": Call(
        body=lambda w, s: {"type": "shipped", "occurred_at": w.clock.now().isoformat()}
    ),
    f"POST {API}/order-events": Call(
        body=lambda w, s: {
            "items": [
                {
                    "order_external_id": "SO-1",
                    "type": "shipped",
                    "occurred_at": w.clock.now().isoformat(),
                }
            ]
        },
        params=lambda w, s: {"_order": w.order(s)},
    ),
    # incidents
    f"POST {API}/incidents": Call(
        body=lambda w, s: {
            "title": f"Outage {s}",
            "caused_by_department_id": w.ids["Billing"],
            "owner_id": w.ids["sup_other"],
            "customer_ids": [w.ids["customer"]],
            "message": "Card payments fail.",
        }
    ),
    f"POST {API}/incidents/{{incident_id}}/updates": Call(body=lambda w, s: {"message": "Fixed at noon."}),
    f"POST {API}/incidents/{{incident_id}}/replies": Call(
        body=lambda w, s: {"customer_id": w.ids["customer"], "body": "Is my payment safe?"}
    ),
    # metrics
    f"GET {API}/metrics": Call(query=lambda w, s: {"department_id": w.ids["Care"]}),
    f"GET {API}/metrics.csv": Call(query=lambda w, s: {"department_id": w.ids["Care"]}),
    # knowledge
    f"POST {API}/cases/{{case_id}}/questions": Call(
        body=lambda w, s: {"question": "In stock?", "department_id": w.ids["Care"], "due_at": w.due()}
    ),
    f"POST {API}/questions/{{question_id}}/answer": Call(body=lambda w, s: {"answer": "Yes."}),
    f"GET {API}/knowledge/tips": Call(query=lambda w, s: {"recurring_issue_id": w.issue("shared")}),
    f"POST {API}/knowledge/tips": Call(
        body=lambda w, s: {"recurring_issue_id": w.issue(s), "text": "Check the bulb"}
    ),
    # offers
    f"POST {API}/cases/{{case_id}}/offers": Call(
        body=lambda w, s: {"type": "goodwill", "amount": "5", "currency": "EUR", "note": "A kind word"}
    ),
    f"POST {API}/offers/{{offer_id}}/approve": Call(body=lambda w, s: {"note": "Fair"}),
    f"POST {API}/offers/{{offer_id}}/reject": Call(body=lambda w, s: {"note": "Too much"}),
    # recurring issues
    f"POST {API}/insights/recurring/{{issue_id}}/merge": Call(
        body=lambda w, s: {"into_id": w.issue(f"into-{s}")}
    ),
    f"POST {API}/insights/recurring/{{issue_id}}/split": Call(
        body=lambda w, s: {"case_ids": [w.late_cases()[1][s]]},
        params=lambda w, s: {"issue_id": w.late_cases()[0]},
    ),
    f"POST {API}/insights/recurring/{{issue_id}}/root-cause": Call(
        body=lambda w, s: {
            "root_cause": "Courier",
            "prevention": {"text": "New courier", "due_at": w.due(), "owner_id": w.ids["owner"]},
        }
    ),
    # e-mail in
    f"GET {API}/attachments/{{attachment_id}}": Call(),
    # ---- pages
    "GET /insights": Call(query=lambda w, s: {"department_id": w.ids["Care"]}),
    "GET /exports/metrics.csv": Call(query=lambda w, s: {"department_id": w.ids["Care"]}),
    "POST /cases/{case_id}/messages": Call(body=lambda w, s: {"body": "A new lamp is on its way."}),
    "POST /cases/{case_id}/messages [internal note]": Call(
        body=lambda w, s: {"body": "Courier says Tuesday.", "visibility": "internal"}
    ),
    "POST /cases/{case_id}/commitments": Call(
        body=lambda w, s: {
            "text": "Call back",
            "due_at": (w.clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        }
    ),
    "POST /commitments/{commitment_id}/keep": Call(body=lambda w, s: {}),
    "POST /cases/{case_id}/commitments/{commitment_id}/renegotiate": Call(
        body=lambda w, s: {
            "due_at": (w.clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "note": "Courier delay",
        }
    ),
    "POST /cases/{case_id}/transfer": Call(
        body=lambda w, s: {"to_staff_id": w.ids["sup_case"], "handoff_note": "Sue knows lamps."}
    ),
    "POST /cases/{case_id}/attribute": Call(body=lambda w, s: {"caused_by_department_id": w.ids["Billing"]}),
    "POST /cases/{case_id}/resolve": Call(body=lambda w, s: {"summary": "Sent a new lamp."}),
    "POST /cases/{case_id}/reopen": Call(
        body=lambda w, s: {"reason": "Still broken."}, params=lambda w, s: {"case_id": w.resolved_case(s)}
    ),
    "POST /cases/{case_id}/offers": Call(
        body=lambda w, s: {"type": "goodwill", "amount": "5", "currency": "EUR", "note": "A kind word"}
    ),
    "POST /cases/{case_id}/offers/{offer_id}/approve": Call(body=lambda w, s: {"note": "Fair"}),
    "POST /cases/{case_id}/offers/{offer_id}/reject": Call(body=lambda w, s: {"note": "Too much"}),
    "POST /customers/{customer_id}/facts": Call(body=lambda w, s: {"text": "Prefers mornings"}),
    "POST /customers/{customer_id}/erase": Call(
        body=lambda w, s: {"reason": "Art. 17 request", "confirm": doomed_customer(w, s)},
        params=lambda w, s: {"customer_id": doomed_customer(w, s)},
    ),
    "GET /incidents/customer-search": Call(query=lambda w, s: {"q": "Mia"}),
    "POST /incidents": Call(
        body=lambda w, s: {
            "title": f"Outage {s}",
            "caused_by_department_id": w.ids["Billing"],
            "owner_id": w.ids["sup_other"],
            "customer_ids": w.ids["customer"],
            "message": "Card payments fail.",
        }
    ),
    "POST /incidents/{incident_id}/updates": Call(body=lambda w, s: {"message": "Fixed at noon."}),
    "POST /approvals/{offer_id}/approve": Call(body=lambda w, s: {"note": "Fair"}),
    "POST /approvals/{offer_id}/reject": Call(body=lambda w, s: {"note": "Too much"}),
    "POST /settings/departments": Call(body=lambda w, s: {"name": f"Returns {s}"}),
    "POST /settings/staff": Call(
        body=lambda w, s: {
            "name": f"New {s}",
            "email": f"new-{_slug(s)}@ownwell.test",
            "role": "agent",
            "password": PASSWORD,
            **dict.fromkeys(("refund", "credit", "replacement", "goodwill"), "0"),
        }
    ),
    "POST /settings/staff/{staff_id}/authority": Call(
        body=lambda w, s: {"refund": "50", "credit": "0", "replacement": "0", "goodwill": "0"}
    ),
    "POST /settings/cadence/{kind}": Call(body=lambda w, s: {"update_every_minutes": "240"}),
    "POST /insights/recurring/{issue_id}/merge": Call(body=lambda w, s: {"into_id": w.issue(f"into-{s}")}),
    "POST /insights/recurring/{issue_id}/split": Call(
        body=lambda w, s: {"case_ids": w.late_cases()[1][s]},
        params=lambda w, s: {"issue_id": w.late_cases()[0]},
    ),
    "POST /insights/recurring/{issue_id}/root-cause": Call(
        body=lambda w, s: {
            "root_cause": "Courier",
            "prevention": "New courier",
            "due_at": (w.clock.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            "owner_id": w.ids["owner"],
        }
    ),
    "POST /insights/prevention/{prevention_id}/done": Call(body=lambda w, s: {}),
    # ---- public pages: each form is sent with the CSRF token of the page that carries it
    "POST /login": Call(
        body=lambda w, s: {"email": "owner@ownwell.test", "password": PASSWORD, "next": "/"},
        form_page=lambda w, s: "/login",
    ),
    "POST /help": Call(
        body=lambda w, s: {"email": f"new-{_slug(s)}@example.com", "what": "My lamp is broken."},
        form_page=lambda w, s: "/help",
    ),
    "POST /portal/fresh-link": Call(
        body=lambda w, s: {"email": f"x-{_slug(s)}@example.com"},
        form_page=lambda w, s: "/portal/not-a-valid-link",
    ),
    "POST /portal/{token}/reply": Call(
        body=lambda w, s: {"body": "Thanks!"}, form_page=lambda w, s: f"/portal/{w.portal_token(s)}"
    ),
    "POST /portal/{token}/fair-solution": Call(
        body=lambda w, s: {"fair_solution": "A new lamp"},
        form_page=lambda w, s: f"/portal/{w.portal_token(s)}",
    ),
    "POST /portal/{token}/feedback": Call(
        body=lambda w, s: {"fixed": "yes", "csat": "5", "ces": "2", "comment": ""},
        params=lambda w, s: {"token": w.resolved_portal_token(s)},
        form_page=lambda w, s: f"/portal/{w.resolved_portal_token(s)}",
    ),
    "GET /feedback/{token}": Call(params=lambda w, s: {"token": w.feedback_token(s)}),
    "POST /feedback/{token}": Call(
        body=lambda w, s: {"fixed": "yes", "csat": "5", "ces": "2", "source": "confirm"},
        params=lambda w, s: {"token": w.feedback_token(s)},
        form_page=lambda w, s: f"/feedback/{w.feedback_token(s)}",
    ),
    "GET /portal/{token}/attachments/{attachment_id}": Call(
        params=lambda w, s: {
            "token": w.admin.get(f"/cases/{w.attachment(s)[1]}").json()["portal_url"].rsplit("/", 1)[1],
            "attachment_id": w.attachment(s)[0],
        }
    ),
}
BODIES[f"GET {API}/metrics [whole organisation]"] = Call()


# ---- sending and judging -------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def is_api(path: str) -> bool:
    return path.startswith(API + "/") and path not in (f"{API}/openapi.json", f"{API}/docs")


def send(world: World, row: Row, role: str, slot: str):  # type: ignore[no-untyped-def]
    client = world.client
    call = BODIES.get(row.key, Call())
    if call.prepare:
        call.prepare(world, slot)
    names = re.findall(r"{(\w+)}", row.path)
    given = call.params(world, slot) if call.params else {}
    params = {**_default_params(world, slot, [n for n in names if n not in given]), **given}
    path = row.path.format(**{n: params[n] for n in names})
    body = call.body(world, slot) if call.body else None
    query = call.query(world, slot) if call.query else None
    client.cookies.clear()
    headers: dict[str, str] = {}
    if call.form_page:  # as anyone opens it: the role's own session or token comes after
        page = client.get(call.form_page(world, slot), follow_redirects=False)
        found = CSRF_FIELD.search(page.text)
        assert found, f"{call.form_page(world, slot)} carries no CSRF token ({page.status_code})"
        body = {**(body or {}), "csrf": found.group(1)}
    if is_api(row.path) or role == "integrator":
        if role in world.tokens:
            headers["Authorization"] = f"Bearer {world.tokens[role]}"
    elif role in world.cookies:
        cookie, csrf = world.cookies[role]
        client.cookies.set(COOKIE, cookie)
        if row.method != "GET" and not call.form_page:
            body = {**(body or {}), "csrf": csrf}
    if is_api(row.path):
        return client.request(
            row.method, path, json=body if row.method != "GET" else None, params=query, headers=headers
        )
    if row.method == "GET":
        return client.request("GET", path, params=query, headers=headers, follow_redirects=False)
    return client.request(row.method, path, data=body, params=query, headers=headers, follow_redirects=False)


def outcome(response) -> str:  # type: ignore[no-untyped-def]
    status = response.status_code
    location = response.headers.get("location", "")
    if urlsplit(location).path == "/login" and f'{COOKIE}=""' in response.headers.get("set-cookie", ""):
        return "allow"  # signed out: the session's cookie is cleared on the way to the sign-in page
    if status == 401 or (300 <= status < 400 and urlsplit(location).path == "/login"):
        return "auth"
    if status == 403:
        return "deny"
    if 200 <= status < 400:
        return "allow"
    return f"{status}"


def expected(cell: str) -> set[str]:
    return {
        "allow": {"allow"},
        "public": {"allow"},
        "own": {"deny"},
        "deny": {"deny"},
        "auth": {"auth"},
        # Refused to everyone here: opened by an operator's setting, never by a staff role.
        "closed": {"auth", "deny", "404"},
    }[cell]


def slot_of(row: Row, role: str) -> str:
    return "shared" if row.method == "GET" else role


# ---- the tests -----------------------------------------------------------------------------


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # An SMTP host is configured (nothing is sent: no worker runs), so a failed message can be retried.
    return settings.model_copy(update={"smtp_host": "mail.invalid"})


@pytest.fixture
def world(client, admin, session_factory, clock, settings) -> World:  # type: ignore[no-untyped-def]
    return World(
        client=client, admin=admin, session_factory=session_factory, clock=clock, settings=settings
    ).build()


def test_every_route_of_the_app_is_in_the_permission_table(app):  # type: ignore[no-untyped-def]
    listed = {f"{row.method} {row.path}" for row in TABLE.values()}
    missing = sorted(app_routes(app) - listed)
    assert not missing, "add these routes to the permission table in docs/security.md:\n" + "\n".join(missing)


def test_every_row_of_the_permission_table_is_a_route_of_the_app(app):  # type: ignore[no-untyped-def]
    gone = sorted({f"{row.method} {row.path}" for row in TABLE.values()} - app_routes(app))
    assert not gone, "these rows of docs/security.md name no route of the app:\n" + "\n".join(gone)


def test_every_variant_in_the_table_has_a_request_to_send():
    unknown = sorted(row.key for row in TABLE.values() if row.variant and row.key not in BODIES)
    assert not unknown, f"no request in BODIES for {unknown}"


@pytest.mark.parametrize("key", sorted(TABLE))
def test_each_role_gets_what_the_permission_table_says(world, key):  # type: ignore[no-untyped-def]
    row = TABLE[key]
    mismatches = []
    checks = [(role, row.cells[role]) for role in ROLES]
    if row.cells["agent"] == "own":
        checks.append(("owner", "allow"))  # Ann, whose case (promise, question...) it is
    for role, cell in checks:
        answer = send(world, row, role, slot_of(row, role))
        got = outcome(answer)
        if got not in expected(cell):
            mismatches.append(
                f"{role}: expected {cell}, got {got} ({answer.status_code} {answer.text[:160]!r})"
            )
    assert not mismatches, f"{key}:\n" + "\n".join(mismatches)
