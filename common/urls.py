from __future__ import annotations

from django.urls import path

from common import views, views_members

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/audit/", views.project_audit, name="project-audit"),
    path("p/<slug:slug>/members/", views_members.project_members_page, name="project-members"),
    path("invite/<str:token>/", views_members.invitation_accept_page, name="invite-accept"),
]
