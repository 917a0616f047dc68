from __future__ import annotations

from django.contrib import admin

from annotation.models import (
    Annotation,
    AnnotatorPool,
    Assignment,
    BlindingFlag,
    Output,
    PoolMembership,
    Prompt,
    System,
    Task,
    TaskPool,
    TaskPoolWorker,
)


class PoolMembershipInline(admin.TabularInline):
    model = PoolMembership
    extra = 0


@admin.register(AnnotatorPool)
class AnnotatorPoolAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "project"]
    list_filter = ["kind", "project"]
    inlines = [PoolMembershipInline]


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ["name", "project"]


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project"]
    search_fields = ["external_id", "text"]


@admin.register(Output)
class OutputAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "system", "tone_condition", "known_error_count"]
    list_filter = ["system", "tone_condition"]
    raw_id_fields = ["prompt"]


# -- tasks and the assignment engine (read-mostly: state changes go through services) --
class TaskPoolInline(admin.TabularInline):
    model = TaskPool
    extra = 0
    readonly_fields = ["entry_token", "completion_code", "slots_created"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "mode", "status", "guideline_version", "launched_at"]
    list_filter = ["mode", "status", "project"]
    readonly_fields = ["public_id", "status", "launched_at", "closed_at"]
    inlines = [TaskPoolInline]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "annotator", "task_pool", "unit", "status", "served_at", "closed_at"]
    list_filter = ["status", "flag_reason"]
    raw_id_fields = ["unit", "slot", "annotator", "task_pool"]
    readonly_fields = ["handle", "shown_order", "served_at", "lease_expires_at"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "annotator", "task_pool", "unit", "submitted_at"]
    raw_id_fields = ["assignment", "slot", "unit", "annotator", "task_pool"]
    readonly_fields = [
        "answers",
        "shown_order",
        "served_at",
        "first_interaction_at",
        "submitted_at",
    ]


@admin.register(BlindingFlag)
class BlindingFlagAdmin(admin.ModelAdmin):
    list_display = ["task", "output", "rule", "term", "resolution"]
    list_filter = ["rule", "resolution"]
    raw_id_fields = ["output"]


@admin.register(TaskPoolWorker)
class TaskPoolWorkerAdmin(admin.ModelAdmin):
    list_display = ["user", "task_pool", "served_count", "submitted_count", "completed_at"]
    raw_id_fields = ["user", "task_pool"]
