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
    # Covered by the unique (project, external_id) index.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="prompts", db_index=False
    )
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

    # The unique (prompt, system) index serves lookups by prompt; a second index would
    # only slow imports down.
    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="outputs", db_index=False
    )
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="outputs")
    # "" for the system's own answer; a label for a lead-supplied rewrite of it (a
    # matched tone variant, an error-injected copy). Variants of one prompt and system
    # are the matched sets the bias analysis compares.
    variant = models.CharField(max_length=64, blank=True, default="")
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    tone_condition = models.CharField(max_length=64, blank=True)
    known_error_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "system", "variant"], name="output_unique_per_variant"
            ),
        ]

    def __str__(self) -> str:
        return f"output {self.pk}"


# ---------------------------------------------------------------------------
# Tasks and the blinded assignment engine (issue 4).
#
# A Task is cut into Units (one prompt and one or more outputs). Launching the
# task creates exactly k Slot rows per (unit, task pool): a slot is one seat at
# the unit for one annotator of that pool. The guarantees then follow from rows
# and constraints rather than from counting under locks:
#   * at most k annotations per unit and pool  -> only k slots exist, and an
#     Annotation owns its slot (OneToOne);
#   * nobody judges a unit twice               -> Assignment unique (unit, annotator);
#   * one lease per slot at a time              -> partial unique (slot) where leased,
#     and claiming locks the slot row with SELECT … FOR UPDATE SKIP LOCKED.
# ---------------------------------------------------------------------------


class TaskMode(models.TextChoices):
    SINGLE = "single", "Single output"
    PAIRWISE = "pairwise", "Pairwise (A/B)"
    RANKING = "ranking", "Ranking (n outputs)"


class TaskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class Pairing(models.TextChoices):
    ALL_PAIRS = "all_pairs", "All pairs per prompt"
    BALANCED = "balanced", "Sampled, balanced across system pairs"


class PayMode(models.TextChoices):
    PER_ITEM = "per_item", "Per item"
    PER_HOUR = "per_hour", "Per hour"


