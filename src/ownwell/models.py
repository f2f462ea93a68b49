"""Every table, imported once so that metadata (and Alembic) see the whole schema."""

from ownwell.audit.models import AuditEntry
from ownwell.cases.models import CadencePolicy, Case, CaseEvent
from ownwell.commitments.models import Commitment, CommitmentRenegotiation
from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier
from ownwell.db import Base
from ownwell.feedback.models import Feedback, FollowUp, Kudos
from ownwell.incidents.models import Incident, IncidentCase, IncidentCustomer, IncidentUpdate
from ownwell.insights.models import CaseVector, PreventionAction, RecurringIssue
from ownwell.intake.models import Attachment, InboundMail, QuarantinedMail
from ownwell.knowledge.models import Article, Question, Tip
from ownwell.notifications.models import OutboxMessage
from ownwell.offers.models import Offer
from ownwell.operations.models import IdempotencyKey, WorkerHeartbeat
from ownwell.orders.models import Order, OrderEvent
from ownwell.staff.models import ApiToken, Department, Staff
from ownwell.web.models import WebSession

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "Article",
    "Attachment",
    "AuditEntry",
    "CadencePolicy",
    "Case",
    "CaseEvent",
    "CaseVector",
    "Commitment",
    "CommitmentRenegotiation",
    "Customer",
    "CustomerFact",
    "CustomerIdentifier",
    "Department",
    "Feedback",
    "FollowUp",
    "IdempotencyKey",
    "InboundMail",
    "Incident",
    "IncidentCase",
    "IncidentCustomer",
    "IncidentUpdate",
    "Kudos",
    "Offer",
    "Order",
    "OrderEvent",
    "OutboxMessage",
    "PreventionAction",
    "QuarantinedMail",
    "Question",
    "RecurringIssue",
    "Staff",
    "Tip",
    "WebSession",
    "WorkerHeartbeat",
    "metadata",
]
