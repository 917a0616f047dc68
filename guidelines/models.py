"""Annotation guidelines: numbered, immutable-once-published versions with a rubric."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from common.models import Project, TimeStampedModel


class Guideline(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="guideline_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class GuidelineVersion(TimeStampedModel):
    guideline = models.ForeignKey(Guideline, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    prose = models.TextField(blank=True)
    rubric = models.JSONField(default=list, blank=True)
    examples = models.JSONField(default=list, blank=True)
    changelog = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guideline", "number"], name="version_unique_number"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(published_at__isnull=False),
                name="version_published_has_time",
            ),
        ]
        ordering = ["guideline", "number"]

    def __str__(self) -> str:
        return f"{self.guideline} v{self.number}"
