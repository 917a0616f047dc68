"""Guidelines over HTTP. Leads write, leads and researchers read everything;
annotators reach only the annotator endpoints, which never carry a quiz answer key."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from common.api.base import LEAD, READERS, ProjectAPIView
from common.http import AuthenticatedRequest
from common.models import ProjectRole
from guidelines.markdown import render_markdown
from guidelines.models import GuidelineMode, GuidelineVersion
from guidelines.rubric import (
    RubricFormatError,
    rubric_from_json,
    rubric_from_yaml,
    rubric_to_json,
    rubric_to_yaml,
)
from guidelines.selectors import (
    guideline_get,
    guideline_list,
    guideline_version_annotator_view,
    guideline_version_clearance,
    guideline_version_diff,
    guideline_version_for_actor,
    guideline_version_get,
    guideline_versions,
)
from guidelines.services import (
    guideline_create,
    guideline_version_acknowledge,
    guideline_version_create_draft,
    guideline_version_delete_draft,
    guideline_version_publish,
    guideline_version_update_draft,
    quiz_attempt_submit,
)

ALL_ROLES = tuple(ProjectRole.values)


class VersionSerializer(serializers.Serializer):
    """A whole version, quiz key included: for leads and researchers only."""

    number = serializers.IntegerField()
    status = serializers.CharField()
    prose = serializers.CharField()
    prose_html = serializers.SerializerMethodField()
    rubric = serializers.JSONField()
    examples = serializers.JSONField()
    quiz = serializers.JSONField()
    changelog = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    published_by = serializers.CharField(source="published_by.username", default=None)

    def get_prose_html(self, version: GuidelineVersion) -> str:
        return render_markdown(version.prose)


class GuidelineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.CharField()
    version_count = serializers.IntegerField()
    published_count = serializers.IntegerField()
    latest_number = serializers.IntegerField(allow_null=True)
    latest_published_number = serializers.IntegerField(allow_null=True)


class GuidelineListApi(ProjectAPIView):
    allowed_roles = READERS
    write_roles = LEAD

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        mode = serializers.ChoiceField(choices=GuidelineMode.choices, default=GuidelineMode.SINGLE)
        prose = serializers.CharField(required=False, allow_blank=True, default="")
        # drf-stubs type JSONField's default as a mapping; a JSON list is as valid at run time.
        rubric = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]

    @extend_schema(responses=GuidelineSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        return Response(GuidelineSerializer(guideline_list(project=self.project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: GuidelineSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        """Create a guideline with an empty (or given) draft version 1."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        guideline = guideline_create(
            actor=request.user, project=self.project, **serializer.validated_data
        )
        data = guideline_list(project=self.project).get(pk=guideline.pk)
        return Response(GuidelineSerializer(data).data, status=status.HTTP_201_CREATED)


class GuidelineDetailApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        mode = serializers.CharField()
        versions = VersionSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str, guideline_id: int) -> Response:
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        data = {
            "id": guideline.pk,
            "name": guideline.name,
            "mode": guideline.mode,
            "versions": guideline_versions(guideline=guideline),
        }
        return Response(self.OutputSerializer(data).data)


