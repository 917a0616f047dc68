from __future__ import annotations

import copy

import pytest

from common.exceptions import AccessDenied, ApplicationError
from common.models import AuditEvent
from guidelines.models import GuidelineAcknowledgement, QuizAttempt, VersionStatus
from guidelines.services import (
    GuidelineInvalid,
    guideline_create,
    guideline_version_acknowledge,
    guideline_version_create_draft,
    guideline_version_delete_draft,
    guideline_version_publish,
    guideline_version_update_draft,
    quiz_attempt_submit,
)
from tests.guidelines.conftest import QUIZ, QUIZ_RIGHT, QUIZ_WRONG, rubric

pytestmark = pytest.mark.django_db


def actions(project):
    return list(AuditEvent.objects.filter(project=project).values_list("action", flat=True))


def test_create_makes_draft_v1_and_audits(project_roles):
    guideline = guideline_create(
        actor=project_roles.lead, project=project_roles.project, name="G", rubric=rubric()
    )
    [version] = guideline.versions.all()
    assert (version.number, version.status) == (1, VersionStatus.DRAFT)
    event = AuditEvent.objects.get(action="guideline.create")
    assert event.actor == project_roles.lead and event.details["version_id"] == version.pk


def test_only_leads_write(project_roles, draft):
    for user in (project_roles.researcher, project_roles.annotator, project_roles.outsider):
        with pytest.raises(AccessDenied):
            guideline_create(actor=user, project=project_roles.project, name="X")
        with pytest.raises(AccessDenied):
            guideline_version_update_draft(actor=user, version=draft, prose="hack")
        with pytest.raises(AccessDenied):
            guideline_version_publish(actor=user, version=draft)


def test_duplicate_name_and_bad_mode_refused(project_roles, draft):
    with pytest.raises(ApplicationError, match="already exists"):
        guideline_create(actor=project_roles.lead, project=project_roles.project, name="Rating")
    with pytest.raises(ApplicationError, match="mode"):
        guideline_create(
            actor=project_roles.lead, project=project_roles.project, name="Y", mode="triple"
        )


def test_update_refuses_invalid_rubric_with_every_error(project_roles, draft):
    bad = rubric()
    bad[0]["max"] = 0
    bad[1]["key"] = "quality"
    bad[2]["options"] = []
    with pytest.raises(GuidelineInvalid) as exc:
        guideline_version_update_draft(actor=project_roles.lead, version=draft, rubric=bad)
    errors = exc.value.extra["errors"]
    assert {(e["question"], e["field"]) for e in errors} == {
        (0, "max"),
        (0, "anchors"),  # the anchor for 5 is now outside the scale
        (1, "key"),
        (2, "options"),
    }
    draft.refresh_from_db()
    assert draft.rubric == rubric()  # nothing saved


def test_update_validates_examples_and_quiz(project_roles, draft):
    bad_quiz = copy.deepcopy(QUIZ)
    bad_quiz["items"][0]["answers"] = {"quality": {"A": 42}}
    examples = [{"title": "", "prompt": "p", "outputs": ["o"], "answers": {}, "explanation": ""}]
    with pytest.raises(GuidelineInvalid) as exc:
        guideline_version_update_draft(
            actor=project_roles.lead, version=draft, quiz=bad_quiz, examples=examples
        )
    fields = {(e["section"], e.get("item"), e["field"]) for e in exc.value.extra["errors"]}
    assert ("quiz", 0, "answers.quality.A") in fields
    assert ("examples", 0, "title") in fields
    assert ("examples", 0, "answers.quality.A") in fields  # required, not answered


def test_update_and_publish_audited(project_roles, draft):
    guideline_version_update_draft(actor=project_roles.lead, version=draft, prose="New")
    version = guideline_version_publish(actor=project_roles.lead, version=draft)
    assert version.status == VersionStatus.PUBLISHED and version.published_at is not None
    assert version.published_by == project_roles.lead
    assert actions(project_roles.project)[:2] == [
        "guideline_version.publish",
        "guideline_version.update_draft",
    ]
    event = AuditEvent.objects.get(action="guideline_version.publish")
    assert event.guideline_version == version


def test_publish_requires_questions_and_changelog_after_v1(project_roles):
    guideline = guideline_create(actor=project_roles.lead, project=project_roles.project, name="E")
    with pytest.raises(GuidelineInvalid, match="cannot be published"):
        guideline_version_publish(actor=project_roles.lead, version=guideline.versions.get())
    v1 = guideline_version_update_draft(
        actor=project_roles.lead, version=guideline.versions.get(), rubric=rubric()
    )
    guideline_version_publish(actor=project_roles.lead, version=v1)
    v2 = guideline_version_create_draft(actor=project_roles.lead, guideline=guideline)
    with pytest.raises(GuidelineInvalid) as exc:
        guideline_version_publish(actor=project_roles.lead, version=v2)
    assert exc.value.extra["errors"][0]["field"] == "changelog"
    assert guideline_version_publish(actor=project_roles.lead, version=v2, changelog="Typos")


