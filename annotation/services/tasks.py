"""Tasks: create (cut into units), configure pools, launch, pause, close, gold units."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from itertools import combinations
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from annotation.codes import pool_secret_new
from annotation.models import (
    AnnotatorPool,
    BlindingFlag,
    FlagResolution,
    Output,
    Pairing,
    PayMode,
    Task,
    TaskMode,
    TaskPool,
    TaskStatus,
    Unit,
    UnitOutput,
)
from common.exceptions import ApplicationError
from common.models import Project, User
from common.services import audit_record

# Above this many outputs, unit generation goes to a Celery worker.
SYNC_GENERATION_LIMIT = 50_000


def _guideline_version_check(*, project: Project, guideline_version: Any) -> None:
    from guidelines.models import VersionStatus

    if guideline_version.guideline.project_id != project.pk:
        raise ApplicationError("The guideline version belongs to another project.")
    if guideline_version.status != VersionStatus.PUBLISHED:
        raise ApplicationError(
            "A task is pinned to a published guideline version; this one is a draft."
        )


@transaction.atomic
def task_create(
    *,
    actor: User,
    project: Project,
    title: str,
    guideline_version: Any,
    mode: str,
    prompt_ids: Sequence[int] | None = None,
    system_ids: Sequence[int] | None = None,
    pairing: str = Pairing.ALL_PAIRS,
    pairs_per_prompt: int | None = None,
    ranking_size: int | None = None,
    pay_per_item: Decimal = Decimal("0"),
    pay_mode: str = PayMode.PER_ITEM,
    min_hourly_rate: Decimal | None = None,
    lease_seconds: int = 900,
    description: str = "",
    blinding_terms: list[str] | None = None,
    seed: int | None = None,
    slug: str | None = None,
) -> Task:
    """Create a draft task over the chosen prompts and systems and cut it into units.

    `prompt_ids` / `system_ids` of None mean all of the project's. Units are generated
    in this transaction unless there are very many outputs, in which case a worker does
    it after commit. The blinding check runs on the generated units.
    """
    if mode not in TaskMode.values:
        raise ApplicationError(f"Unknown task mode '{mode}'.")
    if pairing not in Pairing.values:
        raise ApplicationError(f"Unknown pairing '{pairing}'.")
    if pay_mode not in PayMode.values:
        raise ApplicationError(f"Unknown pay mode '{pay_mode}'.")
    if mode == TaskMode.PAIRWISE and pairing == Pairing.BALANCED and not pairs_per_prompt:
        raise ApplicationError("A balanced pair schedule needs pairs_per_prompt.")
    if lease_seconds < 30:
        raise ApplicationError("A lease lasts at least 30 seconds.")
    _guideline_version_check(project=project, guideline_version=guideline_version)
    guideline_mode = getattr(guideline_version.guideline, "mode", mode)
    if guideline_mode != mode:
        raise ApplicationError(
            f"The guideline is written for {guideline_mode} judgements, not {mode}."
        )
    task = Task.objects.create(
        project=project,
        public_id=secrets.token_urlsafe(12),
        slug=_task_slug(slug=slug, title=title),
        title=title,
        description=description,
        guideline_version=guideline_version,
        mode=mode,
        pairing=pairing,
        pairs_per_prompt=pairs_per_prompt,
        ranking_size=ranking_size,
        pay_per_item=pay_per_item,
        pay_mode=pay_mode,
        min_hourly_rate=min_hourly_rate,
        lease_seconds=lease_seconds,
        blinding_terms=blinding_terms or [],
        created_by=actor,
    )
    audit_record(
        actor=actor,
        project=project,
        action="task.create",
        target=task,
        guideline_version=guideline_version,
        details={"mode": mode, "pairing": pairing, "title": title},
    )
    outputs = _selected_outputs(project=project, prompt_ids=prompt_ids, system_ids=system_ids)
    if len(outputs) > SYNC_GENERATION_LIMIT:
        from annotation.tasks import task_units_build_task

        task_units_build_task.delay_on_commit(
            task.pk, list(prompt_ids or []), list(system_ids or []), seed
        )
        return task
    task_units_build(task=task, outputs=outputs, seed=seed)
    return task


def _task_slug(*, slug: str | None, title: str) -> str:
    if slug:
        if Task.objects.filter(slug=slug).exists():
            raise ApplicationError(f"A task with the slug '{slug}' already exists.")
        return slug
    base = slugify(title)[:60] or "task"
    candidate, number = base, 2
    while Task.objects.filter(slug=candidate).exists():
        candidate, number = f"{base}-{number}", number + 1
    return candidate


@transaction.atomic
def task_units_build(
    *,
    task: Task,
    outputs: list[tuple[int, int, int]] | None = None,
    prompt_ids: Sequence[int] | None = None,
    system_ids: Sequence[int] | None = None,
    seed: int | None = None,
) -> int:
    """Generate the units of `task` and run the blinding check on them (idempotent)."""
    from annotation.services.blinding import blinding_check_run

    if outputs is None:
        outputs = _selected_outputs(
            project=task.project, prompt_ids=prompt_ids, system_ids=system_ids
        )
    created = task_units_generate(task=task, outputs=outputs, seed=seed)
    if created:
        blinding_check_run(actor=None, task=task)
    return created


def _selected_outputs(
    *, project: Project, prompt_ids: Sequence[int] | None, system_ids: Sequence[int] | None
) -> list[tuple[int, int, int]]:
    outputs = Output.objects.filter(prompt__project=project)
    if prompt_ids:
        outputs = outputs.filter(prompt_id__in=list(prompt_ids))
    if system_ids:
        outputs = outputs.filter(system_id__in=list(system_ids))
    return list(
        outputs.order_by("prompt_id", "system_id").values_list("prompt_id", "system_id", "pk")
    )


@transaction.atomic
def task_units_generate(
    *, task: Task, outputs: list[tuple[int, int, int]] | None = None, seed: int | None = None
) -> int:
    """Cut `task` into units from (prompt, system, output) triples; idempotent per task.

    Unit order (and so queue order) is shuffled once here, so serving never needs
    ORDER BY random(); each unit gets a random base order of its outputs.
    """
    task = Task.objects.select_for_update().get(pk=task.pk)
    if Unit.objects.filter(task=task).exists():
        return 0
    if outputs is None:
        outputs = _selected_outputs(project=task.project, prompt_ids=None, system_ids=None)
    rng = random.Random(seed if seed is not None else secrets.randbits(64))
    by_prompt: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for prompt_id, system_id, output_id in outputs:
        by_prompt[prompt_id].append((system_id, output_id))

    groups: list[tuple[int, list[int]]] = []  # (prompt, output ids)
    if task.mode == TaskMode.SINGLE:
        groups = [(p, [o]) for p, items in by_prompt.items() for _, o in items]
    elif task.mode == TaskMode.PAIRWISE:
        groups = _pairs(by_prompt=by_prompt, task=task, rng=rng)
    else:
        groups = _rankings(by_prompt=by_prompt, task=task, rng=rng)
    if not groups:
        raise ApplicationError("No units: the chosen prompts and systems give no outputs to judge.")
    rng.shuffle(groups)

    units = Unit.objects.bulk_create(
        [Unit(task=task, prompt_id=p, ordinal=i) for i, (p, _) in enumerate(groups)],
        batch_size=5000,
    )
    unit_outputs: list[UnitOutput] = []
    for unit, (_, output_ids) in zip(units, groups, strict=True):
        base = list(output_ids)
        rng.shuffle(base)
        unit_outputs.extend(
            UnitOutput(unit_id=unit.pk, output_id=o, position=pos) for pos, o in enumerate(base)
        )
    UnitOutput.objects.bulk_create(unit_outputs, batch_size=5000)
    return len(units)


def _pairs(
    *, by_prompt: dict[int, list[tuple[int, int]]], task: Task, rng: random.Random
) -> list[tuple[int, list[int]]]:
    groups: list[tuple[int, list[int]]] = []
    meetings: Counter[tuple[int, int]] = Counter()
    appearances: Counter[int] = Counter()
    prompts = list(by_prompt)
    rng.shuffle(prompts)  # so the greedy balance does not favour low prompt ids
    for prompt_id in prompts:
        items = sorted(by_prompt[prompt_id])
        candidates = list(combinations(items, 2))
        if task.pairing == Pairing.ALL_PAIRS:
            chosen = candidates
        else:
            # Greedy balanced schedule: prefer the system pairs that have met least,
            # then the systems shown least; random tie-break.
            chosen = []
            pool = list(candidates)
            rng.shuffle(pool)
            for _ in range(min(task.pairs_per_prompt or 1, len(pool))):
                best = min(
                    pool,
                    key=lambda c: (
                        meetings[(c[0][0], c[1][0])],
                        appearances[c[0][0]] + appearances[c[1][0]],
                    ),
                )
                pool.remove(best)
                chosen.append(best)
                meetings[(best[0][0], best[1][0])] += 1
                appearances[best[0][0]] += 1
                appearances[best[1][0]] += 1
        groups.extend((prompt_id, [a[1], b[1]]) for a, b in chosen)
    return groups


def _rankings(
    *, by_prompt: dict[int, list[tuple[int, int]]], task: Task, rng: random.Random
) -> list[tuple[int, list[int]]]:
    groups: list[tuple[int, list[int]]] = []
    appearances: Counter[int] = Counter()
    for prompt_id, items in by_prompt.items():
        if len(items) < 2:
            continue
        size = min(task.ranking_size or len(items), len(items))
        shuffled = list(items)
        rng.shuffle(shuffled)
        shuffled.sort(key=lambda item: appearances[item[0]])  # least-shown systems first
        chosen = shuffled[:size]
        appearances.update(system for system, _ in chosen)
        groups.append((prompt_id, [o for _, o in chosen]))
    return groups


@transaction.atomic
def task_pool_add(
    *,
    actor: User,
    task: Task,
    pool: AnnotatorPool,
    redundancy: int = 3,
    per_annotator_cap: int | None = None,
    gold_share: float = 0.0,
    require_quiz: bool = False,
    max_workers: int | None = None,
) -> TaskPool:
    """Let `pool` work on `task` with redundancy k; on a live task its slots appear at once.

    `max_workers` caps how many workers a crowd pool's entry link signs up (None: as
    many as the slots need at the per-annotator cap)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if pool.project_id != task.project_id:
        raise ApplicationError("The pool belongs to another project.")
    if task.status == TaskStatus.CLOSED:
        raise ApplicationError("The task is closed.")
    if not 1 <= redundancy <= 50:
        raise ApplicationError("Redundancy k is between 1 and 50.")
    if not 0 <= gold_share <= 1:
        raise ApplicationError("The gold share is between 0 and 1.")
    if per_annotator_cap is not None and per_annotator_cap < 1:
        raise ApplicationError("The per-annotator cap is at least 1.")
    if max_workers is not None and max_workers < 1:
        raise ApplicationError("The crowd link's worker limit is at least 1.")
    if TaskPool.objects.filter(task=task, pool=pool).exists():
        raise ApplicationError(f"Pool '{pool.name}' already works on this task.")
    task_pool = TaskPool.objects.create(
        task=task,
        pool=pool,
        redundancy=redundancy,
        per_annotator_cap=per_annotator_cap,
        gold_share=gold_share,
        require_quiz=require_quiz,
        max_workers=max_workers,
        entry_token=secrets.token_urlsafe(24),
        completion_code=pool_secret_new(),
    )
    if task.status in (TaskStatus.LIVE, TaskStatus.PAUSED):
        _slots_create(task_pool=task_pool)
    audit_record(
        actor=actor,
        project=task.project,
        action="task.pool_add",
        target=task_pool,
        guideline_version=task.guideline_version,
        details={
            "task": task.pk,
            "pool": pool.name,
            "redundancy": redundancy,
            "per_annotator_cap": per_annotator_cap,
            "gold_share": gold_share,
            "require_quiz": require_quiz,
            "max_workers": max_workers,
        },
    )
    return task_pool


