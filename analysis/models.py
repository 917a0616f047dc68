"""Analysis-only datasets of annotations collected elsewhere, and agreement reports.

A report is stored with every input it used (source, filters, parameters, seed, the
hash of the data it read and the platform version), so it can be recomputed and
compared byte for byte.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from common.models import Project, TimeStampedModel


class DatasetPoolKind(models.TextChoices):
    """Kinds of annotator pool in a study bundle's annotators file. "judge" (an LLM
    judge) is expected next: add it here and in analysis.importing_bundle.POOL_KINDS."""

    EXPERT = "expert", "Expert"
    CROWD = "crowd", "Crowd"


class AnnotationDataset(TimeStampedModel):
    """Annotations imported from another tool, analysed but never annotated here.

    `questions` maps each question key to its declaration, ``{"level": ..., "order":
    [...] | None}``, plus ``"role"`` (its part in the bias checks) when one was declared,
    ``"boolean": true`` for a yes/no question and ``"type": "pairwise"`` for the
    preference question of pairs; the import service validates it (a known
    level of measurement, order without duplicates, one question per role) before it is
    written.

    A study bundle adds the design: `DatasetUnit` rows (what each unit showed) and
    `DatasetAnnotator` rows (pools, pool kinds, attributes). A dataset without them is
    analysed on its answers alone.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    questions = models.JSONField(default=dict)
    source_filename = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=16, blank=True)
    units_filename = models.CharField(max_length=255, blank=True)
    annotators_filename = models.CharField(max_length=255, blank=True)
    # Rows of the bundle's units and annotators files (0: no such file).
    bundle_unit_count = models.PositiveIntegerField(default=0)
    bundle_annotator_count = models.PositiveIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    # Rows of the annotations file left out because their value was empty.
    empty_value_count = models.PositiveIntegerField(default=0)
    unit_count = models.PositiveIntegerField(default=0)
    annotator_count = models.PositiveIntegerField(default=0)
    # sha256 of the canonical long table (analysis.loaders.table_hash) at import time.
    data_hash = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetUnit(models.Model):
    """One unit of a study bundle: the prompt it answers and, through `outputs`, what
    annotators were shown (one output, or a pair in positions 0 = a and 1 = b)."""

    dataset = models.ForeignKey(AnnotationDataset, on_delete=models.CASCADE, related_name="units")
    unit = models.CharField(max_length=200)
    prompt_id = models.CharField(max_length=200, blank=True)
    # Single units: the output's own id, when one output appears in several units.
    output_id = models.CharField(max_length=200, blank=True)
    # Pairs: "ba" when everyone saw b first, "" for the a-then-b order (or per answer).
    shown_order = models.CharField(max_length=2, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "unit"], name="dataset_unit_unique"),
            models.CheckConstraint(
                condition=models.Q(shown_order__in=["", "ab", "ba"]),
                name="dataset_unit_shown_order_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.unit


class DatasetOutput(models.Model):
    """An output of a bundle unit, with its design (hidden from annotators, as an
    annotation.Output's is)."""

    unit = models.ForeignKey(DatasetUnit, on_delete=models.CASCADE, related_name="outputs")
    position = models.PositiveSmallIntegerField()
    system = models.CharField(max_length=200, blank=True)
    # None when the units file gave no text; "" for an empty response (length 0).
    text = models.TextField(null=True, blank=True)
    tone = models.CharField(max_length=64, blank=True)
    known_errors = models.PositiveIntegerField(null=True, blank=True)
    # The errors themselves when the file listed them (their count is `known_errors`).
    known_error_list = models.JSONField(null=True, blank=True)
    variant = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "position"], name="dataset_output_unique_position"
            ),
            models.CheckConstraint(
                condition=models.Q(position__lte=1), name="dataset_output_single_or_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} position {self.position}"


class DatasetAnnotator(models.Model):
    """An annotator of a bundle: pool, pool kind and free attributes (kept for later
    analyses, never shown to annotators)."""

    dataset = models.ForeignKey(
        AnnotationDataset, on_delete=models.CASCADE, related_name="annotators"
    )
    annotator = models.CharField(max_length=200)
    pool = models.CharField(max_length=120, blank=True)
    pool_kind = models.CharField(max_length=16, blank=True, choices=DatasetPoolKind.choices)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "annotator"], name="dataset_annotator_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(pool_kind__in=["", *DatasetPoolKind.values]),
                name="dataset_annotator_pool_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.annotator


class DatasetAnnotation(models.Model):
    """One answer in long format: (unit, annotator, question) → value."""

    dataset = models.ForeignKey(
        AnnotationDataset, on_delete=models.CASCADE, related_name="annotations"
    )
    unit = models.CharField(max_length=200)
    annotator = models.CharField(max_length=200)
    question = models.CharField(max_length=120)
    # The answer as written in the file, and as a number when it is one; the loader
    # picks the form the question's level needs.
    value_text = models.TextField()
    value_number = models.FloatField(null=True, blank=True)
    pool = models.CharField(max_length=120, blank=True)
    guideline_version = models.CharField(max_length=64, blank=True)
    # Pairs: the order this annotator saw ("ab": a first, "ba"); "" = the unit's order.
    shown_order = models.CharField(max_length=2, blank=True, default="")

    class Meta:
        constraints = [
            # Also the index the loader scans: dataset_id is its leading column.
            models.UniqueConstraint(
                fields=["dataset", "unit", "annotator", "question"],
                name="dataset_annotation_unique_answer",
            ),
            models.CheckConstraint(
                condition=models.Q(shown_order__in=["", "ab", "ba"]),
                name="dataset_annotation_shown_order_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} / {self.annotator} / {self.question}"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportSource(models.TextChoices):
    DATASET = "dataset", "Imported dataset"
    TASK = "task", "Annotation task"


class AgreementReport(TimeStampedModel):
    """One computation of the agreement report, with everything needed to redo it.

    The source is `source_kind` plus either `dataset` (an imported dataset) or
    `source_ref` (a task's public id). Tasks are referenced by id text rather than a
    foreign key so this table does not depend on the annotation app's migrations;
    a `task` foreign key can replace `source_ref` later without touching the rest.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reports")
    source_kind = models.CharField(max_length=16, choices=ReportSource.choices)
    dataset = models.ForeignKey(
        AnnotationDataset,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports",
    )
    source_ref = models.CharField(max_length=64, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict)
    data_hash = models.CharField(max_length=64, blank=True)
    platform_version = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress_stage = models.CharField(max_length=32, default="queued")
    progress_percent = models.PositiveSmallIntegerField(default=0)
    # The report as canonical JSON text (sorted keys), kept as text rather than jsonb so
    # the stored bytes are exactly what was computed: jsonb would rewrite numbers
    # (1e+20 comes back as an integer), and the recompute check compares bytes.
    result_json = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ReportStatus.values), name="report_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(source_kind=ReportSource.DATASET, dataset__isnull=False)
                    | (models.Q(source_kind=ReportSource.TASK) & ~models.Q(source_ref=""))
                ),
                name="report_source_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(progress_percent__lte=100), name="report_progress_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ReportStatus.DONE) | ~models.Q(result_json=""),
                name="report_done_has_result",
            ),
        ]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.status})"
