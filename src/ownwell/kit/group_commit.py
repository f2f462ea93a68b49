"""Group commit: requests that arrive together share one transaction.

The busiest write (a customer writing in through `POST /cases`) used to spend more on the fixed
price of its own transaction (a thread hop, BEGIN, one INSERT per table, COMMIT; on SQLite the
writer lock, which eight request threads queued on) than on its own work. Here, requests that
arrive while a transaction is running wait for it to end and then go together in the next one.
A request that arrives when nothing is running goes at once, so an idle server adds no delay.

Nothing changes for the request itself:
- it is answered after the commit that stored it, so a 201 still means "stored";
- if anything in a shared transaction fails (bad input, an identifier another process has just
  taken, a lost connection), the whole transaction is rolled back and each of its requests is
  redone alone in a transaction of its own, so each gets exactly the answer it would have had
  on its own;
- the service functions are the same ones; while the transaction is shared, `insert_new`
  leaves the new rows pending (see `grouped`) and they are inserted together, one INSERT per
  table, just before the commit.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ownwell.db import shared_writes, unit_of_work
from ownwell.errors import AppError

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[Session], T]
# Run at the start of a shared transaction, before any job: says what the job will read, so the
# first read can fetch it for every job at once (customers.repository.expect_identifiers).
Hint = Callable[[Session], None]

# Enough to absorb a burst; small enough that the writer lock is never held for long.
MAX_BATCH = 32


class GroupCommit(Generic[T]):
    """One queue of jobs per event loop. The bookkeeping runs on the loop (no locks needed);
    the transactions run in the threadpool, one at a time."""

    def __init__(self, factory: sessionmaker[Session], *, max_batch: int = MAX_BATCH) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self._waiting: list[tuple[Job[T], Hint | None, asyncio.Future[T]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.shared_commits = 0  # transactions that stored more than one job: for tests

    async def run(self, job: Job[T], hint: Hint | None = None) -> T:
        """Run `job(session)` in a transaction, possibly shared; its result after the commit."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, hint, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Job[T], Hint | None, asyncio.Future[T]]] = []
        try:
            while self._waiting:
                batch = [item for item in self._waiting[: self._max_batch] if not item[2].cancelled()]
                del self._waiting[: self._max_batch]
                if not batch:  # everyone in it went away before it started
                    continue
                outcomes = await run_in_threadpool(
                    self._commit, [job for job, _, _ in batch], [hint for _, hint, _ in batch]
                )
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the client went away; its case is stored all the same
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        except BaseException as exc:  # the loop is shutting down: nobody may wait forever
            for _, _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("shutting down"))
            self._waiting.clear()
            raise
        finally:
            self._drainer = None

    def _commit(self, jobs: list[Job[T]], hints: list[Hint | None]) -> list[T | BaseException]:
        outcomes: dict[int, T | BaseException] = {}
        todo = list(range(len(jobs)))
        # A lone request goes this way too (hinted reads, no savepoint, its case rows in one
        # round trip at the end) but takes its locks as a plain request does (db.lone_request);
        # a clash on its new customer redoes it alone, as for a batch.
        while todo:
            running: int | None = None
            committing = False
            try:
                with unit_of_work(self._factory) as session:
                    results: dict[int, T] = {}
                    with shared_writes(session, commands=len(todo), commit_follows=True):
                        for index in todo:
                            _take_hint(hints[index], session)
                        for running in todo:
                            results[running] = jobs[running](session)
                        running = None
                    committing = True
                if len(todo) > 1:
                    self.shared_commits += 1
                outcomes.update(results)
                todo = []
            except Exception as exc:
                if committing or _lost_connection(exc):
                    # Whether a failed COMMIT took effect is unknown: redoing could store the
                    # cases twice. A lost database fails alone just the same, only slower.
                    log.warning("a shared transaction of %d requests failed: %r", len(todo), exc)
                    outcomes.update(dict.fromkeys(todo, exc))
                    todo = []
                elif running is None:
                    # The rows written together clashed (two first contacts from one address,
                    # say): nobody to single out, so each goes alone.
                    break
                elif len(todo) == 1 and isinstance(exc, AppError):
                    # A lone request's own error (bad input): the answer it would get alone.
                    outcomes[running] = exc
                    todo = []
                else:
                    # This request failed (bad input, mostly): it gets its answer alone, and the
                    # others try together again without it.
                    if not isinstance(exc, AppError):
                        log.warning("a request failed in a shared transaction: %r", exc, exc_info=True)
                    outcomes[running] = self._alone(jobs[running])
                    todo.remove(running)
        for index in todo:
            outcomes[index] = self._alone(jobs[index])
        return [outcomes[index] for index in range(len(jobs))]

    def _alone(self, job: Job[T]) -> T | BaseException:
        try:
            with unit_of_work(self._factory) as session:
                return job(session)
        except Exception as exc:
            return exc


def _take_hint(hint: Hint | None, session: Session) -> None:
    """A hint is advice: one that fails costs its job a read of its own, not the batch."""
    if hint is None:
        return
    try:
        hint(session)
    except Exception:
        log.warning("a hint of a shared transaction failed; its job reads for itself", exc_info=True)


def _lost_connection(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def group_commit(factory: sessionmaker[Session]) -> GroupCommit[Any]:
    """The queue of this session factory on the running event loop (a test may run several)."""
    info = factory.kw.setdefault("info", {})
    per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit[Any]]
    per_loop = info.setdefault("ownwell_group_commit", weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    queue = per_loop.get(loop)
    if queue is None:
        queue = per_loop[loop] = GroupCommit(factory)
    return queue
