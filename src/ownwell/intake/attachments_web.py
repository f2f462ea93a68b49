"""The customer's download of a file they sent, through the signed link of their case portal,
and the one way every attachment download is answered (staff API included)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from ownwell.cases import repository as case_repository
from ownwell.db import unit_of_work
from ownwell.errors import NotFound
from ownwell.intake import repository
from ownwell.portal.links import read_token

router = APIRouter(include_in_schema=False)


def file_response(content: bytes, *, filename: str, content_type: str) -> Response:
    """Always a download, never rendered in our origin: the type is the sender's claim."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
    return Response(
        content=content,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/portal/{token}/attachments/{attachment_id}")
def portal_download(request: Request, token: str, attachment_id: str) -> Response:
    state = request.app.state
    grant = read_token(state.settings.resolved_secret_key(), token, now=state.clock.now())
    if grant is None:
        raise NotFound("this link is not valid or has expired; reply to our last e-mail for a fresh one")
    with unit_of_work(state.session_factory) as session:
        row = repository.attachment(session, attachment_id, with_content=True)
        case = case_repository.get(session, row.case_id)
        # Someone else's file looks exactly like no file at all.
        mine = case.customer_id == grant.customer_id and grant.case_id in (None, case.id)
        if not mine:
            raise NotFound(f"no attachment with id {attachment_id!r}")
        return file_response(row.content, filename=row.filename, content_type=row.content_type)
