"""The demo organisation loads through the services, and late orders become proactive cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.demo import load_demo
from ownwell.orders.models import Order
from ownwell.staff.models import Staff

OLIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "olist"


@pytest.mark.parametrize("source", ["generated", "olist"])
def test_demo_loads_once_with_proactive_cases(source, db, settings, session_factory, monkeypatch, tmp_path):
    if source == "olist" and not OLIST.exists():
        pytest.skip("the Olist sample is not beside this checkout")
    monkeypatch.setenv("OWNWELL_DEMO_OLIST_DIR", str(OLIST if source == "olist" else tmp_path))
    monkeypatch.chdir(tmp_path)  # so ../shared is not found by accident
    load_demo(settings, only_once=True, orders=400)
    with unit_of_work(session_factory) as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        proactive = session.scalar(select(func.count()).select_from(Case).where(Case.proactive.is_(True)))
        staff = session.scalar(select(func.count()).select_from(Staff))
    assert orders == 400 and staff == 8
    assert proactive > 0, "no late order became a proactive case"
    load_demo(settings, only_once=True, orders=400)  # a second start loads nothing more
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 400
