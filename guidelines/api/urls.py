from __future__ import annotations

from django.urls import path

from guidelines.api import apis

base = "projects/<slug:slug>/guidelines/"
version = base + "<int:guideline_id>/versions/<int:number>/"

urlpatterns = [
    path(base, apis.GuidelineListApi.as_view(), name="api-guidelines"),
    path(base + "<int:guideline_id>/", apis.GuidelineDetailApi.as_view(), name="api-guideline"),
    path(
        base + "<int:guideline_id>/versions/",
        apis.GuidelineVersionCreateApi.as_view(),
        name="api-guideline-version-create",
    ),
    path(
        base + "<int:guideline_id>/diff/",
        apis.GuidelineDiffApi.as_view(),
        name="api-guideline-diff",
    ),
    path(version, apis.GuidelineVersionDetailApi.as_view(), name="api-guideline-version"),
    path(
        version + "publish/",
        apis.GuidelineVersionPublishApi.as_view(),
        name="api-guideline-version-publish",
    ),
    path(version + "rubric/", apis.GuidelineRubricApi.as_view(), name="api-guideline-rubric"),
    path(version + "read/", apis.AnnotatorVersionApi.as_view(), name="api-guideline-read"),
    path(version + "acknowledge/", apis.AcknowledgeApi.as_view(), name="api-guideline-acknowledge"),
    path(version + "quiz/", apis.QuizAttemptApi.as_view(), name="api-guideline-quiz"),
    path(version + "clearance/", apis.ClearanceApi.as_view(), name="api-guideline-clearance"),
]
