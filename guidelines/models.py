"""Annotation guidelines: numbered, immutable-once-published versions with a rubric.

Immutability of published versions is enforced by a database trigger (migration
0002), by the queryset below, by the services and by the admin; see docs/guidelines.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.exceptions import ApplicationError
from common.models import Project, TimeStampedModel


class GuidelineMode(models.TextChoices):
    """How many responses an annotator sees per item, which decides the allowed questions."""

    SINGLE = "single", "One response at a time"
    PAIRWISE = "pairwise", "Two responses, A/B preference"
    RANKING = "ranking", "Several responses, ranked"


class Guideline(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    name = models.CharField(max_length=200)
    mode = models.CharField(
        max_length=16, choices=GuidelineMode.choices, default=GuidelineMode.SINGLE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="guideline_unique_name"),
            models.CheckConstraint(
                condition=models.Q(mode__in=GuidelineMode.values), name="guideline_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class PublishedVersionImmutable(ApplicationError):
    """Someone tried to change or delete a published guideline version."""


# Everything an annotation's meaning depends on; the DB trigger guards the same columns.
CONTENT_FIELDS = (
    "guideline_id",
    "number",
    "status",
    "prose",
    "rubric",
    "examples",
    "quiz",
    "changelog",
    "published_at",
    "published_by_id",
)


class GuidelineVersionQuerySet(models.QuerySet):
    """Bulk writes cannot touch published rows, so `qs.update()` fails loudly here
    rather than as a trigger error from the database."""

    def update(self, **kwargs: Any) -> int:
        touched = {name.removesuffix("_id") for name in kwargs} & {
            name.removesuffix("_id") for name in CONTENT_FIELDS
        }
        if touched and self.filter(status=VersionStatus.PUBLISHED).exists():
            raise PublishedVersionImmutable("A published guideline version cannot be changed.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=VersionStatus.PUBLISHED).exists():
            raise PublishedVersionImmutable("A published guideline version cannot be deleted.")
        return super().delete()


class GuidelineVersion(TimeStampedModel):
    guideline = models.ForeignKey(Guideline, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    prose = models.TextField(blank=True)
    rubric = models.JSONField(default=list, blank=True)
    examples = models.JSONField(default=list, blank=True)
    # {} for no quiz, else {"pass_threshold": float, "max_attempts": int, "items": [...]};
    # the items hold the answer key, so only selectors for leads may return it whole.
    quiz = models.JSONField(default=dict, blank=True)
    changelog = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = GuidelineVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guideline", "number"], name="version_unique_number"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(published_at__isnull=False),
                name="version_published_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=VersionStatus.values), name="version_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="version_number_min"),
            # Editing happens on the one draft; two drafts would fork the history.
            models.UniqueConstraint(
                fields=["guideline"],
                condition=models.Q(status="draft"),
                name="version_one_draft",
            ),
        ]
        ordering = ["guideline", "number"]

    def __str__(self) -> str:
        return f"{self.guideline} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    @property
    def has_quiz(self) -> bool:
        return bool(self.quiz and self.quiz.get("items"))


class GuidelineAcknowledgement(models.Model):
    """An annotator opened this version and said they read it."""

    version = models.ForeignKey(
        GuidelineVersion, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guideline_acks"
    )
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="ack_unique_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.user} acknowledged {self.version}"


class QuizAttempt(models.Model):
    """One try at a version's qualification quiz, with the answers given."""

    version = models.ForeignKey(
        GuidelineVersion, on_delete=models.PROTECT, related_name="quiz_attempts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    attempt = models.PositiveIntegerField()
    answers = models.JSONField(default=dict)
    score = models.FloatField()
    passed = models.BooleanField()
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "user", "attempt"], name="quiz_attempt_unique_number"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0) & models.Q(score__lte=1), name="quiz_score_range"
            ),
        ]
        ordering = ["version", "user", "attempt"]

    def __str__(self) -> str:
        return f"{self.user} quiz {self.version} #{self.attempt}: {self.score:.0%}"
