"""Reads for leads and researchers. Annotator-facing reads live with the assignment engine."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from annotation.models import (
    AnnotatorPool,
    Assignment,
    AssignmentStatus,
    BlindingFlag,
    FlagResolution,
    Output,
    PoolMembership,
    Prompt,
    Slot,
    SlotState,
    System,
    Task,
    TaskPool,
    Unit,
)
from common.exceptions import AccessDenied, ApplicationError
from common.models import Project


def system_list(*, project: Project) -> QuerySet[System]:
    return (
        System.objects.filter(project=project)
        .annotate(output_count=Count("outputs"))
        .order_by("name")
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
    return (
        AnnotatorPool.objects.filter(project=project)
        .annotate(member_count=Count("members"))
        .order_by("name")
    )


def pool_members(*, pool: AnnotatorPool) -> QuerySet[PoolMembership]:
    return (
        PoolMembership.objects.filter(pool=pool).select_related("user").order_by("user__username")
    )


def project_counts(*, project: Project) -> dict[str, int]:
    return {
        "systems": System.objects.filter(project=project).count(),
        "prompts": Prompt.objects.filter(project=project).count(),
        "outputs": Output.objects.filter(prompt__project=project).count(),
        "pools": AnnotatorPool.objects.filter(project=project).count(),
    }


# The query string a lead pastes into a crowd platform; Prolific fills these placeholders.
CROWD_LINK_QUERY = (
    "?worker_id={{%PROLIFIC_PID%}}&study_id={{%STUDY_ID%}}&session_id={{%SESSION_ID%}}"
)


# -- tasks (leads and researchers) ---------------------------------------------


def task_list(*, project: Project) -> QuerySet[Task]:
    return (
        Task.objects.filter(project=project)
        .select_related("guideline_version__guideline")
        .annotate(unit_count=Count("units", filter=Q(units__excluded=False), distinct=True))
        .order_by("-created_at")
    )


def task_get(*, project: Project, task_id: int) -> Task:
    task = (
        Task.objects.filter(project=project, pk=task_id)
        .select_related("guideline_version__guideline")
        .first()
    )
    if task is None:
        raise AccessDenied("No such task in this project.")
    return task


def task_pools(*, task: Task) -> QuerySet[TaskPool]:
    return TaskPool.objects.filter(task=task).select_related("pool").order_by("pk")


def task_progress(*, task: Task) -> list[dict[str, Any]]:
    """Per pool: slots open/leased/done (expired leases count as open), annotators,
    skips and flags. Two grouped queries whatever the task size."""
    now = timezone.now()
    slot_counts = (
        Slot.objects.filter(task_pool__task=task)
        .values("task_pool_id")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(state=SlotState.DONE)),
            leased=Count("pk", filter=Q(state=SlotState.LEASED, lease_expires_at__gte=now)),
        )
    )
    by_pool = {row["task_pool_id"]: row for row in slot_counts}
    assignment_counts = {
        row["task_pool_id"]: row
        for row in Assignment.objects.filter(task_pool__task=task)
        .values("task_pool_id")
        .annotate(
            annotators=Count("annotator_id", distinct=True),
            skipped=Count("pk", filter=Q(status=AssignmentStatus.SKIPPED)),
            flagged=Count("pk", filter=Q(status=AssignmentStatus.FLAGGED)),
            expired=Count("pk", filter=Q(status=AssignmentStatus.EXPIRED)),
        )
    }
    rows = []
    for tp in task_pools(task=task):
        slots = by_pool.get(tp.pk, {"total": 0, "done": 0, "leased": 0})
        assignments = assignment_counts.get(tp.pk, {})
        total = slots["total"]
        rows.append(
            {
                "task_pool": tp,
                "pool": tp.pool.name,
                "kind": tp.pool.kind,
                "redundancy": tp.redundancy,
                "slots": total,
                "done": slots["done"],
                "leased": slots["leased"],
                "open": total - slots["done"] - slots["leased"],
                "percent_done": round(100 * slots["done"] / total, 1) if total else 0.0,
                "annotators": assignments.get("annotators", 0),
                "skipped": assignments.get("skipped", 0),
                "flagged": assignments.get("flagged", 0),
                "expired": assignments.get("expired", 0),
            }
        )
    return rows


def task_blinding_flags(*, task: Task, open_only: bool = False) -> QuerySet[BlindingFlag]:
    flags = BlindingFlag.objects.filter(task=task).select_related(
        "output__system", "output__prompt"
    )
    if open_only:
        flags = flags.filter(resolution=FlagResolution.OPEN)
    return flags.order_by("output_id", "start")


def task_units(*, task: Task) -> QuerySet[Unit]:
    return (
        Unit.objects.filter(task=task)
        .select_related("prompt")
        .prefetch_related("unit_outputs__output__system")
        .order_by("ordinal")
    )


def task_flagged_assignments(*, task: Task) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(task_pool__task=task, status=AssignmentStatus.FLAGGED)
        .select_related("annotator", "unit__prompt", "task_pool__pool")
        .order_by("-closed_at")
    )


def guideline_version_for_task(*, project: Project, version_id: int) -> Any:
    """A guideline version of `project` a task may be pinned to (published or not:
    the task service says why a draft is refused)."""
    from guidelines.models import GuidelineVersion

    version = (
        GuidelineVersion.objects.filter(pk=version_id, guideline__project=project)
        .select_related("guideline")
        .first()
    )
    if version is None:
        raise AccessDenied("No such guideline version in this project.")
    return version


def prompt_ids_by_external_id(*, project: Project, external_ids: list[str]) -> list[int]:
    found = dict(
        Prompt.objects.filter(project=project, external_id__in=external_ids).values_list(
            "external_id", "pk"
        )
    )
    missing = sorted(set(external_ids) - found.keys())
    if missing:
        raise ApplicationError(
            f"Unknown prompt id(s): {', '.join(missing[:20])}", extra={"missing": missing[:100]}
        )
    return list(found.values())


def system_ids_by_name(*, project: Project, names: list[str]) -> list[int]:
    found = dict(System.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    missing = sorted(set(names) - found.keys())
    if missing:
        raise ApplicationError(f"Unknown system(s): {', '.join(missing)}")
    return list(found.values())


def pool_get(*, project: Project, pool_id: int) -> AnnotatorPool:
    pool = AnnotatorPool.objects.filter(project=project, pk=pool_id).first()
    if pool is None:
        raise AccessDenied("No such pool in this project.")
    return pool


def unit_get(*, task: Task, unit_id: int) -> Unit:
    unit = Unit.objects.filter(task=task, pk=unit_id).first()
    if unit is None:
        raise AccessDenied("No such unit in this task.")
    return unit


def blinding_flag_get(*, task: Task, flag_id: int) -> BlindingFlag:
    flag = BlindingFlag.objects.filter(task=task, pk=flag_id).first()
    if flag is None:
        raise AccessDenied("No such blinding flag in this task.")
    return flag


def user_by_username(*, username: str) -> Any:
    from common.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise ApplicationError(
            f"No user named '{username}'.", extra={"errors": {"username": ["No such user."]}}
        )
    return user


def study_design_summary(*, project: Project) -> dict[str, object]:
    """How far the project's outputs form matched sets: per variant label, how many
    (prompt, system) pairs have it, and how many carry every label."""
    counts = dict(
        Output.objects.filter(prompt__project=project)
        .values_list("variant")
        .annotate(n=Count("id"))
        .values_list("variant", "n")
    )
    labels = sorted(label for label in counts if label)
    complete = 0
    if labels:
        complete = (
            Output.objects.filter(prompt__project=project, variant__in=labels)
            .values("prompt_id", "system_id")
            .annotate(n=Count("variant", distinct=True))
            .filter(n=len(labels))
            .count()
        )
    tones = dict(
        Output.objects.filter(prompt__project=project)
        .exclude(tone_condition="")
        .values_list("tone_condition")
        .annotate(n=Count("id"))
        .values_list("tone_condition", "n")
    )
    with_errors = Output.objects.filter(prompt__project=project, known_error_count__gt=0).count()
    return {
        "base_outputs": counts.get("", 0),
        "variants": {label: counts[label] for label in labels},
        "complete_matched_sets": complete,
        "tones": tones,
        "outputs_with_known_errors": with_errors,
    }


def task_form_choices(*, project: Project) -> dict[str, list[tuple[int, str]]]:
    """What a lead picks from when creating a task: published guideline versions,
    systems and pools of the project."""
    from guidelines.models import GuidelineVersion, VersionStatus

    versions = (
        GuidelineVersion.objects.filter(guideline__project=project, status=VersionStatus.PUBLISHED)
        .select_related("guideline")
        .order_by("guideline__name", "-number")
    )
    return {
        "guideline_versions": [
            (v.pk, f"{v.guideline.name} v{v.number} ({v.guideline.mode})") for v in versions
        ],
        "systems": list(
            System.objects.filter(project=project).order_by("name").values_list("pk", "name")
        ),
        "pools": [
            (pool.pk, f"{pool.name} ({pool.kind})")
            for pool in AnnotatorPool.objects.filter(project=project).order_by("name")
        ],
    }


def prompt_pks_for_external_ids(*, project: Project, external_ids: list[str]) -> list[int] | None:
    """The prompts a lead named by their import ids; None (every prompt) when none named.

    Raises ApplicationError naming the ids the project does not have.
    """
    from common.exceptions import ApplicationError

    if not external_ids:
        return None
    found = dict(
        Prompt.objects.filter(project=project, external_id__in=external_ids).values_list(
            "external_id", "pk"
        )
    )
    missing = [pid for pid in external_ids if pid not in found]
    if missing:
        raise ApplicationError(f"Unknown prompt ids: {', '.join(missing[:20])}.")
    return [found[pid] for pid in external_ids]
