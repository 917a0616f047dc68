from __future__ import annotations

from django.contrib import admin

from annotation.models import AnnotatorPool, Output, PoolMembership, Prompt, System


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
