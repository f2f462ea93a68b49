"""The demo company's people and the customers' words."""

from __future__ import annotations

from ownwell.cases.models import CaseKind
from ownwell.staff.models import Role

DEPARTMENTS = ["Customer Care", "Shipping", "Billing", "Product"]
# name, e-mail, role, departments, authority limit
STAFF = [
    ("Maya Okafor", "maya@demo.ownwell.test", Role.admin, ["Customer Care"], 500),
    ("Jonas Berg", "jonas@demo.ownwell.test", Role.supervisor, ["Customer Care", "Shipping"], 300),
    ("Priya Nair", "priya@demo.ownwell.test", Role.agent, ["Customer Care"], 50),
    ("Tomás Silva", "tomas@demo.ownwell.test", Role.agent, ["Shipping"], 50),
    ("Beatriz Lima", "beatriz@demo.ownwell.test", Role.agent, ["Shipping"], 50),
    ("Aiko Tanaka", "aiko@demo.ownwell.test", Role.agent, ["Billing"], 100),
    ("Sam Fischer", "sam@demo.ownwell.test", Role.supervisor, ["Billing", "Product"], 300),
    ("Lena Novak", "lena@demo.ownwell.test", Role.agent, ["Product"], 25),
]
DEMO_PASSWORD = "ownwell-demo"
# (department or None, kind, words as a customer would write them)
PROBLEMS = [
    ("Billing", CaseKind.complaint, "I was charged twice for the same order this morning."),
    ("Billing", CaseKind.request, "Please send me an invoice with my company's tax number on it."),
    ("Billing", CaseKind.complaint, "My refund was promised ten days ago and it is still not on my card."),
    ("Product", CaseKind.complaint, "The kettle switches itself off before the water boils."),
    ("Product", CaseKind.question, "Does the charger work with 110 V sockets?"),
    ("Shipping", CaseKind.complaint, "The box arrived crushed and the lamp inside is broken."),
    (None, CaseKind.question, "How do I close my account? I no longer need it."),
    (None, CaseKind.request, "I'd like to update the phone number you have for me."),
    (None, CaseKind.complaint, "Nobody answered my e-mail from last week."),
]
FIRST = [
    "Ana",
    "Bruno",
    "Camila",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Larissa",
    "Mateus",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Thiago",
    "Valentina",
    "Yuri",
]
LAST = [
    "Almeida",
    "Barbosa",
    "Carvalho",
    "Dias",
    "Ferreira",
    "Gomes",
    "Lima",
    "Martins",
    "Nunes",
    "Oliveira",
    "Pereira",
    "Ribeiro",
    "Santos",
    "Teixeira",
    "Souza",
]


def person(index: int) -> tuple[str, str]:
    """A stable, plausible name and address for the n-th demo customer."""
    first, last = FIRST[index % len(FIRST)], LAST[(index // len(FIRST)) % len(LAST)]
    ascii_first = first.encode("ascii", "ignore").decode().lower()
    return f"{first} {last}", f"{ascii_first}.{last.lower()}.{index}@example.com"