class GuidelineVersionCreateApi(ProjectAPIView):
    allowed_roles = LEAD

    @extend_schema(request=None, responses={201: VersionSerializer})
    def post(self, request: AuthenticatedRequest, slug: str, guideline_id: int) -> Response:
        """Open the next draft, prefilled from the latest version (or return the open draft)."""
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        version = guideline_version_create_draft(actor=request.user, guideline=guideline)
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class GuidelineVersionDetailApi(ProjectAPIView):
    """Read a version; change or delete it while it is a draft. Published versions
    answer 400 to PATCH and DELETE: they never change."""

    allowed_roles = READERS
    write_roles = LEAD

    class InputSerializer(serializers.Serializer):
        prose = serializers.CharField(required=False, allow_blank=True)
        rubric = serializers.JSONField(required=False)
        examples = serializers.JSONField(required=False)
        quiz = serializers.JSONField(required=False)
        changelog = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def _version(self, guideline_id: int, number: int) -> GuidelineVersion:
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        return guideline_version_get(guideline=guideline, number=number)

    @extend_schema(responses=VersionSerializer)
    def get(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        return Response(VersionSerializer(self._version(guideline_id, number)).data)

    @extend_schema(request=InputSerializer, responses=VersionSerializer)
    def patch(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = guideline_version_update_draft(
            actor=request.user,
            version=self._version(guideline_id, number),
            **serializer.validated_data,
        )
        return Response(VersionSerializer(version).data)

    @extend_schema(request=None, responses={204: None})
    def delete(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        guideline_version_delete_draft(
            actor=request.user, version=self._version(guideline_id, number)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class GuidelineVersionPublishApi(ProjectAPIView):
    allowed_roles = LEAD

    class InputSerializer(serializers.Serializer):
        changelog = serializers.CharField(required=False, allow_blank=True, max_length=500)

    @extend_schema(request=InputSerializer, responses=VersionSerializer)
    def post(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        version = guideline_version_publish(
            actor=request.user,
            version=guideline_version_get(guideline=guideline, number=number),
            changelog=serializer.validated_data.get("changelog"),
        )
        return Response(VersionSerializer(version).data)


class GuidelineRubricApi(ProjectAPIView):
    """Export a version's rubric as YAML or JSON, or import one into a draft."""

    allowed_roles = READERS
    write_roles = LEAD

    class InputSerializer(serializers.Serializer):
        fmt = serializers.ChoiceField(choices=["yaml", "json"])
        text = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, enum=["yaml", "json"], default="yaml")],
        responses={(200, "application/yaml"): OpenApiTypes.STR},
    )
    def get(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> HttpResponse:
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        version = guideline_version_get(guideline=guideline, number=number)
        fmt = request.query_params.get("fmt", "yaml")
        if fmt not in ("yaml", "json"):
            raise serializers.ValidationError({"fmt": ["Use yaml or json."]})
        text = rubric_to_yaml(version.rubric) if fmt == "yaml" else rubric_to_json(version.rubric)
        response = HttpResponse(text, content_type=f"application/{fmt}; charset=utf-8")
        filename = f"rubric-{guideline.pk}-v{version.number}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(request=InputSerializer, responses=VersionSerializer)
    def put(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parse = rubric_from_yaml if serializer.validated_data["fmt"] == "yaml" else rubric_from_json
        try:
            rubric = parse(serializer.validated_data["text"])
        except RubricFormatError as exc:
            raise serializers.ValidationError({"text": [str(exc)]}) from exc
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        version = guideline_version_update_draft(
            actor=request.user,
            version=guideline_version_get(guideline=guideline, number=number),
            rubric=rubric,
        )
        return Response(VersionSerializer(version).data)


class GuidelineDiffApi(ProjectAPIView):
    allowed_roles = READERS

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: AuthenticatedRequest, slug: str, guideline_id: int) -> Response:
        """Prose rows (side by side), rubric changes and changelogs between two versions."""
        guideline = guideline_get(project=self.project, guideline_id=guideline_id)
        try:
            old_n, new_n = int(request.query_params["from"]), int(request.query_params["to"])
        except (KeyError, ValueError) as exc:
            raise serializers.ValidationError({"from": ["Give two version numbers."]}) from exc
        diff = guideline_version_diff(
            old=guideline_version_get(guideline=guideline, number=old_n),
            new=guideline_version_get(guideline=guideline, number=new_n),
        )
        diff["prose_rows"] = [asdict(row) for row in diff["prose_rows"]]
        return Response(diff)


# ---- annotators -------------------------------------------------------------------


class AnnotatorVersionSerializer(serializers.Serializer):
    """Built from guideline_version_annotator_view, which holds no answer key."""

    guideline_id = serializers.IntegerField()
    guideline_name = serializers.CharField()
    mode = serializers.CharField()
    number = serializers.IntegerField()
    published_at = serializers.DateTimeField()
    changelog = serializers.CharField()
    prose_html = serializers.CharField()
    rubric = serializers.JSONField()
    examples = serializers.JSONField()
    quiz = serializers.JSONField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    quiz_attempts_used = serializers.IntegerField()
    quiz_attempts_left = serializers.IntegerField()
    quiz_passed = serializers.BooleanField(allow_null=True)
    last_score = serializers.FloatField(allow_null=True)
    changes = serializers.SerializerMethodField()

    def get_changes(self, view: object) -> dict | None:
        changes = getattr(view, "changes", None)
        if not changes:
            return None
        return {**changes, "prose_rows": [asdict(row) for row in changes["prose_rows"]]}


class AnnotatorApiBase(ProjectAPIView):
    # Any member may call; the selector decides who counts as an annotator of the version.
    allowed_roles = ALL_ROLES
    write_roles = ALL_ROLES

    def _version(self, guideline_id: int, number: int) -> GuidelineVersion:
        return guideline_version_for_actor(
            actor=self.request.user, project=self.project, guideline_id=guideline_id, number=number
        )


class AnnotatorVersionApi(AnnotatorApiBase):
    @extend_schema(responses=AnnotatorVersionSerializer)
    def get(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        """A published version as an annotator sees it: no quiz answers, no explanations."""
        view = guideline_version_annotator_view(
            actor=request.user, version=self._version(guideline_id, number)
        )
        return Response(AnnotatorVersionSerializer(view).data)


class AcknowledgeApi(AnnotatorApiBase):
    class OutputSerializer(serializers.Serializer):
        number = serializers.IntegerField(source="version.number")
        acknowledged_at = serializers.DateTimeField()

    @extend_schema(request=None, responses=OutputSerializer)
    def post(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        ack = guideline_version_acknowledge(
            actor=request.user, version=self._version(guideline_id, number)
        )
        return Response(self.OutputSerializer(ack).data)


class QuizAttemptApi(AnnotatorApiBase):
    class InputSerializer(serializers.Serializer):
        answers = serializers.DictField(
            child=serializers.DictField(), help_text="{quiz item id: answers}; see docs."
        )

    class OutputSerializer(serializers.Serializer):
        attempt = serializers.IntegerField()
        score = serializers.FloatField()
        passed = serializers.BooleanField()
        submitted_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        """Submit one quiz attempt. Only the score comes back, never which answers were wrong."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attempt = quiz_attempt_submit(
            actor=request.user,
            version=self._version(guideline_id, number),
            answers=serializer.validated_data["answers"],
        )
        return Response(self.OutputSerializer(attempt).data, status=status.HTTP_201_CREATED)


class ClearanceApi(AnnotatorApiBase):
    class OutputSerializer(serializers.Serializer):
        acknowledged = serializers.BooleanField()
        quiz_required = serializers.BooleanField()
        quiz_passed = serializers.BooleanField(allow_null=True)
        cleared = serializers.BooleanField()
        reason = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("require_quiz", bool, default=True)],
        responses=OutputSerializer,
    )
    def get(
        self, request: AuthenticatedRequest, slug: str, guideline_id: int, number: int
    ) -> Response:
        """The caller's own clearance for this version."""
        version = self._version(guideline_id, number)
        require_quiz = request.query_params.get("require_quiz", "true").lower() != "false"
        clearance = guideline_version_clearance(
            actor=request.user, version=version, require_quiz=require_quiz
        )
        return Response(self.OutputSerializer(clearance).data)
