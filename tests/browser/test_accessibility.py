"""The customer's pages pass axe-core with no serious or critical violation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.test_help_and_portal import ask_for_help

AXE = Path(
    os.environ.get(
        "OWNWELL_AXE_JS",
        Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js",
    )
)


def _serious_violations(page: Page) -> list[str]:
    if not AXE.exists():
        raise AssertionError(f"axe-core is not installed at {AXE}; run scripts/test once (it installs it)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_help_form_thanks_and_case_page_have_no_serious_violations(admin, page: Page, width: int):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/help")
    assert _serious_violations(page) == []
    ask_for_help(page, f"axe{width}@example.com", "The parcel never came.")
    assert _serious_violations(page) == []  # the thank-you page
    page.get_by_role("link", name="See your case").click()
    page.wait_for_url("**/portal/**")
    assert _serious_violations(page) == []
