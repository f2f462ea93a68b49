"""`ownwell import customers FILE.csv` as an operator runs it: a dry run writes nothing, each bad
row is reported with its row, column and reason, known customers are recognised by any
identifier, and importing the same file again changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from ownwell.customers.models import Customer, CustomerIdentifier

HEADER = "name,email,phone,external_system,external_id,language,channel\n"
ROWS = [
    "Ana Lima,ana@example.com,,shop,C-1,pt-BR,email",  # row 2: new
    "Ben Okafor,ben@example.com;ben@work.example,+33 6 12 34 56 78,,,,",  # row 3: new, two e-mails
    "Ana L.,,,shop,C-1,,",  # row 4: Ana again, by external id: nothing new
    "Cleo,not-an-email,,,,,",  # row 5: bad e-mail
    "Dan,,,,,,",  # row 6: no identifier
    "Eve,eve@example.com,,,,,pigeon",  # row 7: unknown channel
    "Fay,,,,F-9,,",  # row 8: external id without its system
    "Gus,gus@example.com,,,,,",  # row 9: new
]


def run_import(database_url: str, tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "OWNWELL_DATABASE_URL": database_url, "OWNWELL_SECRET_KEY": "import-test"}
    return subprocess.run(
        [sys.executable, "-m", "ownwell", "import", "customers", str(path), *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def counts(session_factory) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        customers = session.scalar(select(func.count()).select_from(Customer))
        identifiers = session.scalar(select(func.count()).select_from(CustomerIdentifier))
        return customers or 0, identifiers or 0


def test_a_dry_run_reports_every_bad_row_by_column_and_writes_nothing(
    admin, migrated, session_factory, tmp_path
):  # type: ignore[no-untyped-def]
    result = run_import(migrated, tmp_path, HEADER + "\n".join(ROWS) + "\n", "--dry-run")

    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "4 of 8 rows would be imported; 4 rejected." in out
    assert "row 5: email:" in out
    assert "row 6: email: give an email, phone or external_id in every row" in out
    assert "row 7: channel:" in out
    assert "row 8: external_system: this column is required with an external_id" in out
    assert "Dry run, nothing written: 3 created, 0 updated, 1 unchanged." in out
    assert "checking customers" in result.stderr  # the progress bar
    assert counts(session_factory) == (0, 0)


def test_an_import_recognises_customers_by_any_identifier_and_a_second_run_changes_nothing(  # type: ignore[no-untyped-def]
    admin, migrated, session_factory, tmp_path
):
    known = admin.post("/customers", {"name": "Gus Grant", "emails": ["gus@example.com"]}).json()
    text = HEADER + "\n".join(ROWS) + "\n" + "Gus Grant,gus@example.com,+44 20 7946 0958,,,,\n"

    first = run_import(migrated, tmp_path, text)
    assert first.returncode == 1, first.stderr
    assert "5 of 9 rows imported; 4 rejected." in first.stdout
    assert "2 created, 1 updated, 2 unchanged." in first.stdout
    [ana] = admin.get("/customers", identifier="C-1").json()["items"]
    assert ana["name"] == "Ana Lima"
    assert ana["preferences"]["language"] == "pt-BR"
    [ben] = admin.get("/customers", identifier="ben@work.example").json()["items"]
    assert sorted(ben["emails"]) == ["ben@example.com", "ben@work.example"]
    [gus] = admin.get("/customers", identifier="+442079460958").json()["items"]
    assert gus["id"] == known["id"], "the known customer learnt the new phone number"
    after_first = counts(session_factory)

    second = run_import(migrated, tmp_path, text)
    assert "0 created, 0 updated, 5 unchanged." in second.stdout
    assert counts(session_factory) == after_first


def test_a_file_without_an_identifier_column_or_with_a_row_naming_two_customers_is_refused(  # type: ignore[no-untyped-def]
    admin, migrated, session_factory, tmp_path
):
    no_identifiers = run_import(migrated, tmp_path, "name,language\nAna,pt\n")
    assert no_identifiers.returncode == 2
    assert "at least one of the columns email, phone, external_id" in no_identifiers.stderr

    admin.post("/customers", {"name": "Ana", "emails": ["ana@example.com"]})
    admin.post("/customers", {"name": "Ben", "phones": ["+33612345678"]})
    before = counts(session_factory)
    clash = run_import(migrated, tmp_path, "name,email,phone\nAna or Ben,ana@example.com,+33 6 12 34 56 78\n")
    assert clash.returncode == 1
    assert "row 2: email: this row's identifiers belong to different customers" in clash.stdout
    assert counts(session_factory) == before
