from __future__ import annotations

import json

import pytest
import yaml

from common.models import AuditEvent
from guidelines.models import GuidelineAcknowledgement, QuizAttempt
from guidelines.services import guideline_version_acknowledge
from tests.conftest import api_as
from tests.guidelines.conftest import KEY_SECRET, QUIZ_RIGHT, rubric

pytestmark = pytest.mark.django_db

BASE = "/api/projects/alpha/guidelines/"


def client_for(project_roles, role):
    return api_as(None if role == "anonymous" else getattr(project_roles, role))


def vurl(version, suffix=""):
    return f"{BASE}{version.guideline_id}/versions/{version.number}/{suffix}"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("lead", 200), ("researcher", 200), ("annotator", 403), ("outsider", 403), ("anonymous", 403)],
)
def test_reader_endpoints_role_matrix(project_roles, published_quiz, role, expected):
    client = client_for(project_roles, role)
    gid = published_quiz.guideline_id
    for url in (
        BASE,
        f"{BASE}{gid}/",
        vurl(published_quiz),
        vurl(published_quiz, "rubric/"),
        f"{BASE}{gid}/diff/?from=1&to=1",
    ):
        response = client.get(url)
        assert response.status_code == expected, (url, response.status_code)
        if expected != 200:
            assert KEY_SECRET.encode() not in response.content


@pytest.mark.parametrize(
    ("role", "expected"),
    [("lead", 201), ("researcher", 403), ("annotator", 403), ("outsider", 403), ("anonymous", 403)],
)
def test_write_endpoints_role_matrix(project_roles, published, role, expected):
    client = client_for(project_roles, role)
    assert client.post(BASE, {"name": f"N-{role}"}, format="json").status_code == expected
    response = client.post(f"{BASE}{published.guideline_id}/versions/", format="json")
    assert response.status_code == expected
    if expected == 201:
        assert response.json()["number"] == 2 and response.json()["status"] == "draft"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("lead", 200), ("researcher", 200), ("annotator", 200), ("outsider", 403), ("anonymous", 403)],
)
def test_annotator_read_role_matrix_and_no_answer_key(
    project_roles, published_quiz, role, expected
):
    response = client_for(project_roles, role).get(vurl(published_quiz, "read/"))
    assert response.status_code == expected
    assert KEY_SECRET.encode() not in response.content
    if expected == 200:
        quiz = response.json()["quiz"]
        assert [set(item) for item in quiz["items"]] == [{"id", "prompt", "outputs"}] * 2
        assert "zzgeographyzz" not in json.dumps(quiz)


def test_annotator_cannot_read_drafts_or_full_versions(project_roles, draft):
    client = api_as(project_roles.annotator)
    assert client.get(vurl(draft, "read/")).status_code == 403
    assert client.get(vurl(draft)).status_code == 403
    assert client.post(vurl(draft, "acknowledge/")).status_code == 403


def test_full_flow_create_edit_publish_revise_diff(project_roles):
    client = api_as(project_roles.lead)
    created = client.post(BASE, {"name": "Flow", "mode": "single"}, format="json")
    assert created.status_code == 201
    gid = created.json()["id"]
    v1 = f"{BASE}{gid}/versions/1/"
    response = client.patch(v1, {"prose": "Hello **you**", "rubric": rubric()}, format="json")
    assert response.status_code == 200
    assert "<strong>you</strong>" in response.json()["prose_html"]
    assert client.post(v1 + "publish/", {}, format="json").status_code == 200
    assert client.post(f"{BASE}{gid}/versions/", format="json").status_code == 201
    v2 = f"{BASE}{gid}/versions/2/"
    changed = rubric()
    changed[2]["options"].append({"value": "history", "label": "History"})
    yaml_text = yaml.safe_dump(changed)
    assert (
        client.put(v2 + "rubric/", {"fmt": "yaml", "text": yaml_text}, format="json").status_code
        == 200
    )
    published = client.post(v2 + "publish/", {"changelog": "History topic"}, format="json")
    assert published.status_code == 200 and published.json()["status"] == "published"
    diff = client.get(f"{BASE}{gid}/diff/?from=1&to=2").json()
    [change] = diff["rubric"]["changed"]
    assert change["options_added"] == [{"value": "history", "label": "History"}]
    assert diff["changelogs"] == [{"number": 2, "changelog": "History topic"}]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "guideline.create",
        "guideline_version.publish",
        "guideline_version.update_draft",
    } <= actions


