"""Export jobs: one requested file (raw annotations or an agreement report), its progress
and, once done, where the complete file lives and how to check it.

A job is `done` only after its file was written whole under a temporary name, synced
and renamed into place (exports.services.export_job_run), so a `done` row always points
at a complete file whose size, sha256 and row count are stored here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from common.models import Project, TimeStampedModel


class ExportKind(models.TextChoices):
    ANNOTATIONS = "annotations", "Raw annotations"
    REPORT = "report", "Agreement report"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"
    PARQUET = "parquet", "Parquet"
    HF = "hf", "Hugging Face dataset (zip)"
    JSON = "json", "JSON"
    CSV_ZIP = "csv_zip", "CSV tables (zip)"
    HTML = "html", "HTML"
    PDF = "pdf", "PDF"


ANNOTATION_FORMATS = ("csv", "jsonl", "parquet", "hf")
REPORT_FORMATS = ("json", "csv_zip", "html", "pdf")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class ExportJob(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    task = models.ForeignKey(
        "annotation.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dataset = models.ForeignKey(
        "analysis.AnnotationDataset",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    report = models.ForeignKey(
        "analysis.AgreementReport",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_expected = models.PositiveBigIntegerField(null=True, blank=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    progress_percent = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # Relative to MEDIA_ROOT; set only when the complete file is in place.
    file_path = models.CharField(max_length=300, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    row_count = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ExportKind.values), name="export_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="annotations", format__in=ANNOTATION_FORMATS, report__isnull=True)
                    & (
                        models.Q(task__isnull=False, dataset__isnull=True)
                        | models.Q(task__isnull=True, dataset__isnull=False)
                    )
                )
                | models.Q(
                    kind="report",
                    format__in=REPORT_FORMATS,
                    report__isnull=False,
                    task__isnull=True,
                    dataset__isnull=True,
                ),
                name="export_source_matches_kind",
            ),
            # A done job always names its complete, checked file.
            models.CheckConstraint(
                condition=~models.Q(status="done")
                | (
                    ~models.Q(file_path="")
                    & models.Q(size_bytes__isnull=False, row_count__isnull=False)
                    & ~models.Q(sha256="")
                ),
                name="export_done_has_file",
            ),
            models.CheckConstraint(
                condition=models.Q(progress_percent__lte=100), name="export_progress_range"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.kind} {self.format}, {self.status})"
