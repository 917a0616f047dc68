from __future__ import annotations

from django.urls import path

from guidelines import views

base = "p/<slug:slug>/guidelines/"
one = base + "<int:guideline_id>/"
version = one + "v/<int:number>/"

urlpatterns = [
    path(base, views.guideline_list_page, name="guideline-list"),
    path(one, views.guideline_detail_page, name="guideline-detail"),
    path(one + "revise/", views.guideline_revise, name="guideline-revise"),
    path(one + "diff/", views.guideline_diff_page, name="guideline-diff"),
    path(version, views.guideline_version_page, name="guideline-version"),
    path(version + "edit/", views.guideline_edit_page, name="guideline-edit"),
    path(version + "publish/", views.guideline_publish_page, name="guideline-publish"),
    path(
        version + "rubric.<str:fmt>",
        views.guideline_rubric_export,
        name="guideline-rubric-export",
    ),
    path(version + "read/", views.guideline_read_page, name="guideline-read"),
    path(version + "acknowledge/", views.guideline_acknowledge, name="guideline-acknowledge"),
    path(version + "quiz/", views.guideline_quiz, name="guideline-quiz"),
]