@transaction.atomic
def task_pool_max_workers_set(
    *, actor: User, task_pool: TaskPool, max_workers: int | None
) -> TaskPool:
    """Change how many workers the crowd link may sign up (raise it to replace dropouts)."""
    if max_workers is not None and max_workers < 1:
        raise ApplicationError("The crowd link's worker limit is at least 1.")
    task_pool = TaskPool.objects.select_for_update().select_related("task").get(pk=task_pool.pk)
    before = task_pool.max_workers
    task_pool.max_workers = max_workers
    task_pool.save(update_fields=["max_workers", "updated_at"])
    audit_record(
        actor=actor,
        project=task_pool.task.project,
        action="task.pool_max_workers",
        target=task_pool,
        guideline_version=task_pool.task.guideline_version,
        details={"task": task_pool.task_id, "before": before, "after": max_workers},
    )
    return task_pool


def _slots_create(*, task_pool: TaskPool) -> None:
    """k slots per unit, numbered so the queue serves every unit's slot 0 first."""
    if task_pool.slots_created:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO annotation_slot (task_pool_id, unit_id, ordinal, is_gold, state)
            SELECT %s, u.id, g.n, u.is_gold, 'open'
            FROM annotation_unit u CROSS JOIN generate_series(0, %s - 1) AS g(n)
            WHERE u.task_id = %s AND NOT u.excluded
            ORDER BY g.n, u.ordinal
            """,
            [task_pool.pk, task_pool.redundancy, task_pool.task_id],
        )
    task_pool.slots_created = True
    task_pool.save(update_fields=["slots_created", "updated_at"])


@transaction.atomic
def task_launch(*, actor: User, task: Task) -> Task:
    """Open the task to its pools: create every slot, then serve."""
    task = Task.objects.select_for_update().select_related("guideline_version").get(pk=task.pk)
    if task.status == TaskStatus.LIVE:
        return task
    if task.status == TaskStatus.CLOSED:
        raise ApplicationError("A closed task cannot be launched again.")
    _guideline_version_check(project=task.project, guideline_version=task.guideline_version)
    task_pools = list(TaskPool.objects.filter(task=task))
    if not task_pools:
        raise ApplicationError("Add at least one annotator pool before launching.")
    if not Unit.objects.filter(task=task, excluded=False).exists():
        raise ApplicationError("The task has no units to judge.")
    open_flags = BlindingFlag.objects.filter(task=task, resolution=FlagResolution.OPEN).count()
    if open_flags:
        raise ApplicationError(
            f"The blinding check found {open_flags} span(s) that may reveal a system; "
            "mask, exclude or dismiss them before launch.",
            extra={"open_blinding_flags": open_flags},
        )
    for task_pool in task_pools:
        _slots_create(task_pool=task_pool)
    previous = task.status
    task.status = TaskStatus.LIVE
    task.launched_at = task.launched_at or timezone.now()
    task.save(update_fields=["status", "launched_at", "updated_at"])
    audit_record(
        actor=actor,
        project=task.project,
        action="task.launch" if previous == TaskStatus.DRAFT else "task.resume",
        target=task,
        guideline_version=task.guideline_version,
    )
    return task


@transaction.atomic
def task_pause(*, actor: User, task: Task) -> Task:
    """Stop serving new units; leases already out may still be submitted."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.LIVE:
        raise ApplicationError("Only a live task can be paused.")
    task.status = TaskStatus.PAUSED
    task.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        project=task.project,
        action="task.pause",
        target=task,
        guideline_version=task.guideline_version,
    )
    return task


