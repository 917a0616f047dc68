from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from analysis.models import AgreementReport, AnnotationDataset


@admin.register(AnnotationDataset)
class AnnotationDatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "row_count", "unit_count", "annotator_count", "created_at")
    list_filter = ("project",)
    search_fields = ("name",)
    readonly_fields = ("questions", "data_hash", "row_count", "unit_count", "annotator_count")


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ("pk", "project", "source_kind", "dataset", "source_ref", "status", "created_at")
    list_filter = ("status", "source_kind", "project")
    # Reports are records of a computation: read them here, never edit them.
    readonly_fields = [f.name for f in AgreementReport._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: AgreementReport | None = None) -> bool:
        return False
