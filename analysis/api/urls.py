from __future__ import annotations

from django.urls import path

from analysis.api import apis

_p = "projects/<slug:slug>/"
urlpatterns = [
    path(_p + "datasets/", apis.DatasetListApi.as_view(), name="api-datasets"),
    path(_p + "datasets/import/", apis.DatasetImportApi.as_view(), name="api-datasets-import"),
    path(_p + "datasets/<int:dataset_id>/", apis.DatasetDetailApi.as_view(), name="api-dataset"),
    path(_p + "reports/", apis.ReportListApi.as_view(), name="api-reports"),
    path(_p + "reports/request/", apis.ReportRequestApi.as_view(), name="api-reports-request"),
    path(_p + "reports/<int:report_id>/", apis.ReportDetailApi.as_view(), name="api-report"),
    path(
        _p + "reports/<int:report_id>/json/", apis.ReportJsonApi.as_view(), name="api-report-json"
    ),
    path(
        _p + "tasks/<slug:task_slug>/leaderboard/",
        apis.TaskLeaderboardApi.as_view(),
        name="api-task-leaderboard",
    ),
]
