from __future__ import annotations

from django.urls import path

from exports import views

_p = "p/<slug:slug>/exports/"
urlpatterns = [
    path(_p, views.exports_page, name="exports-page"),
    path(_p + "<int:job_id>/download/", views.job_download, name="exports-job-download"),
    path(
        _p + "reports/<int:report_id>/<str:fmt>/",
        views.report_export,
        name="exports-report",
    ),
]
