from __future__ import annotations

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from guidelines.models import GuidelineAcknowledgement, QuizAttempt, VersionStatus
from guidelines.services import guideline_version_acknowledge
from tests.guidelines.conftest import KEY_SECRET, rubric

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name, version=None, **extra):
    if version is None:
        return reverse(name, args=["alpha", *extra.values()])
    return reverse(name, args=["alpha", version.guideline_id, version.number])


def edit_data(**overrides):
    data = {
        "prose": "# Title\n\nRead **carefully**.",
        "rubric_format": "yaml",
        "rubric_text": yaml.safe_dump(rubric()),
        "examples_text": "",
        "quiz_text": "",
        "changelog": "",
    }
    return data | overrides


@pytest.mark.parametrize(
    ("role", "expected"),
    [("lead", 200), ("researcher", 403), ("annotator", 403), ("outsider", 403), (None, 302)],
)
def test_editor_pages_are_for_leads(project_roles, draft, role, expected):
    client = as_user(getattr(project_roles, role) if role else None)
    for name in ("guideline-edit", "guideline-publish"):
        assert client.get(url(name, draft)).status_code == expected, name


@pytest.mark.parametrize(
    ("role", "expected"),
    [("lead", 200), ("researcher", 200), ("annotator", 403), ("outsider", 403), (None, 302)],
)
def test_history_version_and_diff_pages(project_roles, published_quiz, role, expected):
    client = as_user(getattr(project_roles, role) if role else None)
    gid = published_quiz.guideline_id
    for address in (
        url("guideline-detail", gid=gid),
        url("guideline-version", published_quiz),
        url("guideline-diff", gid=gid) + "?a=1&b=1",
        reverse("guideline-rubric-export", args=["alpha", gid, 1, "yaml"]),
    ):
        response = client.get(address)
        assert response.status_code == expected, address


def test_list_page_by_role(project_roles, published):
    lead_page = as_user(project_roles.lead).get(url("guideline-list"))
    assert b"New guideline" in lead_page.content and b"Rating" in lead_page.content
    researcher_page = as_user(project_roles.researcher).get(url("guideline-list"))
    assert b"New guideline" not in researcher_page.content
    annotator_page = as_user(project_roles.annotator).get(url("guideline-list"))
    assert url("guideline-read", published).encode() in annotator_page.content
    assert as_user(project_roles.outsider).get(url("guideline-list")).status_code == 403
    refused = as_user(project_roles.researcher).post(url("guideline-list"), {"name": "X"})
    assert refused.status_code == 403


def test_create_from_list_page_opens_editor(project_roles):
    response = as_user(project_roles.lead).post(
        url("guideline-list"), {"name": "Pairs", "mode": "pairwise"}
    )
    assert response.status_code == 302 and response["Location"].endswith("/v/1/edit/")