@transaction.atomic
def task_close(*, actor: User, task: Task) -> Task:
    """Close for good: nothing more is served or accepted."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status == TaskStatus.CLOSED:
        return task
    task.status = TaskStatus.CLOSED
    task.closed_at = timezone.now()
    if task.launched_at is None:
        task.launched_at = task.closed_at
    task.save(update_fields=["status", "closed_at", "launched_at", "updated_at"])
    audit_record(
        actor=actor,
        project=task.project,
        action="task.close",
        target=task,
        guideline_version=task.guideline_version,
    )
    return task


@transaction.atomic
def unit_mark_gold(*, actor: User, unit: Unit, answers: dict[str, Any] | None) -> Unit:
    """Make `unit` a gold unit with known `answers` (None makes it ordinary again).

    Gold units sit in the same queue with the same handles and fields, so annotators
    cannot tell them apart; only the slot's denormalised flag lets the claim mix them
    in at the pool's gold share.
    """
    task = Task.objects.select_for_update().get(pk=unit.task_id)
    if task.status != TaskStatus.DRAFT:
        raise ApplicationError("Gold units are chosen before launch.")
    if answers is not None:
        from guidelines.rubric import validate_answers

        n_outputs = UnitOutput.objects.filter(unit=unit).count()
        errors = validate_answers(task.guideline_version.rubric, answers, n_outputs=n_outputs)
        if errors:
            raise ApplicationError(
                "The gold answers do not fit the rubric.", extra={"errors": errors}
            )
    unit.is_gold = answers is not None
    unit.gold_answers = answers
    unit.save(update_fields=["is_gold", "gold_answers"])
    audit_record(
        actor=actor,
        project=task.project,
        action="unit.gold_set" if answers is not None else "unit.gold_clear",
        target=unit,
        guideline_version=task.guideline_version,
        details={"task": task.pk},
    )
    return unit


CROWD_WORKER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$")


def crowd_worker_id_check(worker_id: str) -> str:
    """The platform's worker id, stripped, or ApplicationError."""
    worker_id = worker_id.strip()
    if not CROWD_WORKER_ID_RE.match(worker_id):
        raise ApplicationError("The link carries no valid worker id.")
    return worker_id


