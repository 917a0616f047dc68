"""Analysis-only datasets of annotations collected elsewhere, and agreement reports.

A report is stored with every input it used (source, filters, parameters, seed, the
hash of the data it read and the platform version), so it can be recomputed and
compared byte for byte.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from common.models import Project, TimeStampedModel


class MeasurementLevel(models.TextChoices):
    NOMINAL = "nominal", "Nominal"
    ORDINAL = "ordinal", "Ordinal"
    INTERVAL = "interval", "Interval"
    RATIO = "ratio", "Ratio"


class AnnotationDataset(TimeStampedModel):
    """Annotations imported from another tool, analysed but never annotated here.

    `questions` maps each question key to its declaration, ``{"level": ..., "order":
    [...] | None}``; the import service validates it (level in MeasurementLevel, order
    without duplicates) before it is written.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    questions = models.JSONField(default=dict)
    source_filename = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=16, blank=True)
    row_count = models.PositiveIntegerField(default=0)
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

    class Meta:
        constraints = [
            # Also the index the loader scans: dataset_id is its leading column.
            models.UniqueConstraint(
                fields=["dataset", "unit", "annotator", "question"],
                name="dataset_annotation_unique_answer",
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
