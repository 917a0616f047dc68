"""Reads for leads and researchers. Annotator-facing reads live with the assignment engine."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from annotation.models import AnnotatorPool, Output, PoolMembership, Prompt, System
from common.models import Project


def system_list(*, project: Project) -> QuerySet[System]:
    return System.objects.filter(project=project).annotate(output_count=Count("outputs")).order_by(
        "name"
    )


def prompt_list(*, project: Project) -> QuerySet[Prompt]:
    return Prompt.objects.filter(project=project).order_by("external_id")


def output_list(*, project: Project, system: str | None = None) -> QuerySet[Output]:
    outputs = (
        Output.objects.filter(prompt__project=project)
        .select_related("prompt", "system")
        .order_by("prompt__external_id", "system__name")
    )
    if system:
        outputs = outputs.filter(system__name=system)
    return outputs


def pool_list(*, project: Project) -> QuerySet[AnnotatorPool]:
    return AnnotatorPool.objects.filter(project=project).annotate(
        member_count=Count("members")
    ).order_by("name")


def pool_members(*, pool: AnnotatorPool) -> QuerySet[PoolMembership]:
    return PoolMembership.objects.filter(pool=pool).select_related("user").order_by(
        "user__username"
    )


def project_counts(*, project: Project) -> dict[str, int]:
    return {
        "systems": System.objects.filter(project=project).count(),
        "prompts": Prompt.objects.filter(project=project).count(),
        "outputs": Output.objects.filter(prompt__project=project).count(),
        "pools": AnnotatorPool.objects.filter(project=project).count(),
    }
