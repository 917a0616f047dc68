"""Reads of guidelines. Annotator-facing reads take `actor=` and never return answer keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils.module_loading import import_string

from common.exceptions import AccessDenied, NotFound
from common.models import Project, ProjectRole, User
from common.selectors import project_roles_for_user
from guidelines.diffing import DiffRow, prose_diff
from guidelines.markdown import render_markdown
from guidelines.models import (
    Guideline,
    GuidelineAcknowledgement,
    GuidelineVersion,
    QuizAttempt,
    VersionStatus,
)
from guidelines.quiz import DEFAULT_MAX_ATTEMPTS, quiz_for_annotator
from guidelines.rubric import rubric_diff

AnnotatorCheck = Callable[[User, GuidelineVersion], bool]


def project_annotator_check(actor: User, version: GuidelineVersion) -> bool:
    """The default rule: anyone with the annotator role in the version's project.

    The assignment engine narrows this to members of the task's pools by passing
    its own check as `annotator_check=`, or by naming one in the setting
    GUIDELINES_ANNOTATOR_CHECK (a dotted path), which the views and APIs then use.
    """
    roles = project_roles_for_user(actor=actor, project=version.guideline.project)
    return ProjectRole.ANNOTATOR in roles


def _resolve_check(check: AnnotatorCheck | None) -> AnnotatorCheck:
    if check is not None:
        return check
    path = getattr(settings, "GUIDELINES_ANNOTATOR_CHECK", None)
    return import_string(path) if path else project_annotator_check


def actor_may_read_version(
    *, actor: User, version: GuidelineVersion, annotator_check: AnnotatorCheck | None = None
) -> bool:
    """Leads and researchers read every published version; annotators those the check allows."""
    if version.status != VersionStatus.PUBLISHED:
        return False
    roles = project_roles_for_user(actor=actor, project=version.guideline.project)
    if roles & {ProjectRole.LEAD, ProjectRole.RESEARCHER}:
        return True
    return _resolve_check(annotator_check)(actor, version)


# ---- leads and researchers ----------------------------------------------------------


def guideline_list(*, project: Project) -> QuerySet[Guideline]:
    return (
        Guideline.objects.filter(project=project)
        .annotate(
            version_count=Count("versions"),
            published_count=Count("versions", filter=Q(versions__status=VersionStatus.PUBLISHED)),
            latest_number=Max("versions__number"),
            latest_published_number=Max(
                "versions__number", filter=Q(versions__status=VersionStatus.PUBLISHED)
            ),
        )
        .order_by("name")
    )


def guideline_get(*, project: Project, guideline_id: int) -> Guideline:
    guideline = Guideline.objects.filter(project=project, pk=guideline_id).first()
    if guideline is None:
        raise NotFound("No such guideline in this project.")
    return guideline


def guideline_versions(*, guideline: Guideline) -> QuerySet[GuidelineVersion]:
    return (
        GuidelineVersion.objects.filter(guideline=guideline)
        .select_related("published_by")
        .annotate(ack_count=Count("acknowledgements", distinct=True))
        .order_by("-number")
    )


def guideline_version_get(*, guideline: Guideline, number: int) -> GuidelineVersion:
    version = (
        GuidelineVersion.objects.filter(guideline=guideline, number=number)
        .select_related("guideline__project", "published_by")
        .first()
    )
    if version is None:
        raise NotFound("No such version.")
    return version


def guideline_version_latest_published(*, guideline: Guideline) -> GuidelineVersion | None:
    return (
        GuidelineVersion.objects.filter(guideline=guideline, status=VersionStatus.PUBLISHED)
        .select_related("guideline__project")
        .order_by("-number")
        .first()
    )


def guideline_version_diff(*, old: GuidelineVersion, new: GuidelineVersion) -> dict[str, Any]:
    """Prose and rubric differences plus the changelog lines of the versions in between.

    Never includes the quiz, so the same diff can be shown to annotators.
    """
    if old.guideline_id != new.guideline_id:
        raise ValueError("Both versions must belong to the same guideline.")
    low, high = sorted((old.number, new.number))
    changelogs = list(
        GuidelineVersion.objects.filter(
            guideline_id=new.guideline_id,
            number__gt=low,
            number__lte=high,
            status=VersionStatus.PUBLISHED,
        )
        .order_by("number")
        .values("number", "changelog")
    )
    rows: list[DiffRow] = prose_diff(old.prose, new.prose)
    return {
        "old_number": old.number,
        "new_number": new.number,
        "prose_rows": rows,
        "prose_changed": any(row.kind != "equal" for row in rows),
        "rubric": rubric_diff(old.rubric, new.rubric),
        "examples_changed": old.examples != new.examples,
        "changelogs": changelogs,
    }


# ---- annotators ---------------------------------------------------------------------


@dataclass(frozen=True)
class Clearance:
    """Whether `actor` may receive work under a version.

    `reason` is one of: "ok", "not_published", "not_acknowledged", "quiz_not_taken",
    "quiz_failed".
    """

    acknowledged: bool
    quiz_required: bool
    quiz_passed: bool | None
    cleared: bool
    reason: str


def guideline_version_clearance(
    *, actor: User, version: GuidelineVersion, require_quiz: bool
) -> Clearance:
    """Acknowledged, and passed the quiz when the pool or task requires one and the
    version has one. A version without a quiz cannot be failed, so require_quiz
    then asks for nothing more. Membership is the caller's check, not this one's."""
    acknowledged = GuidelineAcknowledgement.objects.filter(version=version, user=actor).exists()
    quiz_required = require_quiz and version.has_quiz
    quiz_passed: bool | None = None
    if version.has_quiz:
        attempts = QuizAttempt.objects.filter(version=version, user=actor)
        if attempts.exists():
            quiz_passed = attempts.filter(passed=True).exists()
    if version.status != VersionStatus.PUBLISHED:
        reason = "not_published"
    elif not acknowledged:
        reason = "not_acknowledged"
    elif quiz_required and quiz_passed is None:
        reason = "quiz_not_taken"
    elif quiz_required and not quiz_passed:
        reason = "quiz_failed"
    else:
        reason = "ok"
    return Clearance(
        acknowledged=acknowledged,
        quiz_required=quiz_required,
        quiz_passed=quiz_passed,
        cleared=reason == "ok",
        reason=reason,
    )


@dataclass
class AnnotatorView:
    """Everything an annotator may see of a version; built so no answer key fits in it."""

    guideline_id: int
    guideline_name: str
    mode: str
    number: int
    published_at: Any
    changelog: str
    prose_html: str
    rubric: list[dict]
    examples: list[dict]
    quiz: dict[str, Any]
    acknowledged_at: Any
    quiz_attempts_used: int
    quiz_attempts_left: int
    quiz_passed: bool | None
    last_score: float | None
    # The diff against the last version this annotator acknowledged, if any.
    changes: dict[str, Any] | None = field(default=None)


def guideline_version_annotator_view(
    *, actor: User, version: GuidelineVersion, annotator_check: AnnotatorCheck | None = None
) -> AnnotatorView:
    """What an annotator may see of a published version, or AccessDenied.

    Examples keep their answers (they are teaching material); the quiz keeps only
    prompts and responses. `annotator_check` narrows who counts as an annotator; see
    `project_annotator_check`.
    """
    if not actor_may_read_version(actor=actor, version=version, annotator_check=annotator_check):
        raise AccessDenied("You cannot read this guideline version.")
    ack = GuidelineAcknowledgement.objects.filter(version=version, user=actor).first()
    attempts = list(QuizAttempt.objects.filter(version=version, user=actor).order_by("attempt"))
    max_attempts = version.quiz.get("max_attempts", DEFAULT_MAX_ATTEMPTS) if version.has_quiz else 0
    previous = (
        GuidelineVersion.objects.filter(
            guideline_id=version.guideline_id,
            number__lt=version.number,
            acknowledgements__user=actor,
        )
        .order_by("-number")
        .first()
    )
    examples = [
        {**example, "prompt_html": render_markdown(example.get("prompt", ""))}
        for example in version.examples
    ]
    return AnnotatorView(
        guideline_id=version.guideline_id,
        guideline_name=version.guideline.name,
        mode=version.guideline.mode,
        number=version.number,
        published_at=version.published_at,
        changelog=version.changelog,
        prose_html=render_markdown(version.prose),
        rubric=[dict(q) for q in version.rubric],
        examples=examples,
        quiz=quiz_for_annotator(version.quiz),
        acknowledged_at=ack.acknowledged_at if ack else None,
        quiz_attempts_used=len(attempts),
        quiz_attempts_left=max(0, max_attempts - len(attempts)),
        quiz_passed=any(a.passed for a in attempts) if attempts else None,
        last_score=attempts[-1].score if attempts else None,
        changes=guideline_version_diff(old=previous, new=version) if previous else None,
    )


def guideline_versions_for_annotator(
    *, actor: User, project: Project, annotator_check: AnnotatorCheck | None = None
) -> list[GuidelineVersion]:
    """The latest published version of each guideline the actor may read."""
    latest = []
    for guideline in Guideline.objects.filter(project=project).order_by("name"):
        version = guideline_version_latest_published(guideline=guideline)
        if version is not None and actor_may_read_version(
            actor=actor, version=version, annotator_check=annotator_check
        ):
            latest.append(version)
    return latest


def guideline_version_for_actor(
    *, actor: User, project: Project, guideline_id: int, number: int
) -> GuidelineVersion:
    """A version by its guideline and number, if the actor may read it.

    Drafts are visible only to leads and researchers of the project."""
    version = guideline_version_get(
        guideline=guideline_get(project=project, guideline_id=guideline_id), number=number
    )
    roles = project_roles_for_user(actor=actor, project=project)
    if roles & {ProjectRole.LEAD, ProjectRole.RESEARCHER}:
        return version
    if not actor_may_read_version(actor=actor, version=version):
        raise AccessDenied("You cannot read this guideline version.")
    return version