def test_invalid_rubric_lists_every_error(project_roles, draft):
    bad = rubric()
    bad[0]["min"] = 7
    bad[2]["options"] = [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]
    bad[3]["max_length"] = -1
    response = api_as(project_roles.lead).patch(vurl(draft), {"rubric": bad}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["question"], e["field"]) for e in errors} >= {
        (0, "max"),
        (2, "options"),
        (3, "max_length"),
    }


def test_rubric_export_import_round_trip(project_roles, draft):
    client = api_as(project_roles.lead)
    for fmt in ("yaml", "json"):
        exported = client.get(vurl(draft, f"rubric/?fmt={fmt}"))
        assert exported.status_code == 200 and exported["Content-Type"].startswith(
            f"application/{fmt}"
        )
        text = exported.content.decode()
        imported = client.put(vurl(draft, "rubric/"), {"fmt": fmt, "text": text}, format="json")
        assert imported.status_code == 200 and imported.json()["rubric"] == rubric()
    broken = client.put(vurl(draft, "rubric/"), {"fmt": "yaml", "text": "- [oops"}, format="json")
    assert broken.status_code == 400 and "text" in broken.json()


def test_acknowledge_quiz_and_clearance_via_api(project_roles, published_quiz):
    client = api_as(project_roles.annotator)
    clearance = client.get(vurl(published_quiz, "clearance/")).json()
    assert clearance == {
        "acknowledged": False,
        "quiz_required": True,
        "quiz_passed": None,
        "cleared": False,
        "reason": "not_acknowledged",
    }
    ack = client.post(vurl(published_quiz, "acknowledge/"))
    assert ack.status_code == 200 and ack.json()["number"] == 1
    assert GuidelineAcknowledgement.objects.filter(user=project_roles.annotator).exists()
    attempt = client.post(vurl(published_quiz, "quiz/"), {"answers": QUIZ_RIGHT}, format="json")
    assert attempt.status_code == 201
    assert set(attempt.json()) == {"attempt", "score", "passed", "submitted_at"}
    assert attempt.json()["passed"] is True
    assert KEY_SECRET.encode() not in attempt.content
    assert client.get(vurl(published_quiz, "clearance/")).json()["cleared"] is True
    stored = QuizAttempt.objects.get()
    assert stored.answers == QUIZ_RIGHT


def test_quiz_errors_do_not_reveal_the_key(project_roles, published_quiz):
    guideline_version_acknowledge(actor=project_roles.annotator, version=published_quiz)
    client = api_as(project_roles.annotator)
    response = client.post(
        vurl(published_quiz, "quiz/"),
        {"answers": {"item1": {"topic": {"A": "nope"}}}},
        format="json",
    )
    assert response.status_code == 400
    assert b"zzgeographyzz" not in response.content and KEY_SECRET.encode() not in response.content


def test_outsider_cannot_acknowledge(project_roles, published):
    response = api_as(project_roles.outsider).post(vurl(published, "acknowledge/"))
    assert response.status_code == 403
    assert not GuidelineAcknowledgement.objects.exists()


def test_openapi_schema_documents_the_endpoints(project_roles):
    response = api_as(project_roles.lead).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/projects/{slug}/guidelines/{guideline_id}/versions/{number}/publish/" in paths
    assert "/api/projects/{slug}/guidelines/{guideline_id}/versions/{number}/quiz/" in paths