def crowd_worker_username(*, task_pool: TaskPool, worker_id: str) -> str:
    """The account name a worker id gets in a crowd pool (ids are not shown as names)."""
    digest = hashlib.sha256(f"{task_pool.pool_id}:{worker_id}".encode()).hexdigest()[:20]
    return f"crowd-{task_pool.pool_id}-{digest}"


@transaction.atomic
def crowd_worker_enter(
    *, task_pool: TaskPool, worker_id: str, study_id: str = "", session_id: str = ""
) -> User:
    """A crowd worker's visit through a task link: an annotator account in the pool,
    keyed by the platform's worker id; later visits find the same account.

    The account has no usable password: the link is the credential, as on crowd
    platforms, so the entry token must only be given to the platform. A worker new to
    this link counts against its limit (`crowd_link_worker_limit`), checked under a
    lock on the task pool so two visits cannot both take the last place.
    """
    from annotation.models import PoolKind, PoolMembership, TaskPoolWorker
    from annotation.selectors_annotator import crowd_link_worker_limit
    from common.models import ProjectMembership, ProjectRole

    worker_id = crowd_worker_id_check(worker_id)
    task = task_pool.task
    if task_pool.pool.kind != PoolKind.CROWD:
        raise ApplicationError("This link is not a crowd link.")
    if task.status not in (TaskStatus.LIVE, TaskStatus.PAUSED):
        raise ApplicationError("This study is not open.")
    username = crowd_worker_username(task_pool=task_pool, worker_id=worker_id)
    if not TaskPoolWorker.objects.filter(task_pool=task_pool, user__username=username).exists():
        TaskPool.objects.select_for_update().filter(pk=task_pool.pk).first()
        joined_here = TaskPoolWorker.objects.filter(task_pool=task_pool).count()
        if joined_here >= crowd_link_worker_limit(task_pool=task_pool):
            raise ApplicationError(
                "This study has all the workers it needs. Please return it on your "
                "crowd platform; you will not be asked for a completion code."
            )
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    ProjectMembership.objects.get_or_create(
        project_id=task.project_id, user=user, role=ProjectRole.ANNOTATOR
    )
    membership, joined = PoolMembership.objects.get_or_create(
        pool=task_pool.pool, user=user, defaults={"external_worker_id": worker_id}
    )
    worker, _ = TaskPoolWorker.objects.get_or_create(task_pool=task_pool, user=user)
    changed = [
        name
        for name, value in (("study_id", study_id[:128]), ("session_id", session_id[:128]))
        if value and getattr(worker, name) != value
    ]
    if changed:
        worker.study_id = study_id[:128] or worker.study_id
        worker.session_id = session_id[:128] or worker.session_id
        worker.save(update_fields=[*changed, "updated_at"])
    if joined:
        audit_record(
            actor=None,
            project=task.project,
            action="crowd.enter",
            target=membership,
            guideline_version=task.guideline_version,
            details={
                "pool": task_pool.pool.name,
                "task": task.pk,
                "worker_id": worker_id,
                "study_id": study_id,
                "session_id": session_id,
            },
        )
    return user
