"""Real `ownwell worker` processes against a real SMTP server: killed mid-delivery, and two at once."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from ownwell.db import unit_of_work
from ownwell.notifications.models import OutboxChannel
from ownwell.notifications.outbox import enqueue


def _queue(session_factory, settings, clock, n: int) -> list[str]:
    with unit_of_work(session_factory) as session:
        ids = [
            enqueue(
                session,
                key=f"load:{i}",
                channel=OutboxChannel.email,
                recipient=f"customer{i}@example.com",
                kind="load",
                subject=f"Message {i}",
                body="Your order is on its way.",
                now=clock.now(),
                settings=settings,
            ).id
            for i in range(n)
        ]
    return ids


def _worker(database_url: str, smtp_port: int, lease_s: int = 2) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OWNWELL_DATABASE_URL": database_url,
        "OWNWELL_SMTP_HOST": "127.0.0.1",
        "OWNWELL_SMTP_PORT": str(smtp_port),
        "OWNWELL_MAIL_FROM": "care@acme.test",
        "OWNWELL_SECRET_KEY": "worker-test",
        "OWNWELL_WORKER_INTERVAL_S": "0.1",
        # Short, so the restarted worker takes over the dead one's claims within the test.
        "OWNWELL_DELIVERY_LEASE_S": str(lease_s),
        "OWNWELL_DELIVERY_BATCH": "25",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ownwell", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_all_sent(mailsink, expected_ids: set[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not expected_ids <= _delivered_ids(mailsink):
        if time.monotonic() > deadline:
            missing = len(expected_ids - _delivered_ids(mailsink))
            raise AssertionError(f"{missing} messages never arrived")
        time.sleep(0.05)


def _wait_all_rows_sent(db, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            unsent = "SELECT count(*) FROM outbox_messages WHERE status <> 'sent'"
            left = conn.exec_driver_sql(unsent).scalar()
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{left} outbox rows never became sent")
        time.sleep(0.1)


def _delivered_ids(mailsink) -> set[str]:
    with mailsink.lock:
        return {mid[1:].split("@")[0] for mid in mailsink.message_ids}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing(migrated, db, session_factory, settings, clock, mailsink):
    ids = _queue(session_factory, settings, clock, 500)
    first = _worker(migrated, mailsink.port)
    mailsink.wait_for(120, timeout=60)
    first.kill()  # SIGKILL: no cleanup, leases left behind
    first.wait()
    at_kill = mailsink.count()
    assert at_kill < 500, "the worker finished before it could be killed; the test proves nothing"

    second = _worker(migrated, mailsink.port)
    try:
        _wait_all_sent(mailsink, set(ids))
        # The message in flight at the kill may have arrived already, but its row is only marked
        # once the dead worker's lease has expired and the second worker has sent it again.
        _wait_all_rows_sent(db)
    finally:
        _stop(second)

    counts = collections.Counter(mailsink.message_ids)
    assert set(counts) == {f"<{i}@acme.test>" for i in ids}
    # SMTP cannot make the hand-over and our record of it one atomic step: the one message in
    # flight when the worker died may arrive twice, with the same Message-ID, so mail stores
    # dedupe it. Every other message arrives exactly once.
    twice = [mid for mid, n in counts.items() if n > 1]
    assert len(twice) <= 1 and all(counts[mid] == 2 for mid in twice), twice
    with db.connect() as conn:
        statuses = {row for (row,) in conn.exec_driver_sql("SELECT DISTINCT status FROM outbox_messages")}
    assert statuses == {"sent"}


@pytest.mark.slow
def test_two_workers_deliver_each_message_once(migrated, db, session_factory, settings, clock, mailsink):
    if db.dialect.name != "postgresql":
        pytest.skip("many workers are a PostgreSQL deployment; SQLite runs one embedded worker")
    ids = _queue(session_factory, settings, clock, 2000)
    workers = [_worker(migrated, mailsink.port) for _ in range(2)]
    try:
        _wait_all_sent(mailsink, set(ids), timeout=300)
    finally:
        for worker in workers:
            _stop(worker)
    counts = collections.Counter(mailsink.message_ids)
    assert len(counts) == 2000
    assert max(counts.values()) == 1
