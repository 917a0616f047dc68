"""What is judged (systems, prompts, outputs) and who judges it (annotator pools).

Tasks, assignments and annotations join these in later modules of this app.
Everything about a system's identity and an output's design metadata is hidden
from annotators: only selectors scoped by actor decide what leaves the server.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from common.models import Project, TimeStampedModel


class PoolKind(models.TextChoices):
    EXPERT = "expert", "Expert"
    CROWD = "crowd", "Crowd"


class AnnotatorPool(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pools")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=PoolKind.choices)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="pool_unique_name"),
            models.CheckConstraint(
                condition=models.Q(kind__in=PoolKind.values), name="pool_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class PoolMembership(TimeStampedModel):
    pool = models.ForeignKey(AnnotatorPool, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pool_memberships"
    )
    expertise_tags = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    external_worker_id = models.CharField(max_length=128, blank=True)
    pay_rate_per_hour = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "user"], name="pool_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.pool}"


class System(TimeStampedModel):
    """A model whose outputs are judged. Its name never reaches an annotator."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="system_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Prompt(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=200, help_text="The prompt_id of the import file.")
    text = models.TextField()
    reference = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="prompt_unique_external_id"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Output(TimeStampedModel):
    """A system's answer to a prompt, with the design metadata researchers need.

    `tone_condition` and `known_error_count` are lifted out of `metadata` at import
    so the bias analysis can filter on them; both are hidden from annotators.
    """

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="outputs")
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="outputs")
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    tone_condition = models.CharField(max_length=64, blank=True)
    known_error_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "system"], name="output_unique_per_system"),
        ]

    def __str__(self) -> str:
        return f"output {self.pk}"
