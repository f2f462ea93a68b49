"""A migrated database per test run (SQLite file or a fresh PostgreSQL database), emptied
between tests; the app runs in-process with a frozen clock that tests move."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from ownwell.app import create_app  # noqa: E402
from ownwell.clock import FrozenClock  # noqa: E402
from ownwell.config import Settings  # noqa: E402
from ownwell.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from ownwell.migrate import upgrade  # noqa: E402
from ownwell.models import metadata  # noqa: E402
from ownwell.staff.models import Role  # noqa: E402
from ownwell.staff.schemas import StaffIn  # noqa: E402
from ownwell.staff.service import create_staff, create_token  # noqa: E402

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
TEST_SECRET = "test-secret-key-not-for-production"


def _postgres_database(base_url: str) -> Iterator[str]:
    """A brand-new database for this run, dropped afterwards."""
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"ownwell_test_{uuid.uuid4().hex[:10]}"
    # Pre-ping: a test may restart the server (tests/test_soak.py), and this engine must still
    # drop the database at the end.
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """OWNWELL_TEST_DATABASE_URL=postgresql://... runs the suite on PostgreSQL; default SQLite."""
    configured = os.environ.get("OWNWELL_TEST_DATABASE_URL", "sqlite")
    if configured.startswith("postgresql"):
        yield from _postgres_database(configured)
        return
    path: Path = tmp_path_factory.mktemp("db") / "ownwell.db"
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def engine(migrated: str) -> Iterator[Engine]:
    engine = make_engine(migrated)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated database, empty at the start of the test."""
    _empty_all_tables(engine)
    yield engine


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(migrated: str) -> Settings:
    return Settings(
        database_url=migrated,
        secret_key=TEST_SECRET,
        base_url="http://ownwell.test",
        smtp_host=None,
        timezone="UTC",
    )


@pytest.fixture
def session_factory(db: Engine):  # type: ignore[no-untyped-def]
    return make_session_factory(db)


@pytest.fixture
def app(db: Engine, settings: Settings, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return create_app(settings=settings, clock=clock, engine=db)


class Api:
    """A tiny client that speaks as one staff member."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **params: Any):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", params=params, headers=self.headers)

    def post(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers)

    def patch(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.patch(f"/api/v1{path}", json=json, headers=self.headers)

    def put(self, path: str, json: Any = None):  # type: ignore[no-untyped-def]
        return self.client.put(f"/api/v1{path}", json=json, headers=self.headers)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def make_staff_token(session_factory, clock: FrozenClock, *, name: str, email: str, role: Role) -> str:  # type: ignore[no-untyped-def]
    with unit_of_work(session_factory) as session:
        staff = create_staff(
            session, data=StaffIn(name=name, email=email, role=role), now=clock.now(), by=None
        )
        return create_token(session, staff=staff, now=clock.now())


@pytest.fixture
def admin(client: TestClient, session_factory, clock: FrozenClock) -> Api:  # type: ignore[no-untyped-def]
    """The organisation's first admin, made the way `ownwell user create` makes one."""
    token = make_staff_token(
        session_factory, clock, name="Ada Admin", email="ada@ownwell.test", role=Role.admin
    )
    return Api(client, token)


@pytest.fixture
def gateway(admin: Api, as_token) -> Api:  # type: ignore[no-untyped-def]
    """A chat or e-mail gateway relaying customers' words: an integrator token, made by an admin."""
    shop = admin.post(
        "/staff", {"name": "Chat Gateway", "email": "gateway@ownwell.test", "role": "agent", "on_duty": False}
    )
    assert shop.status_code == 201, shop.text
    made = admin.post(f"/staff/{shop.json()['id']}/tokens", {"scope": "integrator"})
    assert made.status_code == 201, made.text
    return as_token(made.json()["token"])  # type: ignore[no-any-return]


@pytest.fixture
def as_token(client: TestClient):  # type: ignore[no-untyped-def]
    return lambda token: Api(client, token)


@pytest.fixture
def mailsink():  # type: ignore[no-untyped-def]
    from tests.mailsink import MailSink

    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def recurring_issue(session_factory, clock):  # type: ignore[no-untyped-def]
    """make(label) -> the id of a new, empty recurring issue (for tips and pages that need one)."""
    from ownwell.insights.service import new_issue

    def make(label: str = "Parcel lockers") -> str:
        with unit_of_work(session_factory) as session:
            issue = new_issue(label=label, at=clock.now(), department_id=None, now=clock.now())
            session.add(issue)
            return issue.id

    return make
