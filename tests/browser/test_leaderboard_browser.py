"""The leaderboard in real headless Chromium: a researcher reads the table and the
figures, switches to a pool's board and follows a report being computed; an annotator
is refused."""

from __future__ import annotations

import pytest

from analysis.models import ReportStatus
from tests.analysis.leaderboard_samples import make_task, ranking_sample, stored_report
from tests.browser_support import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<script>alert(1)</script>"
SYSTEMS = ["atlas", "borealis", "cirrus", "dune", "ember", HOSTILE]
N_FIGURES = 10


def _system_column(page) -> list[str]:
    cells = page.locator("#leaderboard-table tbody tr td:nth-child(4)")
    return [cells.nth(i).inner_text() for i in range(cells.count())]


def test_a_researcher_reads_the_leaderboard_and_switches_to_a_pool(page, project_roles):
    task = make_task(project_roles)
    stored_report(project_roles.project, task=task, sections=ranking_sample(SYSTEMS))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    log_in(page, "researcher-a")
    page.goto(f"/p/alpha/tasks/{task.pk}/")
    page.click("text=Leaderboard")
    page.wait_for_url(f"**/p/alpha/analysis/tasks/{task.slug}/leaderboard/")

    assert _system_column(page) == SYSTEMS  # the hostile name is shown as text
    assert page.locator("#verdict").inner_text().startswith("The ranking is stable.")
    figures = page.locator("#figures svg.chart")
    assert figures.count() == N_FIGURES
    for index in range(N_FIGURES):
        figure = figures.nth(index)
        figure.scroll_into_view_if_needed()
        assert figure.is_visible()
        box = figure.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 30, index
    # The forest plot drew a point per system in each of its two panels.
    assert page.locator("svg.forest circle").count() == 2 * len(SYSTEMS)
    screenshot(page, "leaderboard-overall")

    page.click("nav.board-switcher >> text=crowd pool")
    page.wait_for_url("**/leaderboard/?board=crowd")
    assert _system_column(page) == SYSTEMS[1:] + SYSTEMS[:1]
    assert page.locator('nav.board-switcher a[aria-current="page"]').inner_text() == "crowd pool"
    assert page.locator("#verdict").inner_text().startswith("The ranking is unstable.")
    assert page.locator("#figures svg.chart").count() == N_FIGURES
    screenshot(page, "leaderboard-crowd")

    assert dialogs == []  # nothing from the data ran as script
    assert page.console_errors == []  # no CSP violation, no script error


def test_the_page_follows_a_running_report_and_reloads_when_it_is_done(page, project_roles):
    task = make_task(project_roles)
    report = stored_report(project_roles.project, task=task, status=ReportStatus.RUNNING)
    log_in(page, "lead-a")
    page.goto(f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/")
    page.wait_for_selector("#leaderboard-pending progress")
    assert page.locator("#leaderboard-table").count() == 0

    # The job finishes: the next poll makes htmx reload the page, which shows the board.
    from analysis.services import canonical_json

    report.status = ReportStatus.DONE
    report.result_json = canonical_json({"questions": {}, **ranking_sample(SYSTEMS)}).decode()
    report.save()
    page.wait_for_selector("#leaderboard-table", timeout=10_000)
    assert page.locator("#leaderboard-pending").count() == 0
    assert _system_column(page) == SYSTEMS
    assert page.console_errors == []


def test_an_annotator_is_refused(page, project_roles):
    task = make_task(project_roles)
    report = stored_report(project_roles.project, task=task, sections=ranking_sample(SYSTEMS))
    log_in(page, "annotator-a")
    for url in (
        f"/p/alpha/analysis/reports/{report.pk}/leaderboard/",
        f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 403, url
        assert page.locator("#leaderboard-table").count() == 0
        assert page.locator("svg.chart").count() == 0
        assert "borealis" not in page.content()
    screenshot(page, "leaderboard-annotator-refused")
