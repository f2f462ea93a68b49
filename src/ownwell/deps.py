"""Request dependencies: the unit of work, the clock and the authenticated staff member."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import short_cache, unit_of_work
from ownwell.errors import NotAuthenticated
from ownwell.kit.group_commit import group_commit
from ownwell.staff import policies as staff_policies
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff, TokenScope
from ownwell.staff.security import hash_token

T = TypeVar("T")
API_PREFIX = "/api/v1"  # as app.API_PREFIX (app imports this module)


@dataclass
class Ctx:
    """Everything a route hands to a service call: one transaction, one instant, one actor."""

    session: Session
    actor: Staff
    now: datetime
    settings: Settings
    # The API token's scope; web pages (cookie sessions) act with the person's own rights.
    scope: TokenScope = TokenScope.staff


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    return token.strip()


def _authenticated(session: Session, request: Request) -> Ctx:
    """The token's holder, refused if the token is unknown, revoked or expired, or if its scope
    does not reach the call: the one place every API request's token is checked."""
    state = request.app.state
    clock: Clock = state.clock
    now = clock.now()
    holder = staff_repository.token_holder(session, hash_token(bearer_token(request)), now=now)
    if holder is None:
        raise NotAuthenticated(REFUSED)
    staff_policies.require_scope_allows(
        holder.scope, method=request.method, route=_route_template(request), query=request.query_params.keys()
    )
    return Ctx(session=session, actor=holder.staff, now=now, settings=state.settings, scope=holder.scope)


REFUSED = "this API token is unknown, expired or revoked"


def _route_template(request: Request) -> str:
    """The matched route's path template without the API prefix ("/cases/{case_id}"). The
    intake lane (cases.lane) answers before routing, for its one path, which has no parameters:
    there the path is the template."""
    route = request.scope.get("route")
    if route is not None:
        path = str(route.path_format)
    else:
        path, root = request.scope["path"], request.scope.get("root_path", "")
        path = path[len(root) :] if root and path.startswith(root) else path
    return path.removeprefix(API_PREFIX)


@contextmanager
def api_unit(request: Request) -> Iterator[Ctx]:
    """One authenticated API command. The request boundary commits when the block ends (services
    only flush); an exception rolls everything back. Blocking: run it off the event loop."""
    bearer_token(request)  # no token, no transaction
    with unit_of_work(request.app.state.session_factory) as session:
        yield _authenticated(session, request)


async def in_shared_unit(
    request: Request, command: Callable[[Ctx], T], hint: Callable[[Session], None] | None = None
) -> T:
    """One authenticated API command, in a transaction it may share with requests that arrive
    at the same moment (kit.group_commit). Answered after the commit, as `api_unit` is; the
    command runs off the event loop and may run twice (the second time alone) when a request
    it shared the transaction with failed. `hint` says what the command will read, so one
    statement can read it for the whole transaction."""
    bearer_token(request)
    queue = group_commit(request.app.state.session_factory)
    return await queue.run(lambda session: command(_authenticated(session, request)), hint)


def _api_context(request: Request) -> Iterator[Ctx]:
    with api_unit(request) as ctx:
        yield ctx


async def _known_token(request: Request) -> None:
    """Refuse a missing or unknown token before the request body is even looked at, as the
    `ApiContext` routes do, without a threadpool hop when the token was seen a moment ago
    (expiry and scope are checked again with the command, in `_authenticated`)."""
    token_hash = hash_token(bearer_token(request))
    factory = request.app.state.session_factory
    if not staff_repository.token_recently_seen(short_cache(factory), token_hash):
        await run_in_threadpool(_look_up_token, factory, token_hash, request.app.state.clock.now())


def _look_up_token(factory: sessionmaker[Session], token_hash: str, now: datetime) -> None:
    with unit_of_work(factory) as session:
        if staff_repository.token_holder(session, token_hash, now=now) is None:
            raise NotAuthenticated(REFUSED)


# For async routes that run `api_unit` themselves: authentication comes first, as for ApiContext.
KnownToken = Annotated[None, Depends(_known_token)]

# scope="function": commit before the response is sent, so a 201 always means "stored".
ApiContext = Annotated[Ctx, Depends(_api_context, scope="function")]
