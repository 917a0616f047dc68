"""Who may export: leads and researchers of the project; never annotators or outsiders."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from django.test import Client

from exports.models import ExportJob
from exports.services import export_job_request, export_job_run
from tests.conftest import api_as


def _urls(annotated, job, report):
    slug = annotated.project.slug
    return {
        "page": f"/p/{slug}/exports/",
        "job_download": f"/p/{slug}/exports/{job.pk}/download/",
        "report_html": f"/p/{slug}/exports/reports/{report.pk}/html/",
        "api_list": f"/api/projects/{slug}/exports/",
        "api_job": f"/api/projects/{slug}/exports/{job.pk}/",
        "api_download": f"/api/projects/{slug}/exports/{job.pk}/download/",
        "api_stream": f"/api/projects/{slug}/exports/annotations/?task={annotated.task.slug}",
        "api_report": f"/api/projects/{slug}/exports/reports/{report.pk}/json/",
    }


@pytest.fixture
def done_job(annotated):
    job = export_job_request(
        actor=annotated.lead,
        project=annotated.project,
        kind="annotations",
        fmt="csv",
        task=annotated.task,
        enqueue=False,
    )
    return export_job_run(job_id=job.pk)


def _get(user, url):
    if url.startswith("/api/"):
        return api_as(user).get(url)
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def test_annotators_and_outsiders_reach_no_export(annotated, done_job, task_report):
    for name, url in _urls(annotated, done_job, task_report).items():
        for user in (annotated.annotator, annotated.outsider):
            assert _get(user, url).status_code == 403, (name, user)
        anonymous = _get(None, url).status_code
        assert anonymous in (302, 401, 403), name
    request = f"/api/projects/{annotated.project.slug}/exports/request/"
    body = {"kind": "annotations", "format": "csv", "task": annotated.task.slug}
    for user in (annotated.annotator, annotated.outsider):
        assert api_as(user).post(request, body, format="json").status_code == 403


def test_researchers_reach_every_export(annotated, done_job, task_report):
    for name, url in _urls(annotated, done_job, task_report).items():
        response = _get(annotated.researcher, url)
        assert response.status_code == 200, (name, response.status_code)


def test_api_request_poll_download(annotated, django_capture_on_commit_callbacks, eager_celery):
    client = api_as(annotated.researcher)
    slug = annotated.project.slug
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/projects/{slug}/exports/request/",
            {
                "kind": "annotations",
                "format": "parquet",
                "task": annotated.task.slug,
                "filters": {"pools": [annotated.scenario.pool.name]},
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    job = client.get(f"/api/projects/{slug}/exports/{response.json()['id']}/").json()
    assert job["status"] == "done" and job["download_url"]
    file = client.get(job["download_url"])
    frame = pd.read_parquet(io.BytesIO(b"".join(file.streaming_content)))
    assert len(frame) == job["row_count"]
    refused = client.post(
        f"/api/projects/{slug}/exports/request/",
        {
            "kind": "annotations",
            "format": "csv",
            "task": annotated.task.slug,
            "identity": "username",
        },
        format="json",
    )
    assert refused.status_code == 400 and "lead" in str(refused.json())


def test_api_streams_small_exports_and_reports(annotated, task_report):
    client = api_as(annotated.researcher)
    slug = annotated.project.slug
    response = client.get(
        f"/api/projects/{slug}/exports/annotations/?task={annotated.task.slug}&file_format=jsonl"
    )
    assert response.status_code == 200
    frame = pd.read_json(io.BytesIO(b"".join(response.streaming_content)), lines=True)
    assert len(frame) == annotated.submitted + annotated.skipped + annotated.flagged
    pdf = client.get(f"/api/projects/{slug}/exports/reports/{task_report.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_page_downloads_small_csv_and_queues_parquet(
    annotated, django_capture_on_commit_callbacks, eager_celery
):
    client = Client()
    client.force_login(annotated.researcher)
    url = f"/p/{annotated.project.slug}/exports/"
    page = client.get(url)
    assert page.status_code == 200 and b"Raw annotations" in page.content
    assert b"identity" not in page.content  # researchers get no real-identity option
    response = client.post(url, {"source": f"task:{annotated.task.slug}", "format": "csv"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert len(pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))) > 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"source": f"task:{annotated.task.slug}", "format": "parquet"})
    assert response.status_code == 302
    job = ExportJob.objects.get(format="parquet")
    assert job.status == "done"
    jobs = client.get(url, HTTP_HX_REQUEST="true")
    assert b"Export jobs" in jobs.content and b"<form" not in jobs.content
    assert f"/exports/{job.pk}/download/".encode() in jobs.content
    lead = Client()
    lead.force_login(annotated.lead)
    assert b"identity" in lead.get(url).content
