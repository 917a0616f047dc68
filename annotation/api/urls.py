from __future__ import annotations

from django.urls import path

from annotation.api import annotator_apis, apis, task_apis

urlpatterns = [
    path("projects/<slug:slug>/systems/", apis.SystemListApi.as_view(), name="api-systems"),
    path("projects/<slug:slug>/prompts/", apis.PromptListApi.as_view(), name="api-prompts"),
    path("projects/<slug:slug>/outputs/", apis.OutputListApi.as_view(), name="api-outputs"),
    path(
        "projects/<slug:slug>/outputs/import/",
        apis.OutputImportApi.as_view(),
        name="api-outputs-import",
    ),
    path("projects/<slug:slug>/pools/", apis.PoolListApi.as_view(), name="api-pools"),
]

# -- tasks, pools and the annotator API (issue 4) ------------------------------
_task = "projects/<slug:slug>/tasks/<int:task_id>/"
urlpatterns += [
    path("projects/<slug:slug>/tasks/", task_apis.TaskListApi.as_view(), name="api-tasks"),
    path(_task, task_apis.TaskDetailApi.as_view(), name="api-task"),
    path(_task + "pools/", task_apis.TaskPoolAddApi.as_view(), name="api-task-pools"),
    path(_task + "launch/", task_apis.TaskLaunchApi.as_view(), name="api-task-launch"),
    path(_task + "pause/", task_apis.TaskPauseApi.as_view(), name="api-task-pause"),
    path(_task + "close/", task_apis.TaskCloseApi.as_view(), name="api-task-close"),
    path(_task + "blinding/", task_apis.TaskBlindingApi.as_view(), name="api-task-blinding"),
    path(
        _task + "blinding/<int:flag_id>/",
        task_apis.BlindingFlagResolveApi.as_view(),
        name="api-task-blinding-resolve",
    ),
    path(_task + "units/", task_apis.TaskUnitListApi.as_view(), name="api-task-units"),
    path(
        _task + "units/<int:unit_id>/gold/", task_apis.UnitGoldApi.as_view(), name="api-unit-gold"
    ),
    path(
        "projects/<slug:slug>/pools/<int:pool_id>/members/",
        task_apis.PoolMembersApi.as_view(),
        name="api-pool-members",
    ),
    path(
        "annotate/tasks/", annotator_apis.AnnotatorTaskListApi.as_view(), name="api-annotate-tasks"
    ),
    path("annotate/next/", annotator_apis.AnnotatorNextApi.as_view(), name="api-annotate-next"),
    path(
        "annotate/tasks/<str:public_id>/next/",
        annotator_apis.AnnotatorTaskNextApi.as_view(),
        name="api-annotate-task-next",
    ),
    path(
        "annotate/tasks/<str:public_id>/progress/",
        annotator_apis.AnnotatorTaskProgressApi.as_view(),
        name="api-annotate-task-progress",
    ),
    path(
        "annotate/items/<str:handle>/",
        annotator_apis.AnnotatorItemApi.as_view(),
        name="api-annotate-item",
    ),
    path(
        "annotate/items/<str:handle>/interact/",
        annotator_apis.AnnotatorInteractApi.as_view(),
        name="api-annotate-interact",
    ),
    path(
        "annotate/items/<str:handle>/submit/",
        annotator_apis.AnnotatorSubmitApi.as_view(),
        name="api-annotate-submit",
    ),
    path(
        "annotate/items/<str:handle>/skip/",
        annotator_apis.AnnotatorSkipApi.as_view(),
        name="api-annotate-skip",
    ),
    path(
        "annotate/items/<str:handle>/flag/",
        annotator_apis.AnnotatorFlagApi.as_view(),
        name="api-annotate-flag",
    ),
]