class Task(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    # Annotator-facing URLs name the task by this token, so no integer id reaches them.
    public_id = models.CharField(max_length=24, unique=True)
    # How leads, researchers and the command line name a task (`--task SLUG`);
    # never shown to annotators.
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guideline_version = models.ForeignKey(
        "guidelines.GuidelineVersion", on_delete=models.PROTECT, related_name="tasks"
    )
    mode = models.CharField(max_length=16, choices=TaskMode.choices)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.DRAFT)
    pairing = models.CharField(max_length=16, choices=Pairing.choices, default=Pairing.ALL_PAIRS)
    pairs_per_prompt = models.PositiveIntegerField(null=True, blank=True)
    ranking_size = models.PositiveIntegerField(null=True, blank=True)
    pay_per_item = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    pay_mode = models.CharField(max_length=16, choices=PayMode.choices, default=PayMode.PER_ITEM)
    min_hourly_rate = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    lease_seconds = models.PositiveIntegerField(default=900)
    # Extra words the blinding check looks for in this task's outputs, on top of the
    # configured vendor/model list and the project's system names.
    blinding_terms = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    launched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode__in=TaskMode.values), name="task_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(pairing__in=Pairing.values), name="task_pairing_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(pay_mode__in=PayMode.values), name="task_pay_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(lease_seconds__gte=30), name="task_lease_min"
            ),
            models.CheckConstraint(condition=models.Q(pay_per_item__gte=0), name="task_pay_nonneg"),
            models.CheckConstraint(
                condition=models.Q(ranking_size__isnull=True) | models.Q(ranking_size__gte=2),
                name="task_ranking_size_min",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(launched_at__isnull=False),
                name="task_launched_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TaskPool(TimeStampedModel):
    """One pool working on one task, with its own redundancy, cap and gold share."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_pools")
    pool = models.ForeignKey(AnnotatorPool, on_delete=models.PROTECT, related_name="task_pools")
    redundancy = models.PositiveIntegerField(default=3, help_text="k: annotations per unit.")
    per_annotator_cap = models.PositiveIntegerField(null=True, blank=True)
    gold_share = models.FloatField(default=0.0)
    require_quiz = models.BooleanField(default=False)
    # The crowd entry link carries this token, never the task or pool id.
    entry_token = models.CharField(max_length=64, unique=True)
    # A secret, never shown: each worker's completion code is derived from it
    # (annotation/codes.py), so a code cannot be passed on to another worker.
    completion_code = models.CharField(max_length=32)
    # How many workers the crowd link may sign up; None: as many as the slots need at
    # the per-annotator cap (annotation.selectors.crowd_link_worker_limit).
    max_workers = models.PositiveIntegerField(null=True, blank=True)
    slots_created = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "pool"], name="task_pool_unique"),
            models.CheckConstraint(
                condition=models.Q(redundancy__gte=1, redundancy__lte=50), name="task_pool_k_range"
            ),
            models.CheckConstraint(
                condition=models.Q(per_annotator_cap__isnull=True)
                | models.Q(per_annotator_cap__gte=1),
                name="task_pool_cap_min",
            ),
            models.CheckConstraint(
                condition=models.Q(gold_share__gte=0, gold_share__lte=1),
                name="task_pool_gold_share_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_workers__isnull=True) | models.Q(max_workers__gte=1),
                name="task_pool_max_workers_min",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} / {self.pool}"

    def worker_completion_code(self, user_id: int) -> str:
        from annotation.codes import worker_code

        return worker_code(secret=self.completion_code, user_id=user_id)


class Unit(models.Model):
    """What one annotator judges once: a prompt and its outputs in a base order."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="units")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    ordinal = models.PositiveIntegerField()
    is_gold = models.BooleanField(default=False)
    gold_answers = models.JSONField(null=True, blank=True)
    excluded = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "ordinal"], name="unit_unique_ordinal"),
            models.CheckConstraint(
                condition=models.Q(is_gold=False) | models.Q(gold_answers__isnull=False),
                name="unit_gold_has_answers",
            ),
        ]

    def __str__(self) -> str:
        return f"unit {self.pk}"


