from __future__ import annotations

from django.urls import path

from exports.api import apis

_p = "projects/<slug:slug>/exports/"
urlpatterns = [
    path(_p, apis.ExportListApi.as_view(), name="api-exports"),
    path(_p + "request/", apis.ExportRequestApi.as_view(), name="api-exports-request"),
    path(_p + "annotations/", apis.AnnotationsStreamApi.as_view(), name="api-exports-annotations"),
    path(
        _p + "reports/<int:report_id>/<str:fmt>/",
        apis.ReportExportApi.as_view(),
        name="api-exports-report",
    ),
    path(_p + "<int:job_id>/", apis.ExportDetailApi.as_view(), name="api-export"),
    path(
        _p + "<int:job_id>/download/", apis.ExportDownloadApi.as_view(), name="api-export-download"
    ),
]
