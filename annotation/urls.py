from __future__ import annotations

from django.urls import path

from annotation import views, views_tasks

urlpatterns = [
    path("p/<slug:slug>/outputs/", views.outputs_page, name="outputs"),
    path("p/<slug:slug>/outputs/import/", views.outputs_import_page, name="outputs-import"),
]

# -- tasks, crowd entry and the minimal annotator page (issue 4) -------------------
urlpatterns += [
    path("p/<slug:slug>/tasks/", views_tasks.tasks_page, name="tasks"),
    path("p/<slug:slug>/tasks/<int:task_id>/", views_tasks.task_detail_page, name="task-detail"),
    path(
        "p/<slug:slug>/tasks/<int:task_id>/<str:action>/",
        views_tasks.task_action,
        name="task-action",
    ),
    path("crowd/<str:token>/", views_tasks.crowd_entry, name="crowd-entry"),
    path("annotate/", views_tasks.annotate_home, name="annotate-home"),
    path("annotate/t/<str:public_id>/", views_tasks.annotate_task_page, name="annotate-task"),
    path("annotate/t/<str:public_id>/next/", views_tasks.annotate_next, name="annotate-next"),
    path(
        "annotate/t/<str:public_id>/acknowledge/",
        views_tasks.annotate_acknowledge,
        name="annotate-acknowledge",
    ),
    path("annotate/i/<str:handle>/submit/", views_tasks.annotate_submit, name="annotate-submit"),
    path("annotate/i/<str:handle>/skip/", views_tasks.annotate_skip, name="annotate-skip"),
]
