"""Analysis pages: role matrix, upload through the page, progress polling, charts, download."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analysis.charts import alpha_ci_chart, kappa_heatmap
from analysis.services import agreement_report_compute, agreement_report_request
from tests.conftest import api_as


def _client(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _report(project_roles, dataset, done=True):
    report = agreement_report_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 100},
        enqueue=False,
    )
    return agreement_report_compute(report_id=report.pk) if done else report


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
def test_role_matrix(project_roles, dataset, role, allowed):
    report = _report(project_roles, dataset)
    client = _client(getattr(project_roles, role) if role else None)
    base = "/p/alpha/analysis/"
    for url in [
        base,
        base + "datasets/import/",
        base + f"datasets/{dataset.pk}/",
        base + f"reports/{report.pk}/",
        base + f"reports/{report.pk}/report.json",
    ]:
        response = client.get(url)
        if allowed:
            assert response.status_code == 200, url
        elif role is None:
            assert response.status_code == 302 and response["Location"].startswith(
                "/accounts/login/"
            )
        else:
            assert response.status_code == 403, url
    data = {"n_bootstrap": 10, "seed": 0, "confidence_level": 0.95}
    response = client.post(base + f"datasets/{dataset.pk}/reports/", data)
    expected = (302,) if allowed else ((302,) if role is None else (403,))
    assert response.status_code in expected


def test_upload_through_the_page_with_htmx(project_roles, example_bytes):
    client = _client(project_roles.researcher)
    upload = SimpleUploadedFile("labels.csv", example_bytes)
    response = client.post(
        "/p/alpha/analysis/datasets/import/",
        {"name": "from prolific", "file": upload, "declarations": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="import-result">')
    assert "Imported dataset" in body and "435 answers" in body


def test_a_refused_upload_lists_every_error(project_roles):
    client = _client(project_roles.lead)
    text = b"# level score=interval\nunit,annotator,question,value\nu1,a,score,high\nu2,a,score,x\n"
    response = client.post(
        "/p/alpha/analysis/datasets/import/",
        {"name": "bad", "file": SimpleUploadedFile("bad.csv", text)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "nothing was written" in body
    assert "<td>3</td><td>value</td>" in body and "<td>4</td><td>value</td>" in body


def test_the_report_page_polls_while_running_then_shows_charts(project_roles, dataset):
    report = _report(project_roles, dataset, done=False)
    client = _client(project_roles.researcher)
    url = f"/p/alpha/analysis/reports/{report.pk}/"
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="report-body"')
    assert 'hx-trigger="every 1s"' in partial and "<progress" in partial
    agreement_report_compute(report_id=report.pk)
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in done
    assert done.count("<svg") >= 3  # CI bars, version trend, a kappa heatmap per question
    assert "Download JSON" in done and "Most contested units" in done
    assert "style=" not in done and "<script" not in done  # CSP: no inline styles or scripts


@pytest.mark.slow
def test_page_api_and_command_line_give_the_same_report(project_roles, dataset):
    from io import StringIO

    from django.core.management import call_command

    report = agreement_report_request(
        actor=project_roles.lead, project=project_roles.project, dataset=dataset, enqueue=False
    )
    report = agreement_report_compute(report_id=report.pk)
    page = _client(project_roles.researcher).get(
        f"/p/alpha/analysis/reports/{report.pk}/report.json"
    )
    assert page["Content-Disposition"].startswith("attachment")
    api = api_as(project_roles.researcher).get(f"/api/projects/alpha/reports/{report.pk}/json/")
    assert page.content == api.content
    out = StringIO()
    call_command(
        "agreement_report",
        "--dataset",
        "example",
        "--project",
        "alpha",
        "--format",
        "json",
        stdout=out,
    )
    cli = json.loads(out.getvalue())
    downloaded = json.loads(page.content)
    assert cli["report"] == downloaded["report"]
    assert cli["provenance"]["data_hash"] == downloaded["provenance"]["data_hash"]
    assert cli["provenance"]["report_id"] != downloaded["provenance"]["report_id"]
    # The report member is the stored bytes verbatim.
    assert page.content.endswith(b',"report":' + report.result_json.encode() + b"}")


def test_chart_labels_are_escaped():
    evil = '<script>alert("x")</script>'
    alpha = {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    report = {
        "parameters": {"thresholds": [0.667, 0.8]},
        "questions": {
            evil: {
                "status": "analysed",
                "level": "nominal",
                "overall": {
                    "krippendorff_alpha": alpha,
                    "cohen_kappa_pairs": {
                        "pairs": [{"a": evil, "b": "b&c", "kappa": 0.3, "n": 12}]
                    },
                },
                "breakdowns": {"pool": {"groups": {evil: {"krippendorff_alpha": alpha}}}},
            }
        },
    }
    for svg in (alpha_ci_chart(report), kappa_heatmap(report, evil)):
        assert svg is not None and "<script" not in svg and "&lt;script&gt;" in svg
        assert "style=" not in svg
