"""Every table, imported once so that metadata (and Alembic) see the whole schema."""

from ownwell.cases.models import CadencePolicy, Case, CaseEvent
from ownwell.commitments.models import Commitment, CommitmentRenegotiation
from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier
from ownwell.db import Base
from ownwell.feedback.models import Feedback, FollowUp
from ownwell.incidents.models import Incident, IncidentCase, IncidentCustomer, IncidentUpdate
from ownwell.notifications.models import OutboxMessage
from ownwell.orders.models import Order, OrderEvent
from ownwell.staff.models import ApiToken, Department, Staff

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "CadencePolicy",
    "Case",
    "CaseEvent",
    "Commitment",
    "CommitmentRenegotiation",
    "Customer",
    "CustomerFact",
    "CustomerIdentifier",
    "Department",
    "Feedback",
    "FollowUp",
    "Incident",
    "IncidentCase",
    "IncidentCustomer",
    "IncidentUpdate",
    "Order",
    "OrderEvent",
    "OutboxMessage",
    "Staff",
    "metadata",
]
