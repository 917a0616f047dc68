from __future__ import annotations

from django.urls import path

from annotation.api import apis

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
