"""Writes for guidelines: authoring, publishing, acknowledgement and quizzes.

Published versions are immutable: every write here re-reads the row under a lock
and refuses unless it is still a draft, and the database trigger backs that up.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.exceptions import AccessDenied, ApplicationError
from common.models import Project, ProjectRole, User
from common.selectors import project_roles_for_user
from common.services import audit_record
from guidelines.models import (
    Guideline,
    GuidelineAcknowledgement,
    GuidelineMode,
    GuidelineVersion,
    PublishedVersionImmutable,
    QuizAttempt,
    VersionStatus,
)
from guidelines.quiz import (
    DEFAULT_MAX_ATTEMPTS,
    validate_examples,
    validate_quiz,
)
from guidelines.quiz import (
    quiz_grade as grade,
)
from guidelines.rubric import rubric_normalize, validate_answers, validate_rubric
from guidelines.selectors import AnnotatorCheck, actor_may_read_version

# Audit rows link `guideline_version` (a protecting foreign key) only for published
# versions; draft events name the draft as their target instead, so a discarded draft
# can still be deleted while its history stays in the log.


class GuidelineInvalid(ApplicationError):
    """The version's rubric, examples or quiz are invalid; `extra["errors"]` lists every
    problem as {"section", "question"/"item", "key", "field", "message"}."""


def _require_lead(*, actor: User, project: Project) -> None:
    if ProjectRole.LEAD not in project_roles_for_user(actor=actor, project=project):
        raise AccessDenied("Only a lead of this project can change its guidelines.")


def _lock_draft(version: GuidelineVersion) -> GuidelineVersion:
    locked = (
        GuidelineVersion.objects.select_for_update()
        .select_related("guideline__project")
        .get(pk=version.pk)
    )
    if locked.status != VersionStatus.DRAFT:
        raise PublishedVersionImmutable(
            f"Version {locked.number} is published and cannot change; create a new draft."
        )
    return locked


def guideline_version_errors(
    *, mode: str, rubric: Any, examples: Any, quiz: Any
) -> list[dict[str, Any]]:
    """Every problem in a version's content, rubric first, in one flat list."""
    errors: list[dict[str, Any]] = [
        {"section": "rubric", **e.as_dict()} for e in validate_rubric(rubric, mode=mode)
    ]
    if errors:
        # Examples and quiz are checked against the rubric; against a broken one
        # they would only produce noise.
        return errors
    errors += [e.as_dict() for e in validate_examples(examples, rubric, mode=mode)]
    errors += [e.as_dict() for e in validate_quiz(quiz, rubric, mode=mode)]
    # Examples are shown with their answers, so a quiz item that repeats one would
    # hand annotators its key.
    shown = (
        {
            (ex.get("prompt"), tuple(ex.get("outputs") or ()))
            for ex in examples
            if isinstance(ex, dict)
        }
        if isinstance(examples, list)
        else set()
    )
    items = quiz.get("items") if isinstance(quiz, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        if (
            isinstance(item, dict)
            and (item.get("prompt"), tuple(item.get("outputs") or ())) in shown
        ):
            errors.append(
                {
                    "section": "quiz",
                    "item": index,
                    "field": "prompt",
                    "message": "This item is also a worked example, which shows its answers.",
                }
            )
    return errors


def _raise_if_invalid(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise GuidelineInvalid(
            f"The guideline version has {len(errors)} problem(s).", extra={"errors": errors}
        )


@transaction.atomic
def guideline_create(
    *,
    actor: User,
    project: Project,
    name: str,
    mode: str = GuidelineMode.SINGLE,
    prose: str = "",
    rubric: list[dict] | None = None,
) -> Guideline:
    """A guideline with its first draft (version 1)."""
    _require_lead(actor=actor, project=project)
    if mode not in GuidelineMode.values:
        raise ApplicationError(f"Unknown mode '{mode}'.")
    name = name.strip()
    if not name:
        raise ApplicationError("Give the guideline a name.")
    if Guideline.objects.filter(project=project, name=name).exists():
        raise ApplicationError(f"A guideline named '{name}' already exists in this project.")
    rubric = rubric_normalize(rubric or [])
    _raise_if_invalid(guideline_version_errors(mode=mode, rubric=rubric, examples=[], quiz={}))
    guideline = Guideline.objects.create(project=project, name=name, mode=mode)
    version = GuidelineVersion.objects.create(
        guideline=guideline, number=1, prose=prose, rubric=rubric
    )
    audit_record(
        actor=actor,
        project=project,
        action="guideline.create",
        target=guideline,
        details={"name": name, "mode": mode, "version_id": version.pk},
    )
    return guideline


@transaction.atomic
def guideline_version_create_draft(*, actor: User, guideline: Guideline) -> GuidelineVersion:
    """The next draft, prefilled from the latest version; the existing draft if one is open."""
    _require_lead(actor=actor, project=guideline.project)
    # Locking the guideline serialises concurrent "revise" clicks.
    Guideline.objects.select_for_update().get(pk=guideline.pk)
    latest = GuidelineVersion.objects.filter(guideline=guideline).order_by("-number").first()
    if latest is not None and latest.status == VersionStatus.DRAFT:
        return latest
    version = GuidelineVersion.objects.create(
        guideline=guideline,
        number=(latest.number + 1) if latest else 1,
        prose=latest.prose if latest else "",
        rubric=latest.rubric if latest else [],
        examples=latest.examples if latest else [],
        quiz=latest.quiz if latest else {},
        changelog="",
    )
    audit_record(
        actor=actor,
        project=guideline.project,
        action="guideline_version.create_draft",
        target=version,
        details={"number": version.number, "from": latest.number if latest else None},
    )
    return version


@transaction.atomic
def guideline_version_update_draft(
    *,
    actor: User,
    version: GuidelineVersion,
    prose: str | None = None,
    rubric: list[dict] | None = None,
    examples: list[dict] | None = None,
    quiz: dict[str, Any] | None = None,
    changelog: str | None = None,
) -> GuidelineVersion:
    """Change a draft; arguments left as None keep their value, and quiz={} removes the
    quiz. The whole version is validated and refused with every problem listed."""
    _require_lead(actor=actor, project=version.guideline.project)
    version = _lock_draft(version)
    changes = {
        name: value
        for name, value in (
            ("prose", prose),
            ("rubric", rubric_normalize(rubric) if rubric is not None else None),
            ("examples", examples),
            ("quiz", quiz),
            ("changelog", changelog.strip() if changelog is not None else None),
        )
        if value is not None
    }
    if len(changes.get("changelog", "")) > 500:
        raise GuidelineInvalid(
            "The changelog is too long.",
            extra={
                "errors": [
                    {
                        "section": "changelog",
                        "field": "changelog",
                        "message": "At most 500 characters.",
                    }
                ]
            },
        )
    for name, value in changes.items():
        setattr(version, name, value)
    _raise_if_invalid(
        guideline_version_errors(
            mode=version.guideline.mode,
            rubric=version.rubric,
            examples=version.examples,
            quiz=version.quiz,
        )
    )
    version.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor,
        project=version.guideline.project,
        action="guideline_version.update_draft",
        target=version,
        details={"fields": sorted(changes)},
    )
    return version


@transaction.atomic
def guideline_version_publish(
    *, actor: User, version: GuidelineVersion, changelog: str | None = None
) -> GuidelineVersion:
    """Freeze a draft. From here on, the database refuses any change to it."""
    _require_lead(actor=actor, project=version.guideline.project)
    version = _lock_draft(version)
    if changelog is not None:
        version.changelog = changelog.strip()[:500]
    _raise_if_invalid(
        guideline_version_errors(
            mode=version.guideline.mode,
            rubric=version.rubric,
            examples=version.examples,
            quiz=version.quiz,
        )
    )
    problems = []
    if not version.rubric:
        problems.append(
            {
                "section": "rubric",
                "field": "rubric",
                "message": "Add at least one question before publishing.",
            }
        )
    if version.number > 1 and not version.changelog:
        problems.append(
            {
                "section": "changelog",
                "field": "changelog",
                "message": "Say what changed; annotators read this line.",
            }
        )
    if problems:
        raise GuidelineInvalid("The version cannot be published yet.", extra={"errors": problems})
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = actor
    version.save(
        update_fields=["status", "published_at", "published_by", "changelog", "updated_at"]
    )
    audit_record(
        actor=actor,
        project=version.guideline.project,
        action="guideline_version.publish",
        target=version,
        details={"number": version.number, "changelog": version.changelog},
        guideline_version=version,
    )
    return version


@transaction.atomic
def guideline_version_delete_draft(*, actor: User, version: GuidelineVersion) -> None:
    _require_lead(actor=actor, project=version.guideline.project)
    version = _lock_draft(version)
    audit_record(
        actor=actor,
        project=version.guideline.project,
        action="guideline_version.delete_draft",
        target=version,
        details={"guideline": version.guideline_id, "number": version.number},
    )
    version.delete()


@transaction.atomic
def guideline_version_acknowledge(
    *, actor: User, version: GuidelineVersion, annotator_check: AnnotatorCheck | None = None
) -> GuidelineAcknowledgement:
    """Record that `actor` read this version; a second call returns the first record."""
    if not actor_may_read_version(actor=actor, version=version, annotator_check=annotator_check):
        raise AccessDenied("You cannot read this guideline version.")
    existing = GuidelineAcknowledgement.objects.filter(version=version, user=actor).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            ack = GuidelineAcknowledgement.objects.create(version=version, user=actor)
    except IntegrityError:
        # A double click raced us to it; the first acknowledgement stands.
        return GuidelineAcknowledgement.objects.get(version=version, user=actor)
    audit_record(
        actor=actor,
        project=version.guideline.project,
        action="guideline_version.acknowledge",
        target=ack,
        guideline_version=version,
    )
    return ack


@transaction.atomic
def quiz_attempt_submit(
    *,
    actor: User,
    version: GuidelineVersion,
    answers: dict[str, Any],
    annotator_check: AnnotatorCheck | None = None,
) -> QuizAttempt:
    """Grade and store one attempt. `answers` is {quiz item id: answers in the
    validate_answers shape}. Attempts are limited, so the key cannot be found by trial."""
    if not actor_may_read_version(actor=actor, version=version, annotator_check=annotator_check):
        raise AccessDenied("You cannot read this guideline version.")
    if not version.has_quiz:
        raise ApplicationError("This version has no quiz.")
    # Locking the acknowledgement row serialises this annotator's concurrent submissions,
    # so two of them cannot both become attempt 1 or both slip under the limit.
    ack = (
        GuidelineAcknowledgement.objects.select_for_update()
        .filter(version=version, user=actor)
        .first()
    )
    if ack is None:
        raise ApplicationError("Acknowledge the guideline before taking its quiz.")
    if not isinstance(answers, dict):
        raise ApplicationError("Answers must map quiz item ids to answers.")
    items = {item["id"]: item for item in version.quiz["items"]}
    errors: dict[str, list[str]] = {}
    for item_id, item_answers in answers.items():
        if item_id not in items:
            errors[str(item_id)] = ["There is no such quiz item."]
            continue
        problems = validate_answers(
            version.rubric,
            item_answers,
            n_outputs=len(items[item_id]["outputs"]),
            partial=True,
        )
        errors.update({f"{item_id}.{field}": msgs for field, msgs in problems.items()})
    if errors:
        raise ApplicationError("Some answers are not valid.", extra={"errors": errors})
    previous = list(QuizAttempt.objects.filter(version=version, user=actor))
    if any(attempt.passed for attempt in previous):
        raise ApplicationError("You have already passed this quiz.")
    max_attempts = version.quiz.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if len(previous) >= max_attempts:
        raise ApplicationError("No quiz attempts left; ask a lead.")
    result = grade(version.quiz, version.rubric, answers)
    attempt = QuizAttempt.objects.create(
        version=version,
        user=actor,
        attempt=len(previous) + 1,
        answers=answers,
        score=result.score,
        passed=result.passed,
    )
    audit_record(
        actor=actor,
        project=version.guideline.project,
        action="quiz_attempt.submit",
        target=attempt,
        details={"attempt": attempt.attempt, "score": result.score, "passed": result.passed},
        guideline_version=version,
    )
    return attempt
