"""Schemathesis fuzzing of the whole v1 API, in-process: whatever a client sends, the answer is
never a 5xx, and every 4xx carries the `{"error": {"code", "message", "field"}}` shape.

Every operation of /api/v1/openapi.json is fuzzed with schema-conforming (positive) and
schema-breaking (negative) requests, once with generated path ids and once with the ids of a
seeded department, staff member, customer, case and commitment, so that requests also reach the
code behind the 404s; now and then a generated value is swapped for a hostile one. Before that,
every query and path parameter of every operation without a body is swept with every hostile
value. Generation is derandomized: the same requests every run.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

MIN_REQUESTS = 1_000
# About this many generated requests in all, spread over the (operation, generation mode, id source)
# runs, so that the test stays short as the API grows.
GENERATED_BUDGET = 1_000
# Body and query fields that name an object; sometimes they are given a real id.
ID_FIELDS = {
    "customer_id": "customer",
    "owner_id": "staff",
    "to_staff_id": "staff",
    "personal_contact_id": "staff",
    "caused_by_department_id": "department",
    "case_id": "case",
}
# Values that broke, or could break, something below the validation layer: base64 cursors that
# decode to NUL, NULs themselves (PostgreSQL refuses them), numbers beyond 64 bits, times outside
# 1970-2999, without offset or on impossible days.
HOSTILE: list[Any] = [
    "AA",
    "AAA",
    "_w",
    "\x00",
    "a\x00b",
    "%00",
    str(10**30),
    "-1",
    "1e400",
    "NaN",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-14:00",
    "2026-02-30T10:00:00+00:00",
    "2026-03-02T11:00:00",
    "",
    " ",
    "\u202e\U0001f4a5" * 30,
    "x" * 5000,
    10**30,
    -(10**30),
    1e308,
    True,
    None,
    [],
    {},
]
PATH_IDS = {
    "staff_id": "staff",
    "customer_id": "customer",
    "case_id": "case",
    "commitment_id": "commitment",
}


@pytest.fixture
def seeded(admin) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Real objects of every kind, so that some generated requests find what they name."""
    department = admin.post("/departments", {"name": "Shipping"}).json()
    staff = admin.post(
        "/staff",
        {
            "name": "Tomás Silva",
            "email": "tomas@acme.test",
            "role": "agent",
            "department_ids": [department["id"]],
        },
    ).json()
    customer = admin.post("/customers", {"name": "Rosa Díaz", "emails": ["rosa@example.com"]}).json()
    case = admin.post(
        "/cases",
        {
            "customer_id": customer["id"],
            "body": "My parcel is late.",
            "caused_by_department_id": department["id"],
        },
    ).json()
    commitment = admin.post(
        f"/cases/{case['id']}/commitments",
        {"text": "Call the carrier", "due_at": "2026-03-03T12:00:00+00:00"},
    ).json()
    return {
        "department": department["id"],
        "staff": staff["id"],
        "customer": customer["id"],
        "case": case["id"],
        "commitment": commitment["id"],
    }


def _error_shape_problem(response: Any) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return "the body is not JSON"
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or set(error) != {"code", "message", "field"}:
        return "the body is not {'error': {'code', 'message', 'field'}}"
    if not isinstance(error["code"], str) or not isinstance(error["message"], str) or not error["message"]:
        return "code and message must be non-empty strings"
    if error["field"] is not None and not isinstance(error["field"], str):
        return "field must be a string or null"
    return None


def _steer(case: Any, data: st.DataObject, real: dict[str, str]) -> None:
    """Now and then, swap a generated value for a hostile one, and a generated id in the body or
    the query for one that exists."""
    for container in (case.body, case.query, case.path_parameters):
        if not isinstance(container, dict):
            continue
        for name in list(container):
            if data.draw(st.integers(0, 5), label="hostile?") == 0:
                value = data.draw(st.sampled_from(HOSTILE), label=name)
                container[name] = value if container is case.body else str(value)
        for name, kind in ID_FIELDS.items():
            if name in container and data.draw(st.booleans(), label=name):
                container[name] = real[kind]
        if isinstance(container.get("department_ids"), list) and data.draw(st.booleans()):
            container["department_ids"] = [real["department"]]


def test_no_input_makes_a_server_error(app, admin, seeded) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = dict(admin.headers)
    statuses: Counter[int | str] = Counter()
    failures: list[str] = []

    def send(case: Any) -> None:
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the in-process transport re-raises what the app did not handle
            statuses[500] += 1
            if len(failures) < 20:
                failures.append(f"{case.operation.label}: raised {exc!r:.300}\n    {case.as_curl_command()}")
            return
        statuses[response.status_code] += 1
        if response.status_code < 300 and set((case.path_parameters or {}).values()) & set(seeded.values()):
            statuses["2xx on a seeded id"] += 1
        problem = None
        if response.status_code >= 500:
            problem = "a server error"
        elif response.status_code >= 400:
            problem = _error_shape_problem(response)
        if problem and len(failures) < 20:
            failures.append(
                f"{case.operation.label}: {response.status_code} ({problem})\n"
                f"    path={case.path_parameters} query={case.query} body={case.body!r:.300}\n"
                f"    -> {response.text[:300]}"
            )

    runs = []
    sweeps = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path_names = [p.name for p in operation.path_parameters.items]
        real_paths = {name: seeded[PATH_IDS[name]] for name in path_names if name in PATH_IDS}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runs.append((operation, mode, None))
            if real_paths:
                runs.append((operation, mode, real_paths))
        if not operation.body.items:
            defaults = {name: real_paths.get(name, "x") for name in path_names}
            for name in [p.name for p in operation.query.items] + path_names:
                for value in [v for v in HOSTILE if isinstance(v, str)]:
                    if name in defaults:
                        sweeps.append(operation.Case(path_parameters={**defaults, name: value}))
                    else:
                        sweeps.append(operation.Case(path_parameters=defaults, query={name: value}))

    examples_per_run = max(3, min(10, GENERATED_BUDGET // len(runs)))
    started = time.monotonic()
    # Every query and path parameter of every operation without a body gets every hostile value.
    for case in sweeps:
        send(case)
    for operation, mode, path_parameters in runs:
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @settings(
            max_examples=examples_per_run,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, data=st.data())
        def fuzz(case: Any, data: st.DataObject) -> None:
            _steer(case, data, seeded)
            send(case)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing to break: the operation takes no parameters and no body.
            assert mode is GenerationMode.NEGATIVE, operation.label
    elapsed = time.monotonic() - started

    real_hits = statuses.pop("2xx on a seeded id", 0)
    total = sum(statuses.values())
    summary = (
        f"{total} requests ({len(sweeps)} of the sweep, {len(runs)} generation runs) in {elapsed:.1f}s, "
        f"{real_hits} of them answered 2xx on a seeded id; "
        f"by status: {dict(sorted(statuses.items()))}"
    )
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures)
    assert total >= MIN_REQUESTS, summary
    # Not only refusals: generated requests also reached the seeded objects and were served.
    assert real_hits >= 20, summary
