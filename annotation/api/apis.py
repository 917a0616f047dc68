from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation.importing import detect_format
from annotation.models import PoolKind
from annotation.selectors import output_list, pool_list, prompt_list, system_list
from annotation.services.outputs import outputs_import
from annotation.services.pools import pool_create
from common.api.base import LEAD, READERS, ProjectAPIView
from common.http import AuthenticatedRequest


class SystemListApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        description = serializers.CharField()
        output_count = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        return Response(self.OutputSerializer(system_list(project=self.project), many=True).data)


class PromptListApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        prompt_id = serializers.CharField(source="external_id")
        prompt = serializers.CharField(source="text")
        reference = serializers.CharField()
        metadata = serializers.JSONField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(prompt_list(project=self.project), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class OutputListApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        prompt_id = serializers.CharField(source="prompt.external_id")
        system = serializers.CharField(source="system.name")
        output = serializers.CharField(source="text")
        metadata = serializers.JSONField()
        tone_condition = serializers.CharField()
        known_error_count = serializers.IntegerField(allow_null=True)

    @extend_schema(
        parameters=[OpenApiParameter("system", str, description="Only this system's outputs.")],
        responses=OutputSerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        outputs = output_list(project=self.project, system=request.query_params.get("system"))
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(outputs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class OutputImportApi(ProjectAPIView):
    """Import a JSONL, CSV or Parquet file of outputs; all rows or none are written."""

    allowed_roles = LEAD
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=["jsonl", "csv", "parquet"], required=False)

    class OutputSerializer(serializers.Serializer):
        rows = serializers.IntegerField()
        prompts_created = serializers.IntegerField()
        systems_created = serializers.IntegerField()
        outputs_created = serializers.IntegerField()
        outputs_unchanged = serializers.IntegerField()
        outputs_updated = serializers.IntegerField()
        empty_outputs = serializers.IntegerField(
            help_text="Imported outputs that are empty; annotators see '(empty response)'."
        )
        systems = serializers.ListField(child=serializers.CharField())

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            fmt = detect_format(upload.name, serializer.validated_data.get("format"))
        except ValueError as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from exc
        result = outputs_import(
            actor=request.user, project=self.project, stream=upload, fmt=fmt, filename=upload.name
        )
        return Response(self.OutputSerializer(result.as_dict()).data, status=201)


class PoolListApi(ProjectAPIView):
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        kind = serializers.CharField()
        description = serializers.CharField()
        member_count = serializers.IntegerField()

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        kind = serializers.ChoiceField(choices=PoolKind.choices)
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        return Response(self.OutputSerializer(pool_list(project=self.project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pool = pool_create(actor=request.user, project=self.project, **serializer.validated_data)
        data = {**serializer.validated_data, "id": pool.pk, "member_count": 0}
        return Response(self.OutputSerializer(data).data, status=201)
