"""When the database goes away (a restart, a failover), clients are told to come back shortly,
with 503 and Retry-After, and the log says so in one line without the statement's values."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ownwell.app import create_app
from ownwell.config import Settings
from ownwell.db import make_engine, make_session_factory
from ownwell.staff.models import Role
from tests.conftest import make_staff_token

CASE = {
    "customer": {"name": "Rita Ramos", "emails": ["rita@example.com"]},
    "subject": "Parcel never came",
    "body": "It has been two weeks.",
    "channel": "email",
    "kind": "complaint",
}
APP_NAME = "ownwell-outage-test"


def test_requests_while_the_database_is_unreachable_get_503_with_retry_after(settings, clock, caplog):  # type: ignore[no-untyped-def]
    nowhere = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/none"})
    app = create_app(settings=nowhere, clock=clock, engine=make_engine(nowhere.database_url))
    caplog.set_level(logging.ERROR, logger="ownwell")
    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.post("/api/v1/cases", json=CASE, headers={"Authorization": "Bearer ow_anything"})
        page = client.get("/help")  # a public page that reads nothing still works
        client.cookies.set("ow_session", "a-session-cookie")
        day = client.get("/", follow_redirects=False)

    assert api.status_code == 503
    assert api.headers["retry-after"] == "5"
    assert api.json()["error"]["code"] == "unavailable"
    assert page.status_code == 200
    assert day.status_code == 503
    assert "try again shortly" in day.text
    outage_lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outage_lines) == 2
    assert outage_lines[0].exc_info is None


def test_a_database_restart_costs_the_requests_in_flight_a_503_and_nothing_after(  # type: ignore[no-untyped-def]
    db, settings: Settings, clock, caplog
):
    if db.dialect.name != "postgresql":
        pytest.skip("a server restart is a PostgreSQL event; SQLite has no server to lose")
    engine = make_engine(settings.database_url, connect_args={"application_name": APP_NAME})
    token = make_staff_token(
        make_session_factory(db), clock, name="Ada Admin", email="ada@ownwell.test", role=Role.admin
    )
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(settings=settings, clock=clock, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/api/v1/cases", json=CASE, headers=headers).status_code == 201
        with db.connect() as admin:  # what `pg_ctl restart -m fast` does to each session
            admin.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": APP_NAME},
            )
            admin.commit()
        caplog.set_level(logging.ERROR, logger="ownwell")
        cut_off = client.post("/api/v1/cases", json=CASE, headers=headers)
        after = client.post("/api/v1/cases", json=CASE, headers=headers)
    engine.dispose()

    assert cut_off.status_code == 503, cut_off.text
    assert cut_off.headers["retry-after"] == "5"
    assert after.status_code == 201
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rita@example.com" not in logged
    assert "Rita Ramos" not in logged


def test_database_errors_name_the_statement_but_not_the_customers_values(db, settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    with engine.connect() as conn, pytest.raises(DBAPIError) as failure:
        conn.execute(
            text("SELECT * FROM no_such_people WHERE email = :e"), {"e": "secret.person@example.com"}
        )
    engine.dispose()

    assert "no_such_people" in str(failure.value)
    assert "secret.person@example.com" not in str(failure.value)


def _nowhere(settings: Settings) -> Settings:
    return settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/none"})


def test_the_outage_line_names_the_route_and_not_the_ids_in_the_path(settings, clock, caplog):  # type: ignore[no-untyped-def]
    # Paths hold identifiers, and a portal link's path is the customer's key to their case.
    nowhere = _nowhere(settings)
    app = create_app(settings=nowhere, clock=clock, engine=make_engine(nowhere.database_url))
    caplog.set_level(logging.ERROR, logger="ownwell")
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/cases/case_secret123", headers={"Authorization": "Bearer ow_x"})

    assert answer.status_code == 503
    [line] = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert "GET /api/v1/cases/{case_id}" in line
    assert "case_secret123" not in line


def test_a_worker_sweep_while_the_database_is_unreachable_logs_one_line(settings, clock, caplog):  # type: ignore[no-untyped-def]
    from ownwell.worker import run_once

    nowhere = _nowhere(settings)
    factory = make_session_factory(make_engine(nowhere.database_url))
    caplog.set_level(logging.INFO, logger="ownwell")
    done = run_once(factory, clock, nowhere)

    assert set(done.values()) == {0}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Not a traceback per job (14 of them) plus delivery plus the heartbeat: one line a sweep.
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is None
    assert "database unavailable" in errors[0].getMessage()


def test_mail_arriving_while_the_database_is_unreachable_gets_451_and_one_line(settings, clock, caplog):  # type: ignore[no-untyped-def]
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from ownwell.intake.listener import IntakeHandler

    nowhere = _nowhere(settings)
    handler = IntakeHandler(nowhere, make_session_factory(make_engine(nowhere.database_url)), clock)
    mail = b"From: rita@example.com\r\nTo: care@acme.test\r\nSubject: Hello\r\n\r\nWhere is it?\r\n"
    envelope = SimpleNamespace(
        original_content=mail, content=mail, rcpt_tos=["care@acme.test"], mail_from="rita@example.com"
    )
    caplog.set_level(logging.ERROR, logger="ownwell")
    # Its own thread and event loop: a browser test's Playwright may hold this thread's loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        answer = thread.submit(asyncio.run, handler.handle_DATA(None, None, envelope)).result()

    assert answer.startswith("451")
    [line] = caplog.records
    assert line.exc_info is None
    assert "database unavailable" in line.getMessage()
    assert "rita@example.com" not in line.getMessage()
