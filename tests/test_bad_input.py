"""Bad input to every write endpoint gets a 4xx in the SPEC's error shape, naming the field,
and leaves nothing half-written.

Each kind of bad input is a table of (endpoint, what is spoiled in its valid request); a test runs
the rows of one endpoint against one seeded world and reports every row that was not refused as
expected. The valid requests themselves are checked first, so a refusal is always about the
spoiled part.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

NUL = "\x00"
LATER = "2026-03-03T10:00:00+00:00"  # the frozen clock stands at 2026-03-02T09:00Z
# Well-formed ids that name nothing.
NO_DEPARTMENT = "dep_" + "0" * 27
NO_STAFF = "stf_" + "0" * 27
NO_CUSTOMER = "cus_" + "0" * 27
NO_CASE = "cas_" + "0" * 27
NO_COMMITMENT = "com_" + "0" * 27

World = dict[str, str]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # placeholders filled from the world: {case}, {customer}, {staff}, ...
    body: Callable[[World], dict[str, Any]] | None = None


ENDPOINTS: dict[str, Endpoint] = {
    "department": Endpoint("POST", "/departments", lambda w: {"name": "Billing"}),
    "staff": Endpoint(
        "POST",
        "/staff",
        lambda w: {
            "name": "Mia Chen",
            "email": "mia@acme.test",
            "role": "agent",
            "department_ids": [w["department"]],
            "authority": {"refund": "50.00"},
        },
    ),
    "staff_patch": Endpoint("PATCH", "/staff/{staff}", lambda w: {"name": "Tomás S.", "on_duty": True}),
    "token": Endpoint("POST", "/staff/{staff}/tokens"),
    "customer": Endpoint(
        "POST",
        "/customers",
        lambda w: {
            "name": "Sam Okafor",
            "emails": ["sam@example.com"],
            "phones": ["+44 20 7946 0000"],
            "external_ids": {"shop": "C-1001"},
            "preferences": {"channel": "email", "timezone": "Europe/London", "language": "en"},
        },
    ),
    "customer_patch": Endpoint("PATCH", "/customers/{customer}", lambda w: {"name": "Rosa D."}),
    "fact": Endpoint("POST", "/customers/{customer}/facts", lambda w: {"text": "Works nights."}),
    "case": Endpoint(
        "POST",
        "/cases",
        lambda w: {"customer_id": w["customer"], "body": "Where is my parcel?", "kind": "complaint"},
    ),
    "case_new_customer": Endpoint(
        "POST", "/cases", lambda w: {"customer": {"emails": ["new@example.com"]}, "body": "Hello?"}
    ),
    "case_patch": Endpoint("PATCH", "/cases/{case}", lambda w: {"subject": "Late parcel"}),
    "message": Endpoint(
        "POST", "/cases/{case}/messages", lambda w: {"body": "On it.", "visibility": "customer"}
    ),
    "transfer": Endpoint(
        "POST",
        "/cases/{case}/transfer",
        lambda w: {"to_staff_id": w["other_staff"], "handoff_note": "Priya knows the carrier."},
    ),
    "commitment": Endpoint(
        "POST", "/cases/{case}/commitments", lambda w: {"text": "Call the carrier", "due_at": LATER}
    ),
    "keep": Endpoint("POST", "/commitments/{commitment}/keep"),
    "renegotiate": Endpoint(
        "POST",
        "/commitments/{commitment}/renegotiate",
        lambda w: {"due_at": "2026-03-04T10:00:00+01:00", "note": "The carrier answers tomorrow."},
    ),
    "resolve": Endpoint("POST", "/cases/{case}/resolve", lambda w: {"summary": "Parcel re-sent."}),
    "reopen": Endpoint("POST", "/cases/{resolved_case}/reopen", lambda w: {"reason": "It never came."}),
    "cadence": Endpoint("PUT", "/cadence-policies/complaint", lambda w: {"update_every_minutes": 120}),
}
WITH_BODY = [name for name, endpoint in ENDPOINTS.items() if endpoint.body is not None]


@pytest.fixture
def world(admin) -> World:  # type: ignore[no-untyped-def]
    """One of everything, so that only the spoiled part of a request can be wrong."""
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    tomas = admin.post(
        "/staff",
        {
            "name": "Tomás Silva",
            "email": "tomas@acme.test",
            "role": "agent",
            "department_ids": [shipping["id"]],
        },
    ).json()
    priya = admin.post("/staff", {"name": "Priya Nair", "email": "priya@acme.test", "role": "agent"}).json()
    rosa = admin.post("/customers", {"name": "Rosa Díaz", "emails": ["rosa@example.com"]}).json()
    case = admin.post(
        "/cases",
        {"customer_id": rosa["id"], "body": "My parcel is late.", "caused_by_department_id": shipping["id"]},
    ).json()
    done = admin.post("/cases", {"customer_id": rosa["id"], "body": "Wrong colour."}).json()
    assert admin.post(f"/cases/{done['id']}/resolve", {"summary": "Swapped."}).status_code == 200
    commitment = admin.post(f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": LATER}).json()
    return {
        "department": shipping["id"],
        "staff": tomas["id"],
        "other_staff": priya["id"],
        "customer": rosa["id"],
        "case": case["id"],
        "resolved_case": done["id"],
        "commitment": commitment["id"],
    }


# -- helpers -----------------------------------------------------------------------------------


def send(api, endpoint: Endpoint, world: World, body: Any = None, *, path: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    url = "/api/v1" + (path or endpoint.path).format(**world)
    if "content" not in kwargs and body is not None:
        kwargs["json"] = body
    return api.client.request(
        endpoint.method, url, headers={**api.headers, **kwargs.pop("headers", {})}, **kwargs
    )


def valid_body(name: str, world: World) -> dict[str, Any]:
    make = ENDPOINTS[name].body
    assert make is not None, f"{name} takes no body"
    return make(world)


def spoil(body: dict[str, Any], dotted: str, value: Any = ..., *, drop: bool = False) -> dict[str, Any]:
    """A deep copy of `body` with `dotted` ("preferences.channel", "emails.1") set or removed."""
    body = copy.deepcopy(body)
    parts = dotted.split(".")
    node: Any = body
    for part, after in itertools.pairwise(parts):
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, [] if after.isdigit() else {})
    last = parts[-1]
    if drop:
        del node[last]
    elif isinstance(node, list):
        index = int(last)
        node.extend([None] * (index + 1 - len(node)))
        node[index] = value
    else:
        node[last] = value
    return body


def assert_error(response, status: int, field: str | None, code: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The SPEC's error: the status, exactly {"error": {code, message, field}}, the field named."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert error["field"] == field, error
    if code is not None:
        assert error["code"] == code, error
    return error


Expect = Callable[..., Any]


@contextmanager
def refusals() -> Iterator[Expect]:
    """`expect(label, response, status, field, code)` for many requests; fails at the end, listing
    every request that was not refused as expected."""
    problems: list[str] = []

    def expect(
        label: str, response: Any, status: int, field: str | None, code: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return assert_error(response, status, field, code)
        except (AssertionError, ValueError):  # ValueError: the body is not JSON
            got = f"{response.status_code} {response.text[:200]}"
            problems.append(f"{label}: expected {status} naming {field!r}, got {got}")
            return None

    yield expect
    assert not problems, f"{len(problems)} not refused as expected:\n" + "\n".join(problems)


def endpoints_of(table: list[tuple[Any, ...]]) -> list[str]:
    return list(dict.fromkeys(row[0] for row in table))


def rows_of(table: list[tuple[Any, ...]], name: str) -> list[tuple[Any, ...]]:
    return [row[1:] for row in table if row[0] == name]


# -- the valid requests are valid --------------------------------------------------------------


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_the_valid_request_of_each_endpoint_succeeds(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    endpoint = ENDPOINTS[name]
    response = send(admin, endpoint, world, endpoint.body(world) if endpoint.body else None)
    assert response.status_code in (200, 201), response.text


# -- missing required fields -------------------------------------------------------------------

MISSING = [
    ("department", "name"),
    ("staff", "name"),
    ("staff", "email"),
    ("staff", "role"),
    ("fact", "text"),
    ("case", "body"),
    ("message", "body"),
    ("transfer", "to_staff_id"),
    ("transfer", "handoff_note"),
    ("commitment", "text"),
    ("commitment", "due_at"),
    ("renegotiate", "due_at"),
    ("renegotiate", "note"),
    ("resolve", "summary"),
    ("reopen", "reason"),
    ("cadence", "update_every_minutes"),
]


@pytest.mark.parametrize("name", endpoints_of(MISSING))
def test_a_missing_required_field_is_named(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for (field,) in rows_of(MISSING, name):
            body = spoil(valid_body(name, world), field, drop=True)
            error = expect(field, send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")
            assert error is None or "required" in error["message"], error


@pytest.mark.parametrize(
    "body",
    [
        {"body": "Hello?"},  # neither customer_id nor customer
        {"body": "Hello?", "customer_id": None, "customer": None},
        {"body": "Hello?", "customer_id": "{customer}", "customer": {"emails": ["rosa@example.com"]}},
    ],
    ids=["neither", "both-null", "both"],
)
def test_a_case_needs_exactly_one_customer(admin, world, body) -> None:  # type: ignore[no-untyped-def]
    body = {k: v.format(**world) if isinstance(v, str) else v for k, v in body.items()}
    error = assert_error(send(admin, ENDPOINTS["case"], world, body), 422, "customer", "invalid")
    assert "customer_id" in error["message"]


def test_a_new_customer_needs_an_identifier(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = {"customer": {"name": "Nobody"}, "body": "Hello?"}
    assert_error(send(admin, ENDPOINTS["case"], world, body), 422, "customer.emails", "invalid")


# -- wrong types and values --------------------------------------------------------------------

WRONG_TYPES = [
    ("department", "name", 5),
    ("department", "name", None),
    ("department", "name", ["Billing"]),
    ("department", "name", "   "),
    ("staff", "role", "boss"),
    ("staff", "department_ids", "dep_x"),
    ("staff", "department_ids.0", 7),
    ("staff", "authority", "lots"),
    ("staff", "authority.refund", "lots"),
    ("staff", "authority.refund", "-1"),
    ("staff", "authority.refund", "NaN"),
    ("staff", "authority.refund", "1e400"),
    ("staff", "authority.refund", "0.001"),
    ("staff", "authority.credit", 10**30),
    ("staff", "on_duty", "perhaps"),
    ("staff", "password", "short"),
    ("staff_patch", "role", "boss"),
    ("staff_patch", "on_duty", []),
    ("customer", "emails", "sam@example.com"),
    ("customer", "phones", 442079460000),
    ("customer", "external_ids", ["C-1001"]),
    ("customer", "external_ids.shop", 1001),
    ("customer", "external_ids.Bad System!", "x"),
    ("customer", "external_ids.shop", "   "),
    ("customer", "preferences", "email please"),
    ("customer", "preferences.channel", "pigeon"),
    ("customer", "preferences.timezone", "Mars/Olympus_Mons"),
    ("customer", "preferences.timezone", "../../etc/passwd"),
    ("customer", "preferences.quiet_hours", "22-07"),
    ("customer", "preferences.quiet_hours.start", "25:00"),
    ("customer", "preferences.topics", "billing"),
    ("customer", "preferences.do_not_contact", "perhaps"),
    ("customer_patch", "name", 42),
    ("customer_patch", "preferences.channel", "fax"),
    ("fact", "text", {"text": "x"}),
    ("fact", "text", ""),
    ("case", "kind", "rant"),
    ("case", "channel", "fax"),
    ("case", "customer_id", 12),
    ("case", "body", "  \n\t "),
    ("case_new_customer", "customer", "new@example.com"),
    ("case_new_customer", "customer.name", 5),
    ("case_patch", "kind", 3),
    ("case_patch", "subject", ""),
    ("message", "visibility", "public"),
    ("message", "from_customer", "perhaps"),
    ("message", "wait_for_customer", 2),
    ("transfer", "to_staff_id", ["stf"]),
    ("transfer", "handoff_note", "   "),
    ("commitment", "due_at", "tomorrow"),
    ("commitment", "due_at", ["2026-03-03"]),
    ("commitment", "due_at", True),
    ("commitment", "owner_id", 5),
    ("renegotiate", "due_at", "next week"),
    ("resolve", "next_issue_tip", 5),
    ("reopen", "reason", ""),
    ("cadence", "update_every_minutes", "often"),
    ("cadence", "update_every_minutes", 2.5),
    ("cadence", "update_every_minutes", 4),
    ("cadence", "update_every_minutes", -60),
    ("cadence", "update_every_minutes", 10**30),
]


@pytest.mark.parametrize("name", endpoints_of(WRONG_TYPES))
def test_a_wrong_type_or_value_is_named(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for field, value in rows_of(WRONG_TYPES, name):
            body = spoil(valid_body(name, world), field, value)
            expect(f"{field}={value!r:.40}", send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


def test_an_unknown_cadence_kind_in_the_path_is_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    response = send(
        admin, ENDPOINTS["cadence"], world, {"update_every_minutes": 60}, path="/cadence-policies/rant"
    )
    assert_error(response, 422, "kind", "invalid")


# -- ids in the body that name nothing ---------------------------------------------------------

UNKNOWN_IN_BODY = [
    ("staff", "department_ids.0", NO_DEPARTMENT),
    ("staff", "department_ids.1", "dep_nope"),
    ("staff_patch", "department_ids.0", NO_DEPARTMENT),
    ("customer", "personal_contact_id", NO_STAFF),
    ("customer_patch", "personal_contact_id", "stf_nope"),
    ("case", "customer_id", NO_CUSTOMER),
    ("case", "customer_id", "{case}"),  # a real id, of the wrong kind
    ("case", "caused_by_department_id", NO_DEPARTMENT),
    ("case_new_customer", "customer.personal_contact_id", NO_STAFF),
    ("case_patch", "caused_by_department_id", "dep_nope"),
    ("transfer", "to_staff_id", NO_STAFF),
    ("transfer", "to_staff_id", "{customer}"),
    ("commitment", "owner_id", NO_STAFF),
]


@pytest.mark.parametrize("name", endpoints_of(UNKNOWN_IN_BODY))
def test_an_unknown_id_in_the_body_is_a_422_naming_it(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for field, value in rows_of(UNKNOWN_IN_BODY, name):
            body = valid_body(name, world)
            if field == "department_ids.1":
                body["department_ids"] = [world["department"]]
            body = spoil(body, field, value.format(**world))
            expect(f"{field}={value}", send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


# -- ids in the path that name nothing ---------------------------------------------------------

UNKNOWN_IN_PATH = [
    ("staff_patch", "/staff/" + NO_STAFF),
    ("staff_patch", "/staff/{customer}"),
    ("token", "/staff/" + NO_STAFF + "/tokens"),
    ("token", "/staff/nope/tokens"),
    ("customer_patch", "/customers/" + NO_CUSTOMER),
    ("customer_patch", "/customers/{staff}"),
    ("fact", "/customers/" + NO_CUSTOMER + "/facts"),
    ("case_patch", "/cases/" + NO_CASE),
    ("message", "/cases/" + NO_CASE + "/messages"),
    ("message", "/cases/{customer}/messages"),
    ("transfer", "/cases/" + NO_CASE + "/transfer"),
    ("commitment", "/cases/" + NO_CASE + "/commitments"),
    ("keep", "/commitments/" + NO_COMMITMENT + "/keep"),
    ("keep", "/commitments/{case}/keep"),
    ("renegotiate", "/commitments/" + NO_COMMITMENT + "/renegotiate"),
    ("resolve", "/cases/" + NO_CASE + "/resolve"),
    ("reopen", "/cases/" + NO_CASE + "/reopen"),
    ("reopen", "/cases/x%00y/reopen"),
]
UNKNOWN_TO_READ = [
    "/staff/" + NO_STAFF,
    "/customers/" + NO_CUSTOMER,
    "/cases/" + NO_CASE,
    "/cases/" + NO_CASE + "/timeline",
    "/cases/" + NO_CASE + "/commitments",
    "/commitments/" + NO_COMMITMENT,
    "/cases/%00",
]


@pytest.mark.parametrize("name", endpoints_of(UNKNOWN_IN_PATH))
def test_an_unknown_id_in_the_path_is_a_404(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    endpoint = ENDPOINTS[name]
    with refusals() as expect:
        for (path,) in rows_of(UNKNOWN_IN_PATH, name):
            body = endpoint.body(world) if endpoint.body else None
            expect(path, send(admin, endpoint, world, body, path=path), 404, None, "not_found")


def test_reading_an_unknown_id_is_a_404(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for path in UNKNOWN_TO_READ:
            expect(path, admin.get(path), 404, None, "not_found")


# -- strings and lists too long ----------------------------------------------------------------

TOO_LONG = [
    ("department", "name", 101),
    ("staff", "name", 201),
    ("staff", "email", 321),
    ("staff", "password", 201),
    ("staff_patch", "name", 201),
    ("customer", "name", 201),
    ("customer", "emails.0", 321),
    ("customer", "phones.0", 41),
    ("customer", "external_ids.shop", 201),
    ("customer", "preferences.language", 36),
    ("customer", "preferences.timezone", 65),
    ("customer", "preferences.topics.0", 101),
    ("customer", "personal_contact_id", 41),
    ("customer_patch", "name", 201),
    ("fact", "text", 2001),
    ("case", "body", 20_001),
    ("case", "subject", 301),
    ("case", "customer_id", 41),
    ("case", "order_id", 41),
    ("case", "caused_by_department_id", 41),
    ("case_patch", "subject", 301),
    ("message", "body", 20_001),
    ("transfer", "handoff_note", 5001),
    ("transfer", "to_staff_id", 41),
    ("commitment", "text", 2001),
    ("renegotiate", "note", 2001),
    ("resolve", "summary", 5001),
    ("resolve", "next_issue_tip", 2001),
    ("reopen", "reason", 2001),
]
TOO_MANY = [
    ("customer", "emails", [f"c{i}@example.com" for i in range(21)]),
    ("customer", "phones", [f"+4420794600{i:02d}" for i in range(21)]),
    ("customer", "external_ids", {f"system{i}": "x" for i in range(21)}),
    ("customer", "preferences.topics", [f"topic {i}" for i in range(51)]),
    ("staff", "department_ids", ["dep_x"] * 51),
]


@pytest.mark.parametrize("name", endpoints_of(TOO_LONG))
def test_an_over_long_string_is_named(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for field, length in rows_of(TOO_LONG, name):
            body = spoil(valid_body(name, world), field, "x" * length)
            expect(f"{field} of {length}", send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


def test_an_over_long_list_is_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for name, field, value in TOO_MANY:
            body = spoil(valid_body(name, world), field, value)
            expect(f"{name} {field}", send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


# -- e-mail addresses and phone numbers --------------------------------------------------------

BAD_EMAILS = [
    "not-an-email",
    "two@@example.com",
    "no-domain@",
    "@example.com",
    "a b@example.com",
    "x@localhost",
]
BAD_PHONES = ["12345", "call me maybe", "+1 555", "+999 1234 5678", "+44 20 7946 0000 0000 0000"]


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("customer", "emails.0"),
        ("customer_patch", "emails.1"),
        ("case_new_customer", "customer.emails.0"),
        ("staff", "email"),
    ],
)
def test_an_invalid_email_is_named(admin, world, name, field) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for email in BAD_EMAILS:
            body = valid_body(name, world)
            if name == "customer_patch":
                body["emails"] = ["rosa@example.com"]
            body = spoil(body, field, email)
            error = expect(email, send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")
            assert error is None or "e-mail" in error["message"], error


@pytest.mark.parametrize(
    ("name", "field"),
    [("customer", "phones.0"), ("customer_patch", "phones.0"), ("case_new_customer", "customer.phones.0")],
)
def test_an_invalid_phone_is_named(admin, world, name, field) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for phone in BAD_PHONES:
            body = spoil(valid_body(name, world), field, phone)
            expect(phone, send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


def test_an_identifier_held_by_another_customer_is_a_conflict_naming_it(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = spoil(valid_body("customer", world), "emails.1", "ROSA@example.com")
    assert_error(send(admin, ENDPOINTS["customer"], world, body), 409, "emails.1", "conflict")


# -- times -------------------------------------------------------------------------------------

BAD_TIMES = [
    "2026-03-02T11:00:00",  # no offset
    "2026-03-03",  # a date, no time and no offset
    "2026-02-30T10:00:00+00:00",  # no such day
    "2026-03-03T24:30:00+00:00",
    "2026-03-03T10:00:00+25:00",  # no such offset
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-14:00",
    "3000-01-01T00:00:00+00:00",
    "1969-12-31T23:59:59+00:00",
    "2026-03-01T10:00:00+00:00",  # in the past for a promise
    "",
]


@pytest.mark.parametrize("name", ["commitment", "renegotiate"])
def test_a_bad_due_time_is_named(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for value in BAD_TIMES:
            body = spoil(valid_body(name, world), "due_at", value)
            expect(repr(value), send(admin, ENDPOINTS[name], world, body), 422, "due_at", "invalid")


def test_a_bad_time_in_a_query_is_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for value in ["2026-03-02T11:00:00", "2026-02-30T10:00:00+00:00", "0001-01-01T00:00:00Z"]:
            expect(value, admin.get("/agenda", until=value), 422, "until", "invalid")


def test_a_time_with_an_offset_is_stored_in_utc(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = {"text": "Call back", "due_at": "2026-03-03T11:00:00+02:00"}
    response = send(admin, ENDPOINTS["commitment"], world, body)
    assert response.status_code == 201, response.text
    assert response.json()["due_at"] == "2026-03-03T09:00:00Z"


# -- NUL bytes (PostgreSQL refuses them; they must never get that far) -------------------------

NUL_FIELDS = [
    ("department", "name"),
    ("staff", "name"),
    ("staff", "email"),
    ("staff", "department_ids.0"),
    ("staff_patch", "name"),
    ("customer", "name"),
    ("customer", "emails.0"),
    ("customer", "phones.0"),
    ("customer", "external_ids.shop"),
    ("customer", "preferences.language"),
    ("customer", "preferences.timezone"),
    ("customer", "preferences.topics.0"),
    ("customer_patch", "name"),
    ("fact", "text"),
    ("case", "body"),
    ("case", "subject"),
    ("case", "customer_id"),
    ("case", "order_id"),
    ("case_new_customer", "customer.emails.0"),
    ("case_patch", "subject"),
    ("message", "body"),
    ("transfer", "handoff_note"),
    ("transfer", "to_staff_id"),
    ("commitment", "text"),
    ("commitment", "owner_id"),
    ("renegotiate", "note"),
    ("resolve", "summary"),
    ("resolve", "next_issue_tip"),
    ("reopen", "reason"),
]
BAD_QUERIES = [
    ("/customers", {"identifier": f"rosa{NUL}@example.com"}, "identifier"),
    ("/cases", {"owner_id": f"stf{NUL}"}, "owner_id"),
    ("/cases", {"cursor": NUL}, "cursor"),
    ("/cases", {"cursor": "AA"}, "cursor"),  # base64 of a NUL
    ("/departments", {"cursor": "AA"}, "cursor"),
    ("/staff", {"cursor": "AAAA"}, "cursor"),
    ("/customers", {"cursor": "AA"}, "cursor"),
    ("/outbox", {"cursor": "AA"}, "cursor"),
    ("/outbox", {"case_id": NUL}, "case_id"),
    ("/cases/{case}/timeline", {"cursor": "AA"}, "cursor"),
    ("/departments", {"cursor": "_w"}, "cursor"),  # not UTF-8 once decoded
    ("/departments", {"limit": str(10**30)}, "limit"),
    ("/departments", {"limit": "0"}, "limit"),
    ("/cases", {"limit": "-1"}, "limit"),
    ("/cases", {"limit": "ten"}, "limit"),
    ("/cases", {"status": "lost"}, "status"),
    ("/cases", {"proactive": "perhaps"}, "proactive"),
    ("/agenda", {"limit": str(10**30)}, "limit"),
]


@pytest.mark.parametrize("name", endpoints_of(NUL_FIELDS))
def test_a_nul_byte_is_refused_and_named(admin, world, name) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for (field,) in rows_of(NUL_FIELDS, name):
            body = spoil(valid_body(name, world), field, f"abc{NUL}def@example.com")
            expect(field, send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


def test_bad_query_parameters_are_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for path, params, field in BAD_QUERIES:
            response = admin.get(path.format(**world), **params)
            expect(f"{path} {params!r:.40}", response, 422, field, "invalid")


# -- fields the API does not have --------------------------------------------------------------

UNKNOWN_NESTED = [
    ("staff", "authority.bonus"),
    ("customer", "preferences.colour"),
    ("customer", "preferences.quiet_hours.timezone"),
    ("case_new_customer", "customer.vip"),
]


def test_an_unknown_field_is_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for name in WITH_BODY:
            body = {**valid_body(name, world), "surprise": 1}
            error = expect(name, send(admin, ENDPOINTS[name], world, body), 422, "surprise", "invalid")
            assert error is None or "not part of the API" in error["message"], error


def test_an_unknown_nested_field_is_named(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for name, field in UNKNOWN_NESTED:
            body = valid_body(name, world)
            if field.startswith("preferences.quiet_hours"):
                body["preferences"]["quiet_hours"] = {"start": "22:00", "end": "07:00"}
            body = spoil(body, field, "yes")
            expect(f"{name} {field}", send(admin, ENDPOINTS[name], world, body), 422, field, "invalid")


# -- bodies that are not a JSON object ---------------------------------------------------------

NOT_JSON = [
    (b"{not json", "application/json", 400, "invalid_json"),
    (b'{"name": "x",}', "application/json", 400, "invalid_json"),
    (b"\xff\xfe\x00", "application/json", 400, "invalid_json"),
    (b"[" * 50_000 + b"]" * 50_000, "application/json", 400, "invalid_json"),
    (b'{"n": ' + b"9" * 5000 + b"}", "application/json", 400, "invalid_json"),
    (b"", "application/json", 422, "invalid"),
    (b"null", "application/json", 422, "invalid"),
    (b"[]", "application/json", 422, "invalid"),
    (b'"text"', "application/json", 422, "invalid"),
    (b"42", "application/json", 422, "invalid"),
    (b"name=Billing", "application/x-www-form-urlencoded", 422, "invalid"),
    (b'{"name": "Billing"}', "text/plain", 422, "invalid"),
]


def test_a_body_that_is_not_a_json_object_is_refused(admin, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for name in WITH_BODY:
            for content, content_type, status, code in NOT_JSON:
                headers = {"content-type": content_type}
                response = send(admin, ENDPOINTS[name], world, content=content, headers=headers)
                expect(f"{name} {content[:20]!r} as {content_type}", response, status, None, code)


# -- nothing is half-written -------------------------------------------------------------------


def _count(admin, path: str, **params: Any) -> int:  # type: ignore[no-untyped-def]
    response = admin.get(path, limit=200, **params)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def test_a_refused_case_creates_neither_case_nor_customer(admin, world) -> None:  # type: ignore[no-untyped-def]
    cases, customers = _count(admin, "/cases"), _count(admin, "/customers")
    body = {
        "customer": {"name": "Nina New", "emails": ["nina@example.com"], "phones": ["+44 20 7946 0001"]},
        "body": "My order is wrong.",
        "caused_by_department_id": NO_DEPARTMENT,
    }
    assert_error(admin.post("/cases", body), 422, "caused_by_department_id")
    assert admin.get("/customers", identifier="nina@example.com").json()["items"] == []
    assert admin.get("/customers", identifier="+44 20 7946 0001").json()["items"] == []
    assert (_count(admin, "/cases"), _count(admin, "/customers")) == (cases, customers)
    # ...and the same request, put right, goes through.
    body["caused_by_department_id"] = world["department"]
    assert admin.post("/cases", body).status_code == 201
    assert len(admin.get("/customers", identifier="nina@example.com").json()["items"]) == 1


def test_a_refused_case_teaches_a_known_customer_nothing(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = {
        "customer": {"emails": ["rosa@example.com", "rosa.second@example.com"]},
        "body": "Again!",
        "caused_by_department_id": "dep_nope",
    }
    assert_error(admin.post("/cases", body), 422, "caused_by_department_id")
    assert admin.get("/customers", identifier="rosa.second@example.com").json()["items"] == []
    assert admin.get(f"/customers/{world['customer']}").json()["emails"] == ["rosa@example.com"]


def test_a_refused_new_customer_with_an_unknown_contact_is_not_created(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = {"customer": {"emails": ["olga@example.com"], "personal_contact_id": NO_STAFF}, "body": "Hi"}
    assert_error(admin.post("/cases", body), 422, "customer.personal_contact_id")
    assert_error(admin.post("/customers", body["customer"]), 422, "personal_contact_id")
    assert admin.get("/customers", identifier="olga@example.com").json()["items"] == []


def test_a_refused_staff_member_is_not_created(admin, world) -> None:  # type: ignore[no-untyped-def]
    before = _count(admin, "/staff")
    body = {**valid_body("staff", world), "department_ids": [world["department"], NO_DEPARTMENT]}
    assert_error(admin.post("/staff", body), 422, "department_ids.1")
    assert _count(admin, "/staff") == before
    assert admin.post("/staff", valid_body("staff", world)).status_code == 201  # the e-mail is still free


def test_a_refused_patch_changes_nothing(admin, world) -> None:  # type: ignore[no-untyped-def]
    customer_path, staff_path, case_path = (
        f"/customers/{world['customer']}",
        f"/staff/{world['staff']}",
        f"/cases/{world['case']}",
    )
    customer, staff, case = (
        admin.get(customer_path).json(),
        admin.get(staff_path).json(),
        admin.get(case_path).json(),
    )
    events = _count(admin, f"{case_path}/timeline")
    admin.post("/customers", {"emails": ["taken@example.com"]})

    refused = [
        (
            admin.patch(customer_path, {"name": "Renamed", "personal_contact_id": NO_STAFF}),
            "personal_contact_id",
        ),
        (
            admin.patch(
                customer_path, {"name": "Renamed", "emails": ["rosa@example.com", "taken@example.com"]}
            ),
            "emails.1",
        ),
        (admin.patch(staff_path, {"name": "Renamed", "department_ids": [NO_DEPARTMENT]}), "department_ids.0"),
        (
            admin.patch(case_path, {"subject": "Renamed", "caused_by_department_id": NO_DEPARTMENT}),
            "caused_by_department_id",
        ),
    ]
    for response, field in refused:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["field"] == field

    assert admin.get(customer_path).json() == customer
    assert admin.get(staff_path).json() == staff
    assert admin.get(case_path).json() == case
    assert _count(admin, f"{case_path}/timeline") == events


def test_refused_case_commands_leave_the_case_and_its_timeline_alone(admin, world) -> None:  # type: ignore[no-untyped-def]
    case_path = f"/cases/{world['case']}"
    case = admin.get(case_path).json()
    events = _count(admin, f"{case_path}/timeline")
    commitments = admin.get(f"{case_path}/commitments").json()
    outbox = _count(admin, "/outbox")

    assert_error(
        admin.post(f"{case_path}/transfer", {"to_staff_id": NO_STAFF, "handoff_note": "x"}),
        422,
        "to_staff_id",
    )
    assert_error(
        admin.post(f"{case_path}/commitments", {"text": "Soon", "due_at": "2026-03-01T10:00:00+00:00"}),
        422,
        "due_at",
    )
    assert_error(
        admin.post(f"{case_path}/commitments", {"text": "Soon", "due_at": LATER, "owner_id": NO_STAFF}),
        422,
        "owner_id",
    )
    assert_error(
        admin.post(
            f"/commitments/{world['commitment']}/renegotiate", {"due_at": "2026-03-02T11:00:00", "note": "x"}
        ),
        422,
        "due_at",
    )
    assert_error(admin.post(f"{case_path}/messages", {"body": "x" * 20_001}), 422, "body")
    assert_error(admin.post(f"{case_path}/resolve", {"summary": f"done{NUL}"}), 422, "summary")

    assert admin.get(case_path).json() == case
    assert _count(admin, f"{case_path}/timeline") == events
    assert admin.get(f"{case_path}/commitments").json() == commitments
    assert _count(admin, "/outbox") == outbox


# -- who is asking -----------------------------------------------------------------------------

BAD_AUTHORIZATION = [None, "Bearer", "Bearer nope", "Basic YTpi", f"Bearer a{NUL}b", "Bearer " + "x" * 5000]


def test_without_a_valid_token_every_write_is_a_401(client, world) -> None:  # type: ignore[no-untyped-def]
    with refusals() as expect:
        for name, endpoint in ENDPOINTS.items():
            url = "/api/v1" + endpoint.path.format(**world)
            body = endpoint.body(world) if endpoint.body else None
            for authorization in BAD_AUTHORIZATION:
                headers = {"Authorization": authorization} if authorization else {}
                response = client.request(endpoint.method, url, json=body, headers=headers)
                expect(f"{name} {authorization!r:.20}", response, 401, None, "not_authenticated")
