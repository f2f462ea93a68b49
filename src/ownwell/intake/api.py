"""JSON routes of the intake domain: the quarantine (admins only) and the files customers sent
with their messages (staff who may see the case)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ownwell.cases import policies as case_policies
from ownwell.cases import repository as case_repository
from ownwell.deps import ApiContext
from ownwell.intake import repository, service
from ownwell.intake.attachments_web import file_response
from ownwell.intake.models import Attachment, QuarantinedMail
from ownwell.intake.schemas import AttachmentOut, QuarantineOut, RetryOut
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.staff.policies import require_admin

router = APIRouter(tags=["intake"])
API = "/api/v1"


def quarantine_out(row: QuarantinedMail) -> QuarantineOut:
    return QuarantineOut(
        id=row.id,
        received_at=row.received_at,
        source=row.source,
        envelope_from=row.envelope_from,
        envelope_to=list(row.envelope_to or []),
        message_id=row.message_id,
        subject=row.subject,
        reason=row.reason,
        size=row.size,
        status=row.status,
        raw_url=f"{API}/intake/quarantine/{row.id}/raw",
    )


def attachment_out(row: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id,
        case_id=row.case_id,
        event_id=row.event_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        download_url=f"{API}/attachments/{row.id}",
    )


@router.get("/intake/quarantine", response_model=Page[QuarantineOut])
def list_quarantine(
    ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: PageCursor | None = None
) -> Page[QuarantineOut]:
    """Mail we could not read or process, newest first, with the reason; kept whole."""
    require_admin(ctx.actor, "read quarantined mail")
    rows = repository.quarantine_page(ctx.session, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda r: r.id)
    return Page[QuarantineOut](items=[quarantine_out(r) for r in items], next_cursor=next_cursor)


@router.get("/intake/quarantine/{quarantine_id}/raw", response_class=Response)
def quarantined_raw(quarantine_id: str, ctx: ApiContext) -> Response:
    """The message exactly as it arrived (message/rfc822), to read or to feed to another tool."""
    require_admin(ctx.actor, "read quarantined mail")
    row = repository.quarantined(ctx.session, quarantine_id, with_raw=True)
    return file_response(row.raw, filename=f"{row.id}.eml", content_type="message/rfc822")


@router.post("/intake/quarantine/{quarantine_id}/retry", response_model=RetryOut)
def retry_quarantined(quarantine_id: str, ctx: ApiContext) -> RetryOut:
    """Take a held message again (after the cause was fixed); 409 with the reason if it still fails."""
    require_admin(ctx.actor, "retry quarantined mail")
    held = repository.quarantined(ctx.session, quarantine_id, with_raw=True, for_update=True)
    result = service.retry_quarantined(ctx.session, held=held, now=ctx.now, settings=ctx.settings)
    return RetryOut(outcome=result.outcome, case_id=result.case_id, quarantine=quarantine_out(held))


@router.get("/cases/{case_id}/attachments", response_model=Page[AttachmentOut])
def list_attachments(
    case_id: str, ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: PageCursor | None = None
) -> Page[AttachmentOut]:
    case = case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, case_id))
    rows = repository.attachments_page(ctx.session, case.id, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda a: a.id)
    return Page[AttachmentOut](items=[attachment_out(a) for a in items], next_cursor=next_cursor)


@router.get("/attachments/{attachment_id}", response_class=Response)
def download_attachment(attachment_id: str, ctx: ApiContext) -> Response:
    row = repository.attachment(ctx.session, attachment_id, with_content=True)
    case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, row.case_id))
    return file_response(row.content, filename=row.filename, content_type=row.content_type)
