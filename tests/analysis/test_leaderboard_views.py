"""The leaderboard pages and their figures: role matrix, every figure and the table,
pool boards, reports without rankings, computing a report from the task page, escaping
of hostile system names, and the figures on their own with 2 and 20 systems."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import orjson
import pytest
from django.test import Client

from analysis.models import AgreementReport, ReportSource, ReportStatus
from analysis.ranking_charts import ranking_charts
from annotation.models import TaskMode
from tests.analysis.leaderboard_samples import (
    make_task,
    not_applicable_sections,
    ranking_sample,
    stored_report,
)

SYSTEMS = ["atlas", "borealis", "cirrus", "dune", "ember", "fjord"]
HOSTILE = "<script>alert(1)</script>"
FIGURE_KEYS = [
    "forest",
    "rank_intervals",
    "rank_probability_heatmap",
    "tau_histogram",
    "win_rate_heatmap",
    "battles_heatmap",
    "leave_one_out_bars",
    "weak_competitor_bars",
    "votes_needed_curve",
    "controlled_slope",
]
SVG_CLASSES = [
    "forest",
    "rank-intervals",
    "rank-probability",
    "tau-histogram",
    "win-rate",
    "battles",
    "leave-one-out",
    "weak-competitor",
    "votes-needed",
    "controlled-slope",
]


def _client(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def task(project_roles):
    return make_task(project_roles)


@pytest.fixture
def report(project_roles, task):
    return stored_report(project_roles.project, task=task, sections=ranking_sample(SYSTEMS))


def _urls(report, task):
    return [
        f"/p/alpha/analysis/reports/{report.pk}/leaderboard/",
        f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/",
    ]


# -- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("lead", True),
        ("researcher", True),
        ("annotator", False),
        ("outsider", False),
        (None, False),
    ],
)
def test_role_matrix(project_roles, report, task, role, allowed):
    client = _client(getattr(project_roles, role) if role else None)
    for url in _urls(report, task):
        response = client.get(url)
        if allowed:
            assert response.status_code == 200, url
        elif role is None:
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/")
        else:
            assert response.status_code == 403, url
    before = AgreementReport.objects.count()
    response = client.post(_urls(report, task)[1])
    if allowed:
        assert response.status_code == 302
    else:
        assert response.status_code in ((302,) if role is None else (403,))
        assert AgreementReport.objects.count() == before


def test_a_report_or_task_of_another_project_is_not_found(project_roles, report, task):
    other = stored_report(project_roles.other_project, sections=ranking_sample(SYSTEMS))
    client = _client(project_roles.researcher)
    assert client.get(f"/p/alpha/analysis/reports/{other.pk}/leaderboard/").status_code == 404
    assert client.get("/p/alpha/analysis/tasks/no-such-task/leaderboard/").status_code == 404
    # The outsider leads beta, but the alpha URL still refuses them outright.
    outsider = _client(project_roles.outsider)
    assert outsider.get(f"/p/alpha/analysis/reports/{report.pk}/leaderboard/").status_code == 403
    assert outsider.post(f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/").status_code == 403


# -- the page ----------------------------------------------------------------------------------


def _rows(body: str) -> list[str]:
    table = body.split('id="leaderboard-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'data-system="([^"]*)"', table)


@pytest.mark.parametrize("role", ["lead", "researcher"])
def test_the_page_shows_the_table_verdict_and_every_figure(project_roles, report, role):
    client = _client(getattr(project_roles, role))
    response = client.get(f"/p/alpha/analysis/reports/{report.pk}/leaderboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert _rows(body) == SYSTEMS
    for cls in SVG_CLASSES:
        assert f'class="chart {cls}"' in body, cls
    assert body.count("<svg") == len(SVG_CLASSES)
    assert 'id="verdict"' in body and "The ranking is stable." in body
    assert "every stability criterion met" in body
    assert "not separated, about 2,600 more votes needed" in body
    assert 'id="pool-agreement"' in body and "crowd and expert rankings 0.87 [0.47, 1.00]" in body
    assert "tone (assertive)" in body and 'id="covariates"' in body
    assert 'id="controlled-table"' in body
    assert "bootstrap replicates had no MLE" in body  # warnings
    assert f'href="/p/alpha/analysis/reports/{report.pk}/report.json"' in body
    assert f'href="/p/alpha/analysis/reports/{report.pk}/"' in body
    assert "tie-shaded" in body
    assert 'aria-current="page">Overall<' in body
    assert "<script" not in body.split("</head>", 1)[1]  # no inline scripts in the page body


def test_the_board_switcher_shows_each_pool_board(project_roles, report):
    client = _client(project_roles.researcher)
    url = f"/p/alpha/analysis/reports/{report.pk}/leaderboard/"
    overall = client.get(url).content.decode()
    assert 'href="?board=crowd"' in overall and 'href="?board=expert"' in overall
    crowd = client.get(url + "?board=crowd").content.decode()
    # The sample rotates each pool's order, so the crowd board starts with borealis.
    assert _rows(crowd) == SYSTEMS[1:] + SYSTEMS[:1]
    assert 'aria-current="page">crowd pool<' in crowd
    assert "The ranking is unstable." in crowd
    assert "(crowd pool)" in crowd  # the figures' titles name the board
    expert = client.get(url + "?board=expert").content.decode()
    assert _rows(expert) == SYSTEMS[2:] + SYSTEMS[:2]
    assert client.get(url + "?board=nobody").status_code == 404


def test_a_pool_board_that_could_not_be_computed_says_why(project_roles, task):
    sections = ranking_sample(SYSTEMS)
    reason = "fewer than two systems were compared in this pool"
    for part in ("rankings", "rank_stability"):
        sections[part]["leaderboards"]["crowd"] = {"status": "not_computed", "reason": reason}
    report = stored_report(project_roles.project, task=task, sections=sections)
    client = _client(project_roles.lead)
    body = client.get(f"/p/alpha/analysis/reports/{report.pk}/leaderboard/?board=crowd")
    assert body.status_code == 200
    assert reason in body.content.decode()
    assert "<svg" not in body.content.decode()


def test_a_report_without_pairwise_data_shows_the_reason(project_roles, task):
    report = stored_report(project_roles.project, task=task, sections=not_applicable_sections())
    client = _client(project_roles.researcher)
    body = client.get(f"/p/alpha/analysis/reports/{report.pk}/leaderboard/").content.decode()
    assert 'id="rankings-absent"' in body and "not applicable" in body
    assert "Rankings need pairwise-preference votes" in body
    assert "<svg" not in body and 'id="leaderboard-table"' not in body
    # And the report page offers no leaderboard link for it.
    page = client.get(f"/p/alpha/analysis/reports/{report.pk}/").content.decode()
    assert 'id="leaderboard-link"' not in page


def test_a_report_from_before_rankings_existed_says_so(project_roles, task):
    report = stored_report(project_roles.project, task=task, sections={})
    body = _client(project_roles.researcher).get(
        f"/p/alpha/analysis/reports/{report.pk}/leaderboard/"
    )
    assert body.status_code == 200
    assert "computed before rankings were part of the report" in body.content.decode()


def test_the_report_page_and_task_page_link_to_the_leaderboard(project_roles, report, task):
    client = _client(project_roles.lead)
    page = client.get(f"/p/alpha/analysis/reports/{report.pk}/").content.decode()
    assert f'href="/p/alpha/analysis/reports/{report.pk}/leaderboard/"' in page
    detail = client.get(f"/p/alpha/tasks/{task.pk}/").content.decode()
    assert f'href="/p/alpha/analysis/tasks/{task.slug}/leaderboard/">Leaderboard</a>' in detail


def test_hostile_system_names_are_escaped_in_the_page_and_the_figures(project_roles, task):
    names = ["atlas", HOSTILE, 'quote"and&amp']
    report = stored_report(project_roles.project, task=task, sections=ranking_sample(names))
    client = _client(project_roles.researcher)
    for board in ("overall", "crowd"):
        response = client.get(f"/p/alpha/analysis/reports/{report.pk}/leaderboard/?board={board}")
        body = response.content.decode()
        assert HOSTILE not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert 'quote"and' not in body
        for svg in re.findall(r"<svg.*?</svg>", body, flags=re.S):
            ElementTree.fromstring(svg)  # well-formed: nothing broke out of a text node


# -- the task leaderboard ------------------------------------------------------------------------


def test_the_task_page_shows_the_latest_report_with_rankings(project_roles, task):
    older = stored_report(project_roles.project, task=task, sections=ranking_sample(SYSTEMS))
    stored_report(project_roles.project, task=task, sections=not_applicable_sections())
    other_task = make_task(project_roles, slug="other")
    stored_report(project_roles.project, task=other_task, sections=ranking_sample(["x", "y"]))
    body = _client(project_roles.researcher).get(
        f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/"
    )
    text = body.content.decode()
    assert _rows(text) == SYSTEMS
    assert f'href="/p/alpha/analysis/reports/{older.pk}/"' in text
    assert 'id="newer-report"' in text and "Rankings need pairwise-preference votes" in text
    assert 'id="compute-report"' in text  # a new report can be asked for from here too


def test_the_task_page_without_a_report_offers_to_compute_one(
    project_roles, task, django_capture_on_commit_callbacks
):
    client = _client(project_roles.researcher)
    url = f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/"
    body = client.get(url).content.decode()
    assert 'id="no-leaderboard"' in body and "No agreement report has been computed" in body
    assert f'<form method="post" action="{url}">' in body and 'id="compute-report"' in body

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == url
    assert len(callbacks) == 1  # the computation is enqueued after commit
    report = AgreementReport.objects.get(source_ref=task.slug)
    assert report.status == ReportStatus.QUEUED and report.source_kind == ReportSource.TASK
    assert report.created_by == project_roles.researcher

    # The page now follows the computation instead of offering the button again.
    body = client.get(url).content.decode()
    assert 'id="leaderboard-pending"' in body and f'hx-get="{url}"' in body
    assert 'id="compute-report"' not in body
    poll = client.get(url, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and poll.content.decode().lstrip().startswith(
        '<div id="leaderboard-pending"'
    )
    # Once done, the poll asks htmx to reload the page, which then shows the board.
    report.status = ReportStatus.DONE
    report.result_json = orjson.dumps(
        {"questions": {}, **ranking_sample(SYSTEMS)}, option=orjson.OPT_SORT_KEYS
    ).decode()
    report.save()
    poll = client.get(url, HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true"
    assert _rows(client.get(url).content.decode()) == SYSTEMS


def test_the_htmx_post_redirects_the_client(
    project_roles, task, django_capture_on_commit_callbacks
):
    url = f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/"
    with django_capture_on_commit_callbacks(execute=False):
        response = _client(project_roles.lead).post(url, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == url


def test_the_task_page_explains_a_failed_or_rankless_latest_report(project_roles, task):
    client = _client(project_roles.lead)
    url = f"/p/alpha/analysis/tasks/{task.slug}/leaderboard/"
    stored_report(project_roles.project, task=task, sections=not_applicable_sections())
    assert "Rankings need pairwise-preference votes" in client.get(url).content.decode()
    failed = stored_report(project_roles.project, task=task, status=ReportStatus.FAILED)
    failed.error = "The computation took longer than the time limit."
    failed.save()
    body = client.get(url).content.decode()
    assert "failed: The computation took longer than the time limit." in body
    assert 'id="compute-report"' in body


def test_a_task_that_is_not_pairwise_gets_no_compute_button(project_roles):
    single = make_task(project_roles, mode=TaskMode.SINGLE, slug="ratings")
    body = (
        _client(project_roles.lead)
        .get(f"/p/alpha/analysis/tasks/{single.slug}/leaderboard/")
        .content.decode()
    )
    assert "not pairwise preferences" in body and 'id="compute-report"' not in body


def test_the_report_leaderboard_polls_while_the_report_runs(project_roles, task):
    report = stored_report(project_roles.project, task=task, status=ReportStatus.RUNNING)
    client = _client(project_roles.researcher)
    url = f"/p/alpha/analysis/reports/{report.pk}/leaderboard/"
    assert 'id="leaderboard-pending"' in client.get(url).content.decode()
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200


# -- the real pipeline -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_computed_task_report_renders_its_leaderboard(db):
    """Votes through the real services, the report through the real job: the page
    reads what the metrics actually write, not only the hand-built sample."""
    from analysis.services import agreement_report_compute, agreement_report_request
    from tests.analysis.test_task_reports import annotate_everything
    from tests.annotation.conftest import build_scenario

    scenario = build_scenario(mode="pairwise", n_prompts=8, n_systems=3, k=3, n_annotators=3)
    strength = {s.name: i for i, s in enumerate(scenario.systems)}
    system_of_output = {o.pk: o.system.name for o in scenario.outputs}

    def answer(annotator, assignment, shown):
        first, second = (system_of_output[pk] for pk in shown)
        if assignment.unit_id % 5 == 0:  # some upsets, so no system always wins
            first, second = second, first
        letter = "A" if strength[first] < strength[second] else "B"
        return {"preference": {"choice": letter}, "quality": {"A": 3, "B": 4}}

    annotate_everything(scenario, answer)
    report = agreement_report_request(
        actor=scenario.lead,
        project=scenario.project,
        task=scenario.task,
        parameters={"n_bootstrap": 30},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == ReportStatus.DONE, report.error
    result = orjson.loads(report.result_json)
    assert result["rankings"]["status"] == "computed", result["rankings"]
    client = _client(scenario.lead)
    response = client.get(
        f"/p/{scenario.project.slug}/analysis/tasks/{scenario.task.slug}/leaderboard/"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert sorted(_rows(body)) == sorted(s.name for s in scenario.systems)
    assert 'class="chart forest"' in body and 'class="chart win-rate"' in body
    for svg in re.findall(r"<svg.*?</svg>", body, flags=re.S):
        ElementTree.fromstring(svg)


# -- the figures on their own ------------------------------------------------------------------


def _check_svg(svg: str) -> ElementTree.Element:
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find("{http://www.w3.org/2000/svg}title") is not None
    assert float(root.get("width")) > 50 and float(root.get("height")) > 30
    lowered = svg.lower()
    for forbidden in ("<script", "style=", "href", "onload", "onclick", "url("):
        assert forbidden not in lowered, forbidden
    return root


@pytest.mark.parametrize("n", [2, 20])
def test_every_figure_renders_for_2_and_20_systems(n):
    names = [f"system-{i:02d}" for i in range(n)]
    charts = ranking_charts(ranking_sample(names))
    assert set(charts) == set(FIGURE_KEYS)
    # Leave-one-out needs three systems (the metrics write an empty list for two).
    expected_missing = {"leave_one_out_bars"} if n == 2 else set()
    assert {k for k, v in charts.items() if v is None} == expected_missing
    for key, svg in charts.items():
        if svg is None:
            continue
        root = _check_svg(svg)
        text = "".join(root.itertext())
        if key in ("forest", "rank_intervals", "win_rate_heatmap", "controlled_slope"):
            assert all(name in text for name in names), key
        # Bounded size: a 20-system figure still fits a page.
        assert float(root.get("width")) < 1400 and float(root.get("height")) < 1200, key


def test_the_forest_plot_has_two_panels_only_with_a_controlled_ranking():
    with_control = ranking_charts(ranking_sample(SYSTEMS))
    assert "Style/tone-controlled" in with_control["forest"]
    without = ranking_charts(ranking_sample(SYSTEMS, controlled=False))
    assert "Style/tone-controlled" not in without["forest"]
    assert without["controlled_slope"] is None


def test_missing_parts_give_none_not_errors():
    assert set(ranking_charts({}).values()) == {None}
    assert set(ranking_charts(not_applicable_sections()).values()) == {None}
    assert set(ranking_charts(ranking_sample(SYSTEMS), "nobody").values()) == {None}
    sections = ranking_sample(SYSTEMS)
    del sections["rank_stability"]
    charts = ranking_charts(sections)
    stability_figures = {
        "tau_histogram",
        "leave_one_out_bars",
        "weak_competitor_bars",
        "votes_needed_curve",
    }
    assert {k for k, v in charts.items() if v is None} == stability_figures
    sections = ranking_sample(SYSTEMS)
    del sections["rankings"]["leaderboards"]["overall"]["pairs"]
    charts = ranking_charts(sections)
    assert charts["win_rate_heatmap"] is None and charts["battles_heatmap"] is None
    assert charts["forest"] is not None


def test_null_values_inside_the_data_are_drawn_as_absent():
    sections = ranking_sample(SYSTEMS)
    board = sections["rankings"]["leaderboards"]["overall"]
    board["systems"][1]["rating"] = None
    board["systems"][2]["ci"] = [None, None]
    board["systems"][3]["rank_interval"] = None
    board["systems"][0]["rank_probabilities"][0] = None
    board["pairs"]["battles"][0][1] = None
    stability = sections["rank_stability"]["leaderboards"]["overall"]
    stability["kendall_tau"]["mean"] = None
    stability["weak_competitor"]["results"][0]["gap_after"] = None
    stability["votes_needed"]["votes_for_tau_0_9"] = None
    charts = ranking_charts(sections)
    assert all(charts[key] for key in FIGURE_KEYS)
    assert "not estimated" in charts["forest"]
    assert "not computed" in charts["leave_one_out_bars"]  # the "ghost" row: tau null
    for svg in charts.values():
        _check_svg(svg)


def test_figure_labels_are_escaped():
    charts = ranking_charts(ranking_sample(["ok", HOSTILE, "x&y"]), "crowd")
    for key, svg in charts.items():
        assert HOSTILE not in svg, key
        assert "x&y" not in svg, key
        _check_svg(svg)
    assert "&lt;script&gt;" in charts["forest"]
