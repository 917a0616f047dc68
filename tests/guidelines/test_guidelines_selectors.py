from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from django.test import override_settings

from common.exceptions import AccessDenied
from guidelines.selectors import (
    guideline_list,
    guideline_version_annotator_view,
    guideline_version_clearance,
    guideline_version_diff,
    guideline_versions_for_annotator,
)
from guidelines.services import (
    guideline_version_acknowledge,
    guideline_version_create_draft,
    guideline_version_publish,
    guideline_version_update_draft,
    quiz_attempt_submit,
)
from tests.guidelines.conftest import KEY_SECRET, QUIZ_RIGHT, QUIZ_WRONG

pytestmark = pytest.mark.django_db


def deny_all(actor, version) -> bool:
    return False


def test_clearance_without_quiz(project_roles, published):
    annotator = project_roles.annotator
    before = guideline_version_clearance(actor=annotator, version=published, require_quiz=True)
    assert (before.acknowledged, before.cleared, before.reason) == (
        False,
        False,
        "not_acknowledged",
    )
    assert before.quiz_required is False  # no quiz on this version
    guideline_version_acknowledge(actor=annotator, version=published)
    after = guideline_version_clearance(actor=annotator, version=published, require_quiz=True)
    assert (after.acknowledged, after.cleared, after.reason) == (True, True, "ok")


def test_clearance_with_quiz(project_roles, published_quiz):
    annotator, version = project_roles.annotator, published_quiz
    guideline_version_acknowledge(actor=annotator, version=version)
    c = guideline_version_clearance(actor=annotator, version=version, require_quiz=True)
    assert (c.quiz_required, c.quiz_passed, c.cleared, c.reason) == (
        True,
        None,
        False,
        "quiz_not_taken",
    )
    assert guideline_version_clearance(actor=annotator, version=version, require_quiz=False).cleared
    quiz_attempt_submit(actor=annotator, version=version, answers=QUIZ_WRONG)
    c = guideline_version_clearance(actor=annotator, version=version, require_quiz=True)
    assert (c.quiz_passed, c.cleared, c.reason) == (False, False, "quiz_failed")
    quiz_attempt_submit(actor=annotator, version=version, answers=QUIZ_RIGHT)
    c = guideline_version_clearance(actor=annotator, version=version, require_quiz=True)
    assert (c.quiz_passed, c.cleared, c.reason) == (True, True, "ok")


def test_moving_to_a_new_version_needs_a_new_acknowledgement(project_roles, published):
    annotator, lead = project_roles.annotator, project_roles.lead
    guideline_version_acknowledge(actor=annotator, version=published)
    v2 = guideline_version_create_draft(actor=lead, guideline=published.guideline)
    v2 = guideline_version_update_draft(
        actor=lead, version=v2, prose="# Rules\n\nBe *very* careful."
    )
    v2 = guideline_version_publish(actor=lead, version=v2, changelog="Stricter")
    c = guideline_version_clearance(actor=annotator, version=v2, require_quiz=True)
    assert (c.cleared, c.reason) == (False, "not_acknowledged")
    view = guideline_version_annotator_view(actor=annotator, version=v2)
    assert view.changes is not None and view.changes["prose_changed"]
    assert view.changes["changelogs"] == [{"number": 2, "changelog": "Stricter"}]
    assert view.changelog == "Stricter"


def test_annotator_view_never_contains_the_answer_key(project_roles, published_quiz):
    view = guideline_version_annotator_view(actor=project_roles.annotator, version=published_quiz)
    dumped = json.dumps(asdict(view), default=str)
    assert "zzgeographyzz" in json.dumps(published_quiz.rubric)  # it is an option label...
    assert '"answers"' not in json.dumps(view.quiz)  # ...but no item carries answers
    assert KEY_SECRET not in dumped
    assert [item["id"] for item in view.quiz["items"]] == ["item1", "item2"]
    assert set(view.quiz["items"][0]) == {"id", "prompt", "outputs"}
    assert "<em>careful</em>" in view.prose_html


def test_annotator_view_access(project_roles, draft):
    with pytest.raises(AccessDenied):  # drafts are never shown to annotators
        guideline_version_annotator_view(actor=project_roles.annotator, version=draft)
    published = guideline_version_publish(actor=project_roles.lead, version=draft)
    with pytest.raises(AccessDenied):
        guideline_version_annotator_view(actor=project_roles.outsider, version=published)
    with pytest.raises(AccessDenied):
        guideline_version_annotator_view(
            actor=project_roles.annotator, version=published, annotator_check=deny_all
        )
    assert guideline_version_annotator_view(actor=project_roles.researcher, version=published)
    view = guideline_version_annotator_view(actor=project_roles.annotator, version=published)
    assert view.number == 1 and view.acknowledged_at is None


@override_settings(GUIDELINES_ANNOTATOR_CHECK="tests.guidelines.test_guidelines_selectors.deny_all")
def test_annotator_check_setting_is_the_default_hook(project_roles, published):
    # The annotator role alone would pass (see test_annotator_view_access); the hook refuses.
    with pytest.raises(AccessDenied):
        guideline_version_annotator_view(actor=project_roles.annotator, version=published)
    assert (
        guideline_versions_for_annotator(
            actor=project_roles.annotator, project=project_roles.project
        )
        == []
    )


def test_versions_for_annotator_lists_latest_published(project_roles, published):
    assert guideline_versions_for_annotator(
        actor=project_roles.annotator, project=project_roles.project
    ) == [published]
    assert (
        guideline_versions_for_annotator(
            actor=project_roles.outsider, project=project_roles.project
        )
        == []
    )


def test_guideline_list_counts(project_roles, published):
    guideline_version_create_draft(actor=project_roles.lead, guideline=published.guideline)
    [row] = guideline_list(project=project_roles.project)
    assert (
        row.version_count,
        row.published_count,
        row.latest_number,
        row.latest_published_number,
    ) == (2, 1, 2, 1)


def test_diff_includes_prose_rubric_and_changelogs(project_roles, published):
    lead = project_roles.lead
    v2 = guideline_version_create_draft(actor=lead, guideline=published.guideline)
    rubric = [q for q in v2.rubric if q["key"] != "note"]
    v2 = guideline_version_update_draft(
        actor=lead, version=v2, prose="# Rules\n\nNew line.", rubric=rubric
    )
    v2 = guideline_version_publish(actor=lead, version=v2, changelog="Dropped note")
    diff = guideline_version_diff(old=published, new=v2)
    assert [q["key"] for q in diff["rubric"]["removed"]] == ["note"]
    kinds = [row.kind for row in diff["prose_rows"]]
    assert "replace" in kinds and kinds[0] == "equal"
    assert diff["changelogs"] == [{"number": 2, "changelog": "Dropped note"}]
