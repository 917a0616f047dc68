"""The HTML report export in real headless Chromium: opened as a downloaded file, it
loads nothing from anywhere, runs nothing, and shows the bias checks and expert versus
crowd with every figure drawn at a legible size."""

from __future__ import annotations

import pytest

from annotation.models import TaskMode
from exports.services import report_render
from tests.analysis.leaderboard_samples import make_task, stored_report
from tests.browser_support import ARTIFACTS
from tests.exports.report_reading import simulated_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# Bias: a forest per check (6), the mixed model's interaction, hits and false alarms by
# tone, first-position wins. Expert vs crowd: crowd size, annotator accuracy,
# under-reporting.
BIAS_FIGURES, VERSUS_FIGURES = 9, 3


def test_the_html_export_shows_bias_and_expert_vs_crowd_figures(browser, project_roles, tmp_path):
    task = make_task(project_roles, mode=TaskMode.SINGLE, slug="tone")
    report = stored_report(project_roles.project, task=task, sections=simulated_report())
    path = tmp_path / "report.html"
    path.write_bytes(report_render(report=report, fmt="html")[2])

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())

    assert requests == [path.as_uri()]  # self-contained: nothing else is fetched
    assert errors == [] and dialogs == []
    for section, expected in (("#bias", BIAS_FIGURES), ("#expert-vs-crowd", VERSUS_FIGURES)):
        figures = page.locator(f"{section} svg.chart")
        assert figures.count() == expected, section
        for index in range(expected):
            figure = figures.nth(index)
            figure.scroll_into_view_if_needed()
            box = figure.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 60, (section, index)
            # Every figure says what its axes and marks are (labels, not just ticks).
            assert figure.locator("text").count() >= 5, (section, index)
    # Wide tables scroll inside their box; the page itself never scrolls sideways.
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert page.locator("#bias-error_detection_by_tone table").count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    for section in ("bias-tone_premium_paired", "bias-error_detection_by_tone", "versus-indices"):
        page.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"export-{section}.png"))
    context.close()
