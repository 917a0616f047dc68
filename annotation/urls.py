from __future__ import annotations

from django.urls import path

from annotation import views, views_pay, views_study, views_tasks, views_workspace

urlpatterns = [
    path("p/<slug:slug>/", views.project_detail, name="project-detail"),
    path("p/<slug:slug>/outputs/", views.outputs_page, name="outputs"),
    path("p/<slug:slug>/outputs/import/", views.outputs_import_page, name="outputs-import"),
    path("p/<slug:slug>/study/", views_study.study_design_page, name="study-design"),
]

# -- tasks and crowd entry (issue 4) ----------------------------------------------
urlpatterns += [
    path("p/<slug:slug>/tasks/", views_tasks.tasks_page, name="tasks"),
    path("p/<slug:slug>/tasks/<int:task_id>/", views_tasks.task_detail_page, name="task-detail"),
    # Before task-action, whose <action> segment would otherwise take "payouts".
    path(
        "p/<slug:slug>/tasks/<int:task_id>/payouts/",
        views_pay.task_payouts_page,
        name="task-payouts",
    ),
    path(
        "p/<slug:slug>/tasks/<int:task_id>/payouts.csv",
        views_pay.task_payouts_csv,
        name="task-payouts-csv",
    ),
    path(
        "p/<slug:slug>/tasks/<int:task_id>/<str:action>/",
        views_tasks.task_action,
        name="task-action",
    ),
    path("crowd/<str:token>/", views_tasks.crowd_entry, name="crowd-entry"),
]

# -- the annotator's workspace (issue 5) ---------------------------------------------
# Every name starts with "annotate" and takes only opaque arguments (public_id, handle):
# the blinding crawler walks all of them.
urlpatterns += [
    path("annotate/", views_workspace.annotate_home, name="annotate-home"),
    path("annotate/earnings/", views_workspace.annotate_earnings, name="annotate-earnings"),
    path("annotate/t/<str:public_id>/", views_workspace.annotate_task_page, name="annotate-task"),
    path(
        "annotate/t/<str:public_id>/guide/", views_workspace.annotate_guide, name="annotate-guide"
    ),
    path("annotate/t/<str:public_id>/next/", views_workspace.annotate_next, name="annotate-next"),
    path(
        "annotate/t/<str:public_id>/acknowledge/",
        views_workspace.annotate_acknowledge,
        name="annotate-acknowledge",
    ),
    path("annotate/t/<str:public_id>/quiz/", views_workspace.annotate_quiz, name="annotate-quiz"),
    path(
        "annotate/i/<str:handle>/submit/", views_workspace.annotate_submit, name="annotate-submit"
    ),
    path("annotate/i/<str:handle>/skip/", views_workspace.annotate_skip, name="annotate-skip"),
    path("annotate/i/<str:handle>/flag/", views_workspace.annotate_flag, name="annotate-flag"),
]
