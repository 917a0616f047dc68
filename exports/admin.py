from __future__ import annotations

from django.contrib import admin

from exports.models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "project",
        "kind",
        "format",
        "status",
        "progress_percent",
        "row_count",
        "created_at",
    )
    list_filter = ("status", "kind", "format")
    readonly_fields = [f.name for f in ExportJob._meta.fields]
