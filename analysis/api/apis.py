"""The analysis data API: datasets from elsewhere and agreement reports.

Reads and writes are open to the project's leads and researchers, never annotators.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound as HttpNotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from analysis.importing import FORMATS, detect_format, parse_declarations
from analysis.models import ReportStatus
from analysis.selectors import (
    NotFound,
    dataset_get,
    dataset_list,
    report_document_json,
    report_get,
    report_list,
    report_provenance,
)
from analysis.selectors_leaderboard import task_get_by_slug, task_leaderboard_get
from analysis.services import (
    DEFAULT_PARAMETERS,
    agreement_report_request,
    bundle_files,
    dataset_import,
)
from common.api.base import READERS, ProjectAPIView
from common.exceptions import ApplicationError
from common.http import AuthenticatedRequest


class AnalysisAPIView(ProjectAPIView):
    allowed_roles = READERS
    write_roles = READERS


class _DatasetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    questions = serializers.JSONField()
    source_filename = serializers.CharField()
    source_format = serializers.CharField()
    units_filename = serializers.CharField()
    annotators_filename = serializers.CharField()
    row_count = serializers.IntegerField()
    empty_value_count = serializers.IntegerField(
        help_text="Rows left out because their value was empty."
    )
    bundle_unit_count = serializers.IntegerField(help_text="Rows of the units file (0: none).")
    bundle_annotator_count = serializers.IntegerField(
        help_text="Rows of the annotators file (0: none)."
    )
    unit_count = serializers.IntegerField()
    annotator_count = serializers.IntegerField()
    data_hash = serializers.CharField()
    created_at = serializers.DateTimeField()


class DatasetListApi(AnalysisAPIView):
    class OutputSerializer(_DatasetOutput):
        pass

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        datasets = dataset_list(project=self.project)
        return Response(self.OutputSerializer(datasets, many=True).data)


class DatasetImportApi(AnalysisAPIView):
    """Upload a long-format annotation file (CSV, JSONL, Parquet) as a dataset, optionally
    as a study bundle with a `units` and an `annotators` file; all or nothing.

    Refused uploads answer 400 with `errors` (file, line, field, message; the first 100)
    and `error_count`.
    """

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=list(FORMATS), required=False)
        units = serializers.FileField(
            required=False, help_text="The study bundle's units file (CSV, JSONL, Parquet)."
        )
        annotators = serializers.FileField(
            required=False, help_text="The study bundle's annotators file (CSV, JSONL, Parquet)."
        )
        declarations = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="Lines 'level QUESTION=LEVEL', 'order QUESTION=v1,v2' and "
            "'role QUESTION=quality|error_flag|assertiveness|preference'; override the file.",
        )
        replace = serializers.BooleanField(default=False)

        def validate_declarations(self, value: str) -> dict[str, dict[str, Any]]:
            declared, errors = parse_declarations(value)
            if errors:
                raise serializers.ValidationError([f"Line {e.line}: {e.message}" for e in errors])
            return declared

    class OutputSerializer(_DatasetOutput):
        pass

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            fmt = detect_format(data["file"].name, data.get("format"))
            bundle = bundle_files(units=data.get("units"), annotators=data.get("annotators"))
        except ValueError as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from exc
        dataset = dataset_import(
            actor=request.user,
            project=self.project,
            name=data["name"],
            stream=data["file"],
            fmt=fmt,
            filename=data["file"].name,
            declarations=data["declarations"],
            replace=data["replace"],
            **bundle,
        )
        return Response(self.OutputSerializer(dataset).data, status=201)


class DatasetDetailApi(AnalysisAPIView):
    class OutputSerializer(_DatasetOutput):
        pass

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str, dataset_id: int) -> Response:
        try:
            dataset = dataset_get(project=self.project, dataset_id=dataset_id)
        except NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        return Response(self.OutputSerializer(dataset).data)


class _ReportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    progress_stage = serializers.CharField()
    progress_percent = serializers.IntegerField()
    error = serializers.CharField()
    provenance = serializers.SerializerMethodField()
    json_url = serializers.SerializerMethodField()

    def get_provenance(self, report: Any) -> dict[str, Any]:
        return report_provenance(report=report)

    def get_json_url(self, report: Any) -> str | None:
        if report.status != ReportStatus.DONE:
            return None
        return f"/api/projects/{report.project.slug}/reports/{report.pk}/json/"


class ReportListApi(AnalysisAPIView):
    class OutputSerializer(_ReportOutput):
        pass

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        reports = report_list(project=self.project).select_related("project")[:200]
        return Response(self.OutputSerializer(reports, many=True).data)


class ReportRequestApi(AnalysisAPIView):
    """Queue an agreement report on a dataset or a task; poll it until `status` is done.

    A pairwise task's report carries the `rankings` and `rank_stability` sections.
    """

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    class InputSerializer(serializers.Serializer):
        dataset_id = serializers.IntegerField(required=False)
        task = serializers.SlugField(required=False, help_text="A task's slug.")
        parameters = serializers.DictField(
            required=False, default=dict, help_text=f"Defaults: {DEFAULT_PARAMETERS}"
        )
        filters = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            default=dict,
            help_text="questions / pools / guideline_versions to keep (lists of names).",
        )

    class OutputSerializer(_ReportOutput):
        pass

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if ("dataset_id" in data) == ("task" in data):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one source: dataset_id or task."]}
            )
        source: dict[str, Any] = {}
        try:
            if "task" in data:
                source["task"] = task_get_by_slug(project=self.project, slug=data["task"])
            else:
                source["dataset"] = dataset_get(project=self.project, dataset_id=data["dataset_id"])
        except NotFound as exc:
            field = "task" if "task" in data else "dataset_id"
            raise serializers.ValidationError({field: [exc.message]}) from exc
        report = agreement_report_request(
            actor=request.user,
            project=self.project,
            **source,
            parameters=data["parameters"],
            filters=data["filters"],
        )
        return Response(self.OutputSerializer(report).data, status=202)


class ReportDetailApi(AnalysisAPIView):
    class OutputSerializer(_ReportOutput):
        pass

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str, report_id: int) -> Response:
        try:
            report = report_get(project=self.project, report_id=report_id)
        except NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        return Response(self.OutputSerializer(report).data)


class ReportJsonApi(AnalysisAPIView):
    """The finished report as a JSON document (provenance + report), byte for byte the
    file the page's "Download JSON" link serves. 409 while it is not finished."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: AuthenticatedRequest, slug: str, report_id: int) -> HttpResponse:
        try:
            report = report_get(project=self.project, report_id=report_id)
            body = report_document_json(report=report)
        except NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        except ApplicationError as exc:
            return Response({"detail": exc.message, "status": report.status}, status=409)
        return HttpResponse(body, content_type="application/json")


class TaskLeaderboardApi(AnalysisAPIView):
    """The newest finished report of a task that ranked its systems: its `rankings` and
    `rank_stability` sections (docs/rankings.md). 404 with the reason while there is none;
    request one with POST reports/request/ {"task": slug}."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: AuthenticatedRequest, slug: str, task_slug: str) -> Response:
        try:
            task = task_get_by_slug(project=self.project, slug=task_slug)
        except NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        state = task_leaderboard_get(project=self.project, task=task)
        if state.report is None or state.result is None:
            pending = state.pending.pk if state.pending is not None else None
            detail = "No finished report of this task has rankings yet."
            if state.latest_result and state.latest_result.get("rankings"):
                detail = state.latest_result["rankings"].get("reason", detail)
            return Response({"detail": detail, "pending_report": pending}, status=404)
        return Response(
            {
                "task": task.slug,
                "report": state.report.pk,
                "finished_at": state.report.finished_at,
                "rankings": state.result["rankings"],
                "rank_stability": state.result.get("rank_stability"),
            }
        )