def test_live_preview_is_a_partial(project_roles, draft):
    client = as_user(project_roles.lead)
    response = client.post(url("guideline-edit", draft), edit_data(preview="1"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="gl-preview"' in html
    assert "<strong>carefully</strong>" in html
    assert 'name="preview-quality.A"' in html and "Useless" in html
    draft.refresh_from_db()
    assert draft.prose != "# Title\n\nRead **carefully**."  # preview saves nothing


def test_preview_lists_every_rubric_error(project_roles, draft):
    bad = rubric()
    bad[0]["max"] = 1
    bad[2]["options"] = []
    response = as_user(project_roles.lead).post(
        url("guideline-edit", draft),
        edit_data(rubric_text=yaml.safe_dump(bad), preview="1"),
        **HTMX,
    )
    html = response.content.decode()
    assert "question 1 (quality)" in html and "<code>max</code>" in html
    assert "question 3 (topic)" in html and "<code>options</code>" in html


def test_preview_escapes_hostile_prose(project_roles, draft):
    response = as_user(project_roles.lead).post(
        url("guideline-edit", draft),
        edit_data(prose="<script>alert(1)</script> [x](javascript:alert(1))", preview="1"),
        **HTMX,
    )
    assert b"<script>alert" not in response.content
    assert b'href="javascript' not in response.content


def test_save_draft_and_refuse_invalid(project_roles, draft):
    client = as_user(project_roles.lead)
    saved = client.post(url("guideline-edit", draft), edit_data(changelog="c"))
    assert saved.status_code == 302
    draft.refresh_from_db()
    assert draft.prose.startswith("# Title") and draft.changelog == "c"
    bad = client.post(url("guideline-edit", draft), edit_data(rubric_text="- key: Bad Key\n"))
    assert bad.status_code == 400 and b"Not saved" in bad.content
    unparsable = client.post(url("guideline-edit", draft), edit_data(rubric_text="- [oops"))
    assert unparsable.status_code == 400 and b"Not valid YAML" in unparsable.content
    json_rubric = client.post(
        url("guideline-edit", draft), edit_data(rubric_format="json", rubric_text="[]")
    )
    assert json_rubric.status_code == 302


def test_publish_confirm_then_publish_then_revise(project_roles, draft):
    client = as_user(project_roles.lead)
    confirm = client.get(url("guideline-publish", draft))
    assert b"can never change" in confirm.content
    assert client.post(url("guideline-publish", draft), {"changelog": ""}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED
    # Editing a published version sends the lead back to the history page.
    assert client.get(url("guideline-edit", draft)).status_code == 302
    revise = client.post(url("guideline-revise", gid=draft.guideline_id))
    assert revise.status_code == 302 and revise["Location"].endswith("/v/2/edit/")
    v2 = draft.guideline.versions.get(number=2)
    client.post(url("guideline-edit", v2), edit_data(prose="# Title\n\nNew rule."))
    refused = client.post(url("guideline-publish", v2), {"changelog": ""})
    assert refused.status_code == 400 and b"Say what changed" in refused.content
    confirm = client.get(url("guideline-publish", v2))
    assert b"New rule." in confirm.content  # the diff against v1 is on the confirmation page
    client.post(url("guideline-publish", v2), {"changelog": "New rule"})
    history = client.get(url("guideline-detail", gid=draft.guideline_id)).content.decode()
    assert "New rule" in history and history.count("Published</span>") == 2


def test_diff_page_and_htmx_partial(project_roles, published):
    client = as_user(project_roles.lead)
    client.post(url("guideline-revise", gid=published.guideline_id))
    v2 = published.guideline.versions.get(number=2)
    changed = rubric()
    changed.append({"key": "extra", "label": "Extra question", "type": "binary"})
    client.post(url("guideline-edit", v2), edit_data(rubric_text=yaml.safe_dump(changed)))
    page = client.get(url("guideline-diff", gid=published.guideline_id) + "?a=1&b=2")
    assert b"<html" in page.content and b"Added question" in page.content
    partial = client.get(url("guideline-diff", gid=published.guideline_id) + "?a=1&b=2", **HTMX)
    assert b"<html" not in partial.content and b'id="gl-diff"' in partial.content
    assert b"extra" in partial.content


def test_annotator_reads_acknowledges_and_passes_quiz(project_roles, published_quiz):
    client = as_user(project_roles.annotator)
    page = client.get(url("guideline-read", published_quiz))
    assert page.status_code == 200 and b"Acknowledge" in page.content
    assert KEY_SECRET.encode() not in page.content
    ack = client.post(url("guideline-acknowledge", published_quiz), **HTMX)
    assert (
        ack.status_code == 200
        and b"<html" not in ack.content
        and b"You acknowledged" in ack.content
    )
    assert GuidelineAcknowledgement.objects.filter(user=project_roles.annotator).exists()
    answers = {
        "quiz-item1-has_error.A": "true",
        "quiz-item1-topic.A": "zzgeographyzz",
        "quiz-item2-has_error.A": "false",
        "quiz-item2-quality.A": "5",
    }
    result = client.post(url("guideline-quiz", published_quiz), answers, **HTMX)
    assert result.status_code == 200 and b"passed" in result.content
    assert b'id="gl-quiz"' in result.content and b"<html" not in result.content
    assert KEY_SECRET.encode() not in result.content
    attempt = QuizAttempt.objects.get()
    assert attempt.passed and attempt.answers["item2"] == {
        "has_error": {"A": False},
        "quality": {"A": 5},
    }


def test_failed_quiz_page_never_shows_the_key(project_roles, published_quiz):
    guideline_version_acknowledge(actor=project_roles.annotator, version=published_quiz)
    client = as_user(project_roles.annotator)
    answers = {"quiz-item1-has_error.A": "false", "quiz-item1-topic.A": "science"}
    result = client.post(url("guideline-quiz", published_quiz), answers, **HTMX)
    assert b"not passed" in result.content
    # zzgeographyzz is an option value, so it appears as a choice, but never as "the answer".
    assert KEY_SECRET.encode() not in result.content
    assert b"correct" not in result.content.lower()


def test_annotator_cannot_read_drafts_or_other_projects(project_roles, draft):
    assert as_user(project_roles.annotator).get(url("guideline-read", draft)).status_code == 403
    assert as_user(project_roles.outsider).get(url("guideline-read", draft)).status_code == 403
    response = as_user(project_roles.outsider).post(url("guideline-acknowledge", draft))
    assert response.status_code == 403


def test_pages_link_their_stylesheet_not_inline_styles(project_roles, published):
    html = as_user(project_roles.lead).get(url("guideline-version", published)).content.decode()
    assert "css/guidelines.css" in html
    assert "style=" not in html and "<script>" not in html


def test_preview_shows_parse_errors_as_a_swappable_partial(project_roles, draft):
    response = as_user(project_roles.lead).post(
        url("guideline-edit", draft),
        edit_data(rubric_text="- [oops", quiz_text="- not a mapping", preview="1"),
        **HTMX,
    )
    assert response.status_code == 200  # htmx swaps only 2xx responses
    html = response.content.decode()
    assert 'id="gl-preview"' in html and "Not valid YAML" in html
    assert "Expected a mapping" in html


def test_invalid_quiz_answers_are_reported_in_the_partial(project_roles, published_quiz):
    guideline_version_acknowledge(actor=project_roles.annotator, version=published_quiz)
    client = as_user(project_roles.annotator)
    response = client.post(
        url("guideline-quiz", published_quiz), {"quiz-item2-quality.A": "9"}, **HTMX
    )
    assert response.status_code == 200 and b"Some answers are not valid" in response.content
    assert b"item2.quality.A" in response.content
    assert not QuizAttempt.objects.exists()
    full = client.post(url("guideline-quiz", published_quiz), {"quiz-item2-quality.A": "9"})
    assert full.status_code == 400