class UnitOutput(models.Model):
    """An output in a unit; `position` is the unit's random base order, which each
    slot rotates for counterbalancing."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="unit_outputs")
    output = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    # Set when the lead masks a blinding flag; annotators see this instead of the text.
    masked_text = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "position"], name="unit_output_unique_position"
            ),
            models.UniqueConstraint(fields=["unit", "output"], name="unit_output_unique_output"),
        ]

    def __str__(self) -> str:
        return f"unit {self.unit_id} position {self.position}"


class SlotState(models.TextChoices):
    OPEN = "open", "Open"
    LEASED = "leased", "Leased"
    DONE = "done", "Done"


class Slot(models.Model):
    task_pool = models.ForeignKey(TaskPool, on_delete=models.CASCADE, related_name="slots")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="slots")
    # 0..k-1: the queue serves every unit's slot 0 before any slot 1 (breadth first),
    # and the ordinal picks the counterbalanced rotation of the outputs.
    ordinal = models.PositiveSmallIntegerField()
    is_gold = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=SlotState.choices, default=SlotState.OPEN)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task_pool", "unit", "ordinal"], name="slot_unique_ordinal"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=SlotState.values), name="slot_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state="leased") | models.Q(lease_expires_at__isnull=False),
                name="slot_lease_has_expiry",
            ),
        ]
        indexes = [
            # The claim query walks this index only: done and leased slots are not in it,
            # so its cost does not grow with finished work.
            models.Index(
                fields=["task_pool", "is_gold", "ordinal", "id"],
                condition=models.Q(state="open"),
                name="slot_open_queue",
            ),
            models.Index(
                fields=["task_pool", "lease_expires_at"],
                condition=models.Q(state="leased"),
                name="slot_lease_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.ordinal} of unit {self.unit_id} ({self.state})"


class TaskPoolWorker(TimeStampedModel):
    """One annotator's standing in one task pool: counters for cap, gold mix and pay,
    and, for crowd workers, the platform ids of the visit."""

    task_pool = models.ForeignKey(TaskPool, on_delete=models.CASCADE, related_name="workers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_pool_workers"
    )
    served_count = models.PositiveIntegerField(default=0)
    gold_served_count = models.PositiveIntegerField(default=0)
    submitted_count = models.PositiveIntegerField(default=0)
    study_id = models.CharField(max_length=128, blank=True)
    session_id = models.CharField(max_length=128, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task_pool", "user"], name="task_pool_worker_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in task pool {self.task_pool_id}"


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    FLAGGED = "flagged", "Flagged"
    EXPIRED = "expired", "Expired"


class FlagReason(models.TextChoices):
    BROKEN = "broken", "Broken or unreadable"
    UNSAFE = "unsafe", "Unsafe content"
    OTHER = "other", "Other"


class Assignment(models.Model):
    """One serving of a unit to one annotator. Annotators only ever see `handle`."""

    handle = models.CharField(max_length=32, unique=True)
    task_pool = models.ForeignKey(TaskPool, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="assignments")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    guideline_version = models.ForeignKey(
        "guidelines.GuidelineVersion", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED
    )
    # Output ids by shown position (index 0 is "Response A"); server-side only.
    shown_order = models.JSONField()
    served_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    first_interaction_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    flag_reason = models.CharField(max_length=16, choices=FlagReason.choices, blank=True)
    flag_note = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "annotator"], name="assignment_unique_annotator"
            ),
            models.UniqueConstraint(
                fields=["slot"],
                condition=models.Q(status="leased"),
                name="assignment_one_lease_per_slot",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AssignmentStatus.values),
                name="assignment_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["annotator", "task_pool"],
                condition=models.Q(status="leased"),
                name="assignment_active_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}"


class Annotation(models.Model):
    """An accepted judgement. It owns its slot, so a unit never has more than k per pool."""

    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="annotation"
    )
    slot = models.OneToOneField(Slot, on_delete=models.CASCADE, related_name="annotation")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="annotations")
    task_pool = models.ForeignKey(TaskPool, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    guideline_version = models.ForeignKey(
        "guidelines.GuidelineVersion", on_delete=models.PROTECT, related_name="+"
    )
    answers = models.JSONField()
    shown_order = models.JSONField()
    served_at = models.DateTimeField()
    first_interaction_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    client_first_interaction_at = models.DateTimeField(null=True, blank=True)
    client_active_seconds = models.FloatField(null=True, blank=True)
    # The active time credited for pay: the browser's visible-tab figure clamped to
    # submitted_at - served_at (client_active_seconds keeps what the browser sent).
    active_seconds = models.FloatField(null=True, blank=True)
    submission_token = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "annotator"], name="annotation_unique_annotator"
            ),
            models.CheckConstraint(
                condition=models.Q(client_active_seconds__isnull=True)
                | models.Q(client_active_seconds__gte=0),
                name="annotation_active_seconds_nonneg",
            ),
            models.CheckConstraint(
                condition=models.Q(active_seconds__isnull=True) | models.Q(active_seconds__gte=0),
                name="annotation_credited_seconds_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk}"


class FlagResolution(models.TextChoices):
    OPEN = "open", "Open"
    MASKED = "masked", "Masked"
    EXCLUDED = "excluded", "Excluded"
    IGNORED = "ignored", "Ignored (not revealing)"


class BlindingFlag(TimeStampedModel):
    """A span of an output's text that may reveal which system wrote it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="blinding_flags")
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=32)
    term = models.CharField(max_length=200)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    excerpt = models.CharField(max_length=400)
    resolution = models.CharField(
        max_length=16, choices=FlagResolution.choices, default=FlagResolution.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "output", "start", "end"], name="blinding_flag_unique_span"
            ),
            models.CheckConstraint(
                condition=models.Q(resolution__in=FlagResolution.values),
                name="blinding_flag_resolution_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="blinding_flag_span"
            ),
        ]

    def __str__(self) -> str:
        return f"'{self.term}' in output {self.output_id}"
