from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.base import LEAD, ProjectAPIView
from common.http import AuthenticatedRequest
from common.models import ProjectRole, User
from common.selectors import (
    audit_events_for_project,
    project_invitation_get,
    project_invitations_open,
    project_list_for_actor,
    project_member_candidates,
    project_members,
    project_roles_for_user,
)
from common.services import (
    project_create,
    project_invitation_create,
    project_invitation_revoke,
    project_membership_add,
    project_membership_remove,
)


class ProjectListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField()
        name = serializers.CharField()
        description = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())

    class InputSerializer(serializers.Serializer):
        slug = serializers.SlugField(max_length=80)
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        projects = project_list_for_actor(actor=request.user)
        data = [
            {
                "slug": project.slug,
                "name": project.name,
                "description": project.description,
                "roles": sorted(project_roles_for_user(actor=request.user, project=project)),
            }
            for project in projects
        ]
        return Response(self.OutputSerializer(data, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        """Create a project; its creator becomes its lead. Only staff may create projects."""
        if not request.user.is_staff:
            return Response({"detail": "Only staff can create projects."}, status=403)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_create(actor=request.user, **serializer.validated_data)
        data = {**serializer.validated_data, "roles": [ProjectRole.LEAD]}
        return Response(self.OutputSerializer(data | {"slug": project.slug}).data, status=201)


class ProjectDetailApi(ProjectAPIView):
    allowed_roles = ProjectRole.values

    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField()
        name = serializers.CharField()
        description = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        roles = sorted(project_roles_for_user(actor=request.user, project=self.project))
        data = {
            "slug": self.project.slug,
            "name": self.project.name,
            "description": self.project.description,
            "roles": roles,
        }
        return Response(self.OutputSerializer(data).data)


class ProjectMembersApi(ProjectAPIView):
    """A project's members. A lead adds someone who is a member of another project they
    lead (by username), or invites anyone by e-mail (`invitations/`); other usernames
    are refused with the same message whether or not they exist."""

    allowed_roles = LEAD

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField(source="user.username")
        role = serializers.CharField()

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        role = serializers.ChoiceField(choices=ProjectRole.choices)
        remove = serializers.BooleanField(default=False)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        return Response(
            self.OutputSerializer(project_members(project=self.project), many=True).data
        )

    @extend_schema(request=InputSerializer, responses=OutputSerializer(many=True))
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        """Add (or, with `remove`, take away) a role in this project."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["remove"]:
            pool = User.objects.filter(project_memberships__project=self.project)
            refusal = "Not a member of this project."
        else:
            pool = project_member_candidates(actor=request.user, project=self.project)
            refusal = NOT_A_CANDIDATE
        user = pool.filter(username=data["username"]).first()
        if user is None:
            return Response({"username": [refusal]}, status=status.HTTP_400_BAD_REQUEST)
        change = project_membership_remove if data["remove"] else project_membership_add
        change(actor=request.user, project=self.project, user=user, role=data["role"])
        return Response(
            self.OutputSerializer(project_members(project=self.project), many=True).data
        )


NOT_A_CANDIDATE = (
    "Not a member of another project you lead; invite them by e-mail instead (POST …/invitations/)."
)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    invited_by = serializers.CharField(source="invited_by.username")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class ProjectInvitationsApi(ProjectAPIView):
    """Invitations to this project that are still open; POST invites an e-mail address."""

    allowed_roles = LEAD

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=ProjectRole.choices)

    class CreatedSerializer(InvitationSerializer):
        accept_url = serializers.URLField(
            help_text="The link in the e-mail, if you prefer to send it yourself."
        )

    @extend_schema(responses=InvitationSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        invitations = project_invitations_open(project=self.project).select_related("invited_by")
        return Response(InvitationSerializer(invitations, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = project_invitation_create(
            actor=request.user,
            project=self.project,
            accept_url=lambda token: request.build_absolute_uri(
                reverse("invite-accept", args=[token])
            ),
            **serializer.validated_data,
        )
        data = InvitationSerializer(invitation).data
        data["accept_url"] = request.build_absolute_uri(
            reverse("invite-accept", args=[invitation.token])
        )
        return Response(data, status=201)


class ProjectInvitationRevokeApi(ProjectAPIView):
    allowed_roles = LEAD

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: AuthenticatedRequest, slug: str, invitation_id: int) -> Response:
        invitation = project_invitation_get(project=self.project, invitation_id=invitation_id)
        project_invitation_revoke(actor=request.user, invitation=invitation)
        return Response(status=204)


class ProjectAuditApi(ProjectAPIView):
    allowed_roles = LEAD

    class OutputSerializer(serializers.Serializer):
        occurred_at = serializers.DateTimeField()
        actor = serializers.CharField(source="actor.username", default=None)
        action = serializers.CharField()
        object_type = serializers.CharField()
        object_id = serializers.CharField()
        details = serializers.JSONField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        events = audit_events_for_project(project=self.project)[:500]
        return Response(self.OutputSerializer(events, many=True).data)


class TokenObtainApi(ObtainAuthToken):
    """`POST /api/auth/token/`: DRF's token view, throttled and never cached.

    The serializer authenticates with the underlying HttpRequest, so django-axes counts
    a wrong password against the client address and, once locked out, its middleware
    answers 429 (common/auth.py). A token is a password: `Cache-Control: no-store`.
    """

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "request": self.request._request}

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
