"""The three ways in for output files: API, management command, htmx page."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import Output
from common.models import AuditEvent
from tests.conftest import api_as

GOOD_ROWS = [
    {"prompt_id": "p1", "prompt": "Q1?", "system": "s1", "output": "A1"},
    {
        "prompt_id": "p1",
        "prompt": "Q1?",
        "system": "s2",
        "output": "A2",
        "metadata": {"tone": "hedged"},
    },
]
BAD_ROWS = [
    {"prompt_id": "p1", "prompt": "", "system": "s1"},
    {"prompt_id": "p2", "system": "s1", "output": 3},
]


def upload(rows: list[dict], name: str = "outputs.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join(json.dumps(r) for r in rows).encode())


def test_api_import_good_file(project_roles):
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/outputs/import/", {"file": upload(GOOD_ROWS)}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["outputs_created"] == 2
    listed = api_as(project_roles.researcher).get("/api/projects/alpha/outputs/").json()
    assert listed["count"] == 2
    assert {row["system"] for row in listed["results"]} == {"s1", "s2"}


def test_api_import_bad_file_lists_errors_by_line_and_field(project_roles):
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/outputs/import/", {"file": upload(BAD_ROWS)}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert {(e["line"], e["field"]) for e in body["errors"]} == {
        (1, "prompt"),
        (1, "output"),
        (2, "prompt"),
        (2, "output"),
    }
    assert body["error_count"] == 4
    assert Output.objects.count() == 0


def test_api_import_unknown_extension_asks_for_a_format(project_roles):
    response = api_as(project_roles.lead).post(
        "/api/projects/alpha/outputs/import/",
        {"file": upload(GOOD_ROWS, "x.txt")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "format" in response.json()


def test_command_imports_and_is_idempotent(project_roles, tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in GOOD_ROWS))
    out = io.StringIO()
    call_command(
        "import_outputs",
        str(path),
        "--project",
        "alpha",
        "--as-user",
        "lead-a",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "outputs_created 2" in out.getvalue()
    call_command(
        "import_outputs",
        str(path),
        "--project",
        "alpha",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert Output.objects.count() == 2
    assert AuditEvent.objects.filter(action="outputs.import", actor=project_roles.lead).count() == 1


def test_command_refuses_bad_file_with_nonzero_exit(project_roles, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in BAD_ROWS))
    err = io.StringIO()
    with pytest.raises(CommandError, match="4 error"):
        call_command(
            "import_outputs", str(path), "--project", "alpha", stdout=io.StringIO(), stderr=err
        )
    assert "line 2, output: Must be text" in err.getvalue()
    assert Output.objects.count() == 0


@pytest.mark.slow
def test_command_exit_status_is_nonzero_from_the_shell(project_roles, tmp_path):
    import os
    import subprocess
    import sys

    from django.db import connection

    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    )
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in BAD_ROWS))
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_outputs", str(path), "--project", "nope"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
        },
        check=False,
    )
    assert completed.returncode != 0
    assert "No project with slug 'nope'" in completed.stderr


def test_htmx_import_page_shows_result_fragment(project_roles):
    client = Client()
    client.force_login(project_roles.lead)
    page = client.get("/p/alpha/outputs/import/")
    assert page.status_code == 200 and b'hx-post="/p/alpha/outputs/import/"' in page.content
    response = client.post(
        "/p/alpha/outputs/import/", {"file": upload(BAD_ROWS)}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="import-result">')
    assert "4 error(s)" in html and "Must not be empty." in html
    response = client.post(
        "/p/alpha/outputs/import/", {"file": upload(GOOD_ROWS)}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "2 new outputs" in response.content.decode()


def test_membership_change_is_audited_and_readable_by_leads_only(project_roles):
    from common.models import ProjectMembership

    # lead-b may be added directly because lead-a also leads lead-b's project.
    ProjectMembership.objects.create(
        project=project_roles.other_project, user=project_roles.lead, role="lead"
    )
    lead = api_as(project_roles.lead)
    response = lead.post(
        "/api/projects/alpha/members/", {"username": "lead-b", "role": "researcher"}
    )
    assert response.status_code == 200
    actions = [event["action"] for event in lead.get("/api/projects/alpha/audit/").json()]
    assert actions[0] == "membership.add"
    assert api_as(project_roles.researcher).get("/api/projects/alpha/audit/").status_code == 403


def test_audit_page_lists_events_for_leads(project_roles):
    api_as(project_roles.lead).post(
        "/api/projects/alpha/outputs/import/", {"file": upload(GOOD_ROWS)}, format="multipart"
    )
    client = Client()
    client.force_login(project_roles.lead)
    assert b"outputs.import" in client.get("/p/alpha/audit/").content
