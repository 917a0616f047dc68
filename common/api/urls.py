from __future__ import annotations

from django.urls import path

from common.api import apis

urlpatterns = [
    path("projects/", apis.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", apis.ProjectDetailApi.as_view(), name="api-project"),
    path(
        "projects/<slug:slug>/members/",
        apis.ProjectMembersApi.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<slug:slug>/invitations/",
        apis.ProjectInvitationsApi.as_view(),
        name="api-project-invitations",
    ),
    path(
        "projects/<slug:slug>/invitations/<int:invitation_id>/",
        apis.ProjectInvitationRevokeApi.as_view(),
        name="api-project-invitation",
    ),
    path("projects/<slug:slug>/audit/", apis.ProjectAuditApi.as_view(), name="api-project-audit"),
]
