"""Order histories for the demo: real ones from the Olist sample when it is on disk, else
generated with the same shape (promised vs. actual delivery, about 6 % late)."""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
OLIST_CANDIDATES = ("../shared/data/olist", "shared/data/olist")


@dataclass(frozen=True)
class OrderStory:
    external_id: str
    customer_key: str
    city: str
    purchased: datetime
    promised: datetime
    shipped: datetime | None
    delivered: datetime | None
    cancelled: bool


def _olist_dir() -> Path | None:
    configured = os.environ.get("OWNWELL_DEMO_OLIST_DIR")
    for candidate in ([configured] if configured else []) + list(OLIST_CANDIDATES):
        path = Path(candidate)
        if (path / "orders.csv").exists() and (path / "customers.csv").exists():
            return path
    return None


def _when(raw: str) -> datetime | None:
    # Olist times are local Brazilian time without an offset.
    return datetime.fromisoformat(raw).replace(tzinfo=SAO_PAULO) if raw else None


def olist_stories(limit: int) -> tuple[list[OrderStory], str] | None:
    folder = _olist_dir()
    if folder is None:
        return None
    with open(folder / "customers.csv", newline="") as f:
        people = {
            r["customer_id"]: (r["customer_unique_id"], r["customer_city"].title()) for r in csv.DictReader(f)
        }
    stories = []
    with open(folder / "orders.csv", newline="") as f:
        for row in csv.DictReader(f):
            purchased, promised = (
                _when(row["order_purchase_timestamp"]),
                _when(row["order_estimated_delivery_date"]),
            )
            if purchased is None or promised is None or row["customer_id"] not in people:
                continue
            key, city = people[row["customer_id"]]
            stories.append(
                OrderStory(
                    external_id=f"OL-{row['order_id'][:10].upper()}",
                    customer_key=key,
                    city=city,
                    purchased=purchased,
                    # Olist promises a calendar day; the customer reads it as "by the end of that day".
                    promised=promised + timedelta(hours=23, minutes=59),
                    shipped=_when(row["order_delivered_carrier_date"]),
                    delivered=_when(row["order_delivered_customer_date"]),
                    cancelled=row["order_status"] in ("canceled", "unavailable"),
                )
            )
    stories.sort(key=lambda s: s.purchased)
    return stories[-limit:], f"Olist sample ({folder})"


def synthetic_stories(limit: int, *, seed: int = 7) -> tuple[list[OrderStory], str]:
    rng = random.Random(seed)
    start = datetime(2017, 10, 1, tzinfo=SAO_PAULO)
    stories = []
    for i in range(limit):
        purchased = start + timedelta(minutes=rng.randrange(0, 90 * 24 * 60))
        promised = (purchased + timedelta(days=rng.randint(15, 30))).replace(hour=23, minute=59)
        shipped = purchased + timedelta(hours=rng.randint(20, 120))
        late = rng.random() < 0.07
        delivered = (
            promised + timedelta(days=rng.randint(1, 10))
            if late
            else promised - timedelta(days=rng.randint(1, 12), hours=rng.randint(0, 12))
        )
        stories.append(
            OrderStory(
                external_id=f"GEN-{i:06d}",
                customer_key=f"c{rng.randrange(limit * 9 // 10)}",
                city=rng.choice(["Sao Paulo", "Rio De Janeiro", "Curitiba", "Belo Horizonte", "Recife"]),
                purchased=purchased,
                promised=promised,
                shipped=shipped,
                delivered=delivered,
                cancelled=rng.random() < 0.01,
            )
        )
    stories.sort(key=lambda s: s.purchased)
    return stories, "generated orders"


def shift_to(stories: list[OrderStory], now: datetime) -> list[OrderStory]:
    """Move history so the newest purchase was two days ago: orders are in flight right now,
    some already late, others about to be — so proactive cases appear while you watch."""
    delta = now - timedelta(days=2) - stories[-1].purchased

    def move(moment: datetime | None) -> datetime | None:
        return moment + delta if moment else None

    return [
        OrderStory(
            external_id=s.external_id,
            customer_key=s.customer_key,
            city=s.city,
            purchased=s.purchased + delta,
            promised=s.promised + delta,
            shipped=move(s.shipped),
            delivered=move(s.delivered),
            cancelled=s.cancelled,
        )
        for s in stories
    ]
