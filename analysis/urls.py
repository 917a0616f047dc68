from __future__ import annotations

from django.urls import path

from analysis import views, views_leaderboard

_p = "p/<slug:slug>/analysis/"
urlpatterns = [
    path(_p, views.analysis_home, name="analysis-home"),
    path(_p + "datasets/import/", views.dataset_import_page, name="analysis-dataset-import"),
    path(_p + "datasets/<int:dataset_id>/", views.dataset_detail, name="analysis-dataset"),
    path(
        _p + "datasets/<int:dataset_id>/reports/",
        views.report_request,
        name="analysis-report-request",
    ),
    path(_p + "reports/<int:report_id>/", views.report_page, name="analysis-report"),
    path(
        _p + "reports/<int:report_id>/report.json",
        views.report_download,
        name="analysis-report-json",
    ),
    path(
        _p + "reports/<int:report_id>/leaderboard/",
        views_leaderboard.report_leaderboard,
        name="analysis-leaderboard",
    ),
    path(
        _p + "tasks/<slug:task_slug>/leaderboard/",
        views_leaderboard.task_leaderboard,
        name="analysis-task-leaderboard",
    ),
]
