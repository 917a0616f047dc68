from __future__ import annotations

from django.urls import path

from annotation import views

urlpatterns = [
    path("p/<slug:slug>/outputs/", views.outputs_page, name="outputs"),
    path("p/<slug:slug>/outputs/import/", views.outputs_import_page, name="outputs-import"),
]
