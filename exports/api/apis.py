"""The exports API: request export jobs, poll them, download files, or stream small
exports directly. Leads and researchers of the project only; annotators get 403."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound as HttpNotFound
from rest_framework.response import Response

from common.api.base import READERS, ProjectAPIView
from common.exceptions import ApplicationError
from common.http import AuthenticatedRequest
from exports import selectors
from exports.models import ANNOTATION_FORMATS, REPORT_FORMATS, ExportJob, ExportKind, ExportStatus
from exports.services import (
    ExportTooLarge,
    annotations_download,
    export_job_request,
    report_download,
)


class ExportsAPIView(ProjectAPIView):
    allowed_roles = READERS
    write_roles = READERS


class _JobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    format = serializers.CharField()
    task = serializers.CharField(source="task.slug", allow_null=True, default=None)
    dataset = serializers.CharField(source="dataset.name", allow_null=True, default=None)
    report = serializers.IntegerField(source="report_id", allow_null=True)
    filters = serializers.JSONField()
    status = serializers.ChoiceField(choices=ExportStatus.choices)
    progress_percent = serializers.IntegerField()
    rows_done = serializers.IntegerField()
    rows_expected = serializers.IntegerField(allow_null=True)
    row_count = serializers.IntegerField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.DONE:
            return None
        return f"/api/projects/{job.project.slug}/exports/{job.pk}/download/"


def _source(project: Any, data: dict[str, Any]) -> dict[str, Any]:
    try:
        if data.get("task"):
            return {"task": selectors.task_get_by_slug(project=project, slug=data["task"])}
        if data.get("dataset"):
            return {"dataset": selectors.dataset_get_by_name(project=project, name=data["dataset"])}
        if data.get("report"):
            return {"report": selectors.report_get_done(project=project, report_id=data["report"])}
    except ApplicationError as exc:
        raise serializers.ValidationError({"source": [exc.message]}) from exc
    raise serializers.ValidationError({"source": ["Give task, dataset or report."]})


class _Filters(serializers.Serializer):
    pools = serializers.ListField(child=serializers.CharField(), required=False)
    guideline_versions = serializers.ListField(child=serializers.CharField(), required=False)
    systems = serializers.ListField(child=serializers.CharField(), required=False)
    date_from = serializers.CharField(required=False, help_text="YYYY-MM-DD or ISO datetime")
    date_to = serializers.CharField(required=False, help_text="YYYY-MM-DD (inclusive) or ISO")


class ExportListApi(ExportsAPIView):
    class OutputSerializer(_JobOutput):
        pass

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        jobs = selectors.export_job_list(project=self.project).select_related("project")[:200]
        return Response(self.OutputSerializer(jobs, many=True).data)


class ExportRequestApi(ExportsAPIView):
    """Queue an export job: raw annotations of a task or dataset, or a finished report.
    Poll the job until `status` is done, then GET its `download_url`."""

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ExportKind.choices)
        format = serializers.ChoiceField(choices=[*ANNOTATION_FORMATS, *REPORT_FORMATS])
        task = serializers.CharField(required=False, help_text="Task slug (annotations)")
        dataset = serializers.CharField(required=False, help_text="Dataset name (annotations)")
        report = serializers.IntegerField(required=False, help_text="Report id (report)")
        filters = _Filters(required=False, default=dict)
        identity = serializers.ChoiceField(
            choices=["pseudonym", "username"], default="pseudonym", help_text="username: leads only"
        )

    class OutputSerializer(_JobOutput):
        pass

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = export_job_request(
                actor=request.user,
                project=self.project,
                kind=data["kind"],
                fmt=data["format"],
                filters=data["filters"],
                options={"identity": data["identity"]},
                **_source(self.project, data),
            )
        except ApplicationError as exc:
            raise serializers.ValidationError({"detail": exc.message}) from exc
        return Response(self.OutputSerializer(job).data, status=202)


class ExportDetailApi(ExportsAPIView):
    class OutputSerializer(_JobOutput):
        pass

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, slug: str, job_id: int) -> Response:
        try:
            job = selectors.export_job_get(project=self.project, job_id=job_id)
        except selectors.NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        return Response(self.OutputSerializer(job).data)


class ExportDownloadApi(ExportsAPIView):
    """The finished file (409 while the job is not done)."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request: AuthenticatedRequest, slug: str, job_id: int) -> HttpResponseBase:
        try:
            job = selectors.export_job_get(project=self.project, job_id=job_id)
            path = selectors.export_job_file(job=job)
        except selectors.NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        except ApplicationError as exc:
            return Response({"detail": exc.message}, status=409)
        return FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name)


class AnnotationsStreamApi(ExportsAPIView):
    """Stream raw annotations as CSV or JSONL at once (up to EXPORT_DIRECT_MAX_ROWS rows;
    413 above, then request a job). Query: task or dataset, file_format (csv or jsonl;
    DRF keeps `format` for itself), identity, and the filters pools / guideline_versions /
    systems (comma-separated), date_from, date_to."""

    class InputSerializer(serializers.Serializer):
        task = serializers.CharField(required=False)
        dataset = serializers.CharField(required=False)
        file_format = serializers.ChoiceField(choices=["csv", "jsonl"], default="csv")
        identity = serializers.ChoiceField(choices=["pseudonym", "username"], default="pseudonym")
        pools = serializers.CharField(required=False, default="")
        guideline_versions = serializers.CharField(required=False, default="")
        systems = serializers.CharField(required=False, default="")
        date_from = serializers.CharField(required=False, default="")
        date_to = serializers.CharField(required=False, default="")

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.BINARY})
    def get(self, request: AuthenticatedRequest, slug: str) -> HttpResponseBase:
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filters = {
            key: [v for v in data[key].split(",") if v]
            for key in ("pools", "guideline_versions", "systems")
        } | {"date_from": data["date_from"], "date_to": data["date_to"]}
        try:
            download = annotations_download(
                actor=request.user,
                project=self.project,
                fmt=data["file_format"],
                filters=filters,
                options={"identity": data["identity"]},
                **_source(self.project, data),
            )
        except ExportTooLarge as exc:
            return Response({"detail": exc.message}, status=413)
        except ApplicationError as exc:
            raise serializers.ValidationError({"detail": exc.message}) from exc
        response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        return response


class ReportExportApi(ExportsAPIView):
    """A finished report as json (with manifest), csv_zip, html or pdf, at once."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(
        self, request: AuthenticatedRequest, slug: str, report_id: int, fmt: str
    ) -> HttpResponse:
        if fmt not in REPORT_FORMATS:
            raise HttpNotFound(f"Formats: {', '.join(REPORT_FORMATS)}.")
        try:
            report = selectors.report_get_done(project=self.project, report_id=report_id)
        except selectors.NotFound as exc:
            raise HttpNotFound(exc.message) from exc
        except ApplicationError as exc:
            return Response({"detail": exc.message}, status=409)
        download = report_download(actor=request.user, report=report, fmt=fmt)
        response = HttpResponse(b"".join(download.chunks), content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        return response
