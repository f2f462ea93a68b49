"""Request dependencies: the unit of work, the clock and the authenticated staff member."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.errors import NotAuthenticated
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff
from ownwell.staff.security import hash_token


@dataclass
class Ctx:
    """Everything a route hands to a service call: one transaction, one instant, one actor."""

    session: Session
    actor: Staff
    now: datetime
    settings: Settings


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    return token.strip()


def _api_context(request: Request) -> Iterator[Ctx]:
    token = bearer_token(request)
    state = request.app.state
    clock: Clock = state.clock
    # The request boundary commits (services only flush); an exception rolls everything back.
    with unit_of_work(state.session_factory) as session:
        actor = staff_repository.staff_for_token(session, hash_token(token))
        if actor is None:
            raise NotAuthenticated("this API token is unknown or revoked")
        yield Ctx(session=session, actor=actor, now=clock.now(), settings=state.settings)


# scope="function": commit before the response is sent, so a 201 always means "stored".
ApiContext = Annotated[Ctx, Depends(_api_context, scope="function")]
