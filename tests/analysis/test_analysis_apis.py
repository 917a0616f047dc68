"""The analysis API: role matrix on every endpoint, import, report request and JSON."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.services import agreement_report_compute, agreement_report_request
from tests.conftest import api_as


def _report(project_roles, dataset, done=True):
    report = agreement_report_request(
        actor=project_roles.lead,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 100},
        enqueue=False,
    )
    return agreement_report_compute(report_id=report.pk) if done else report


def _urls(dataset, report):
    base = "/api/projects/alpha/"
    return [
        ("get", base + "datasets/"),
        ("get", base + f"datasets/{dataset.pk}/"),
        ("get", base + "reports/"),
        ("get", base + f"reports/{report.pk}/"),
        ("get", base + f"reports/{report.pk}/json/"),
        ("post", base + "datasets/import/"),
        ("post", base + "reports/request/"),
    ]


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
    client = api_as(getattr(project_roles, role) if role else None)
    for method, url in _urls(dataset, report):
        fmt = None if method == "get" else ("multipart" if "import" in url else "json")
        response = getattr(client, method)(url, {}, format=fmt)
        if allowed:
            # Reads succeed; writes with an empty body fail validation, not access.
            assert response.status_code in ((200,) if method == "get" else (400,)), (url, response)
        else:
            assert response.status_code in (401, 403), (url, response.status_code)


def test_ids_of_other_projects_are_not_found(project_roles, dataset):
    report = _report(project_roles, dataset, done=False)
    client = api_as(project_roles.outsider)
    assert client.get(f"/api/projects/beta/datasets/{dataset.pk}/").status_code == 404
    assert client.get(f"/api/projects/beta/reports/{report.pk}/json/").status_code == 404


def test_upload_a_csv_through_the_api(project_roles, example_bytes):
    upload = SimpleUploadedFile("labels.csv", example_bytes, content_type="text/csv")
    response = api_as(project_roles.researcher).post(
        "/api/projects/alpha/datasets/import/",
        {"name": "crowd run", "file": upload, "declarations": "level minutes=interval"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["row_count"] == 435 and body["questions"]["minutes"]["level"] == "interval"


def test_a_refused_upload_lists_errors_by_line_and_field(project_roles):
    text = b"# level score=interval\nunit,annotator,question,value\nu1,a,score,high\nu1,a,score,2\n"
    upload = SimpleUploadedFile("bad.csv", text)
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/datasets/import/", {"name": "bad", "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 3, "field": "value", "message": "'high' is not a number (interval question)."}
    ]
    assert response.json()["error_count"] == 1


def test_a_duplicate_dataset_name_is_a_400(project_roles, dataset, example_bytes):
    upload = SimpleUploadedFile("again.csv", example_bytes)
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/datasets/import/",
        {"name": "example", "file": upload},
        format="multipart",
    )
    assert response.status_code == 400 and "already exists" in response.json()["detail"]


def test_request_then_fetch_the_report_json(
    project_roles, dataset, django_capture_on_commit_callbacks
):
    client = api_as(project_roles.researcher)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/api/projects/alpha/reports/request/",
            {"dataset_id": dataset.pk, "parameters": {"n_bootstrap": 100, "seed": 3}},
            format="json",
        )
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    report_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert client.get(f"/api/projects/alpha/reports/{report_id}/json/").status_code == 409
    agreement_report_compute(report_id=report_id)
    detail = client.get(f"/api/projects/alpha/reports/{report_id}/").json()
    assert detail["status"] == "done" and detail["provenance"]["parameters"]["seed"] == 3
    document = client.get(detail["json_url"])
    assert document.status_code == 200
    parsed = json.loads(document.content)
    assert parsed["provenance"]["data_hash"] == dataset.data_hash
    assert parsed["report"]["schema_version"]


def test_requesting_on_an_unknown_dataset_is_a_400(project_roles):
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/reports/request/", {"dataset_id": 999999}, format="json"
    )
    assert response.status_code == 400


def test_the_api_schema_builds_and_names_the_analysis_serializers(project_roles):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = set(schema["components"]["schemas"])
    assert {"DatasetImportInputRequest", "DatasetImportOutput", "ReportRequestOutput"} <= names