def test_revise_prefills_next_draft_and_is_idempotent(project_roles, published):
    guideline = published.guideline
    v2 = guideline_version_create_draft(actor=project_roles.lead, guideline=guideline)
    assert v2.number == 2 and v2.status == VersionStatus.DRAFT
    assert (v2.prose, v2.rubric) == (published.prose, published.rubric)
    assert v2.changelog == ""
    again = guideline_version_create_draft(actor=project_roles.lead, guideline=guideline)
    assert again.pk == v2.pk
    assert guideline.versions.count() == 2


def test_services_refuse_published_versions(project_roles, published):
    with pytest.raises(ApplicationError, match="published"):
        guideline_version_update_draft(actor=project_roles.lead, version=published, prose="x")
    with pytest.raises(ApplicationError, match="published"):
        guideline_version_publish(actor=project_roles.lead, version=published)
    with pytest.raises(ApplicationError, match="published"):
        guideline_version_delete_draft(actor=project_roles.lead, version=published)


def test_delete_draft(project_roles, published):
    v2 = guideline_version_create_draft(actor=project_roles.lead, guideline=published.guideline)
    guideline_version_delete_draft(actor=project_roles.lead, version=v2)
    assert published.guideline.versions.count() == 1
    assert "guideline_version.delete_draft" in actions(project_roles.project)


def test_acknowledge_is_idempotent_and_audited(project_roles, published):
    first = guideline_version_acknowledge(actor=project_roles.annotator, version=published)
    second = guideline_version_acknowledge(actor=project_roles.annotator, version=published)
    assert first.pk == second.pk and first.acknowledged_at is not None
    assert actions(project_roles.project).count("guideline_version.acknowledge") == 1


def test_cannot_acknowledge_draft_or_foreign_version(project_roles, draft):
    with pytest.raises(AccessDenied):
        guideline_version_acknowledge(actor=project_roles.annotator, version=draft)
    published = guideline_version_publish(actor=project_roles.lead, version=draft)
    with pytest.raises(AccessDenied):
        guideline_version_acknowledge(actor=project_roles.outsider, version=published)
    assert not GuidelineAcknowledgement.objects.exists()


def test_annotator_check_hook_narrows_who_may_acknowledge(project_roles, published):
    with pytest.raises(AccessDenied):
        guideline_version_acknowledge(
            actor=project_roles.annotator, version=published, annotator_check=lambda u, v: False
        )


def test_quiz_requires_acknowledgement_then_grades(project_roles, published_quiz):
    annotator = project_roles.annotator
    with pytest.raises(ApplicationError, match="Acknowledge"):
        quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_RIGHT)
    guideline_version_acknowledge(actor=annotator, version=published_quiz)
    failed = quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_WRONG)
    assert (failed.attempt, failed.score, failed.passed) == (1, 0.25, False)
    assert failed.answers == QUIZ_WRONG
    passed = quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_RIGHT)
    assert (passed.attempt, passed.score, passed.passed) == (2, 1.0, True)
    with pytest.raises(ApplicationError, match="already passed"):
        quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_RIGHT)
    event = AuditEvent.objects.filter(action="quiz_attempt.submit").first()
    assert event.details == {"attempt": 2, "score": 1.0, "passed": True}


def test_quiz_attempts_are_limited(project_roles, published_quiz):
    annotator = project_roles.annotator
    guideline_version_acknowledge(actor=annotator, version=published_quiz)
    for _ in range(2):  # QUIZ allows two attempts
        quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_WRONG)
    with pytest.raises(ApplicationError, match="No quiz attempts left"):
        quiz_attempt_submit(actor=annotator, version=published_quiz, answers=QUIZ_RIGHT)
    assert QuizAttempt.objects.count() == 2


def test_quiz_refuses_malformed_answers(project_roles, published_quiz):
    annotator = project_roles.annotator
    guideline_version_acknowledge(actor=annotator, version=published_quiz)
    with pytest.raises(ApplicationError) as exc:
        quiz_attempt_submit(
            actor=annotator,
            version=published_quiz,
            answers={"item1": {"quality": {"A": 99}}, "nope": {}},
        )
    assert set(exc.value.extra["errors"]) == {"item1.quality.A", "nope"}
    assert not QuizAttempt.objects.exists()


def test_quiz_item_may_not_repeat_a_worked_example(project_roles, draft):
    item = QUIZ["items"][0]
    example = {
        "title": "Same",
        "prompt": item["prompt"],
        "outputs": item["outputs"],
        "answers": {"quality": {"A": 1}, "has_error": {"A": True}},
        "explanation": "",
    }
    with pytest.raises(GuidelineInvalid) as exc:
        guideline_version_update_draft(
            actor=project_roles.lead, version=draft, examples=[example], quiz=copy.deepcopy(QUIZ)
        )
    assert exc.value.extra["errors"] == [
        {
            "section": "quiz",
            "item": 0,
            "field": "prompt",
            "message": "This item is also a worked example, which shows its answers.",
        }
    ]
