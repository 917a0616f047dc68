from __future__ import annotations

from django.urls import path

from common import views

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.project_detail, name="project-detail"),
    path("p/<slug:slug>/audit/", views.project_audit, name="project-audit"),
]
