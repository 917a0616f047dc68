"""A lead imports outputs through the htmx page in real headless Chromium."""

from __future__ import annotations

import json

import pytest

from annotation.models import Output
from tests.browser_support import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lead_imports_a_file_and_sees_errors_then_success(page, project_roles, tmp_path):
    log_in(page, "lead-a")
    page.goto("/p/alpha/outputs/import/")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"prompt_id": "p1", "prompt": "", "system": "s", "output": "x"}) + "\nnot json\n"
    )
    page.set_input_files("input[name=file]", str(bad))
    page.click("button.primary")
    page.wait_for_selector(".notice.error")
    errors = page.inner_text("#import-result")
    assert "2 error(s)" in errors and "Must not be empty." in errors and "Not valid JSON" in errors
    assert Output.objects.count() == 0

    good = tmp_path / "good.jsonl"
    good.write_text(
        "\n".join(
            json.dumps(
                {"prompt_id": f"p{n}", "prompt": f"Q{n}", "system": "s", "output": f"<b>A{n}</b>"}
            )
            for n in range(25)
        )
    )
    page.set_input_files("input[name=file]", str(good))
    page.click("button.primary")
    page.wait_for_selector(".notice.ok")
    assert "25 new outputs" in page.inner_text("#import-result")
    assert Output.objects.count() == 25
    assert page.url.endswith("/p/alpha/outputs/import/")  # htmx swapped the result in place
    screenshot(page, "lead-import-result")

    page.goto("/p/alpha/outputs/")
    assert "<b>A3</b>" in page.inner_text("table")  # shown as text, not markup
    # The refused upload is answered 400, which Chromium logs; anything else (a CSP
    # violation, a script error) would be a defect.
    unexpected = [e for e in page.console_errors if "status of 400" not in e]
    assert unexpected == []
