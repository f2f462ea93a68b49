"""Stamping a worker's sweep."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ownwell.operations.models import WorkerHeartbeat

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
# A restarted worker has a new pid and so a new row; rows silent this long are dropped.
FORGET_AFTER = timedelta(days=7)


def stamp_sweep(session: Session, *, now: datetime, worker: str = WORKER_NAME) -> None:
    beat = session.get(WorkerHeartbeat, worker)
    if beat is None:
        session.add(WorkerHeartbeat(worker=worker, started_at=now, last_sweep_at=now))
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_sweep_at < now - FORGET_AFTER))
    else:
        beat.last_sweep_at = now
    session.flush()
