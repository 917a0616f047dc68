from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from common.exceptions import ApplicationError
from guidelines.models import (
    Guideline,
    GuidelineAcknowledgement,
    GuidelineVersion,
    QuizAttempt,
    VersionStatus,
)
from guidelines.services import guideline_version_update_draft


@admin.register(Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "mode", "created_at"]
    list_filter = ["project", "mode"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a guideline would cascade into its published versions.
        return False


@admin.register(GuidelineVersion)
class GuidelineVersionAdmin(admin.ModelAdmin):
    """Published versions are read-only and undeletable here too; drafts are saved
    through the service, so they are validated and audited like any other edit."""

    list_display = ["guideline", "number", "status", "published_at", "changelog"]
    list_filter = ["status", "guideline__project"]
    version_fields = (
        "guideline",
        "number",
        "status",
        "prose",
        "rubric",
        "examples",
        "quiz",
        "changelog",
        "published_at",
        "published_by",
    )
    # Django's `fields` may nest fieldsets; this admin's are flat, kept under their own name.
    fields = version_fields
    draft_editable = ("prose", "rubric", "examples", "quiz", "changelog")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        if obj.status == VersionStatus.PUBLISHED:
            return list(self.version_fields)
        return [name for name in self.version_fields if name not in self.draft_editable]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New versions come from "revise" in the editor, which numbers and prefills them.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return False
        # The bulk "delete selected" action cannot check each row's status first.
        return obj is not None and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            guideline_version_update_draft(
                actor=request.user,  # type: ignore[arg-type]
                version=obj,
                **{name: form.cleaned_data[name] for name in self.draft_editable},
            )
        except ApplicationError as exc:
            details = "; ".join(e.get("message", "") for e in exc.extra.get("errors", []))
            messages.error(request, f"Not saved: {exc.message} {details}")


@admin.register(GuidelineAcknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["version", "user", "acknowledged_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["version", "user", "attempt", "score", "passed", "submitted_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
