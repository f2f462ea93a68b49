"""`ownwell import orders FILE.csv` as a user runs it: good rows land, each bad row is reported
with its row number and reason, and a rejected row leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEADER = "external_id,customer_email,customer_name,promised_by,department,status,delivered_at,channel\n"
ROWS = [
    "A-1,ana@example.com,Ana Lima,2026-03-04T12:00:00+01:00,Shipping,,,web",
    'A-2,ben@example.com,"Ben, Jr.",2026-03-05T12:00:00Z,Returns,shipped,,web',
    "A-3,ana@example.com,,2026-03-01T12:00:00Z, shipping ,,2026-02-28T16:30:00Z,shop",
    "A-4,cleo@example.com,Cleo,2026-03-04 12:00:00,Shipping,,,web",
    "A-5,not-an-email,Dan,2026-03-04T12:00:00Z,Shipping,,,web",
    "A-6,eve@example.com,Eve,2026-03-04T12:00:00Z,Shipping,teleported,,web",
    "A-1,fay@example.com,Fay,2026-03-04T12:00:00Z,Shipping,,,web",
    "A-8,gus@example.com,Gus,2026-03-04T12:00:00Z,,,,web",
    "A-9,hal@example.com,Hal,2026-03-04T12:00:00Z,Shipping,cancelled,2026-03-03T10:00:00Z,web",
]


def run_import(database_url: str, tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "OWNWELL_DATABASE_URL": database_url, "OWNWELL_SECRET_KEY": "import-test"}
    return subprocess.run(
        [sys.executable, "-m", "ownwell", "import", "orders", str(path), *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_reports_each_rejected_row_and_leaves_nothing_half_written(admin, migrated, tmp_path):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    result = run_import(migrated, tmp_path, HEADER + "\n".join(ROWS) + "\n")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "3 of 9 rows imported; 6 rejected." in out
    assert "row 5: promised_by: Input should have timezone info" in out
    assert "row 6: customer_email:" in out
    assert "row 7: status:" in out
    assert "row 8: external_id: an order with external_id 'A-1' exists already" in out
    assert "row 9: department: this column is required" in out
    assert "row 10: an order that is cancelled has no delivered_at" in out
    assert "importing orders" in result.stderr  # the progress bar

    orders = {o["external_id"]: o for o in admin.get("/orders").json()["items"]}
    assert set(orders) == {"A-1", "A-2", "A-3"}
    assert orders["A-1"]["department_id"] == shipping["id"] == orders["A-3"]["department_id"]
    assert orders["A-1"]["promised_by"] == "2026-03-04T11:00:00Z"
    assert orders["A-2"]["status"] == "shipped"
    assert orders["A-3"]["status"] == "delivered" and orders["A-3"]["delivered_at"] == "2026-02-28T16:30:00Z"
    assert orders["A-1"]["customer_id"] == orders["A-3"]["customer_id"]  # recognised by e-mail
    ben = admin.get("/customers", identifier="ben@example.com").json()["items"]
    assert [c["name"] for c in ben] == ["Ben, Jr."]
    departments = sorted(d["name"] for d in admin.get("/departments").json()["items"])
    assert departments == ["Returns", "Shipping"]
    # The duplicate row's new customer was rolled back with it.
    assert admin.get("/customers", identifier="fay@example.com").json()["items"] == []

    again = run_import(migrated, tmp_path, HEADER + ROWS[0] + "\n")
    assert again.returncode == 1 and "0 of 1 rows imported" in again.stdout
    assert len(admin.get("/orders").json()["items"]) == 3


def test_import_with_a_time_zone_and_a_bad_file(admin, migrated, tmp_path):
    naive = (
        "external_id,customer_email,promised_by,department\nB-1,ivy@example.com,2026-03-04 12:00,Shipping\n"
    )
    result = run_import(migrated, tmp_path, naive, "--timezone", "Europe/Paris")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 rows imported; 0 rejected." in result.stdout
    [order] = admin.get("/orders", external_id="B-1").json()["items"]
    assert order["promised_by"] == "2026-03-04T11:00:00Z"

    no_department = "external_id,customer_email,promised_by\nB-2,jo@example.com,2026-03-04T12:00:00Z\n"
    bad = run_import(migrated, tmp_path, no_department)
    assert bad.returncode == 2 and "no column department" in bad.stderr
    unknown_zone = run_import(migrated, tmp_path, naive, "--timezone", "Mars/Olympus")
    assert unknown_zone.returncode == 2 and "unknown time zone" in unknown_zone.stderr
    assert len(admin.get("/orders").json()["items"]) == 1
