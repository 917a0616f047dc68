"""The exports page: raw annotations and agreement reports, direct or as jobs.

Leads and researchers of the project only (annotators get 403). Files are served
through these views after the access check, never from a public media URL.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from common.exceptions import ApplicationError
from common.http import AuthenticatedHttpRequest
from common.models import Project, ProjectRole
from common.selectors import project_roles_for_user
from common.views import project_view
from exports import selectors
from exports.jobs import export_job_notice
from exports.models import REPORT_FORMATS, ExportStatus
from exports.services import Download, annotations_export, report_download

READERS = [ProjectRole.LEAD, ProjectRole.RESEARCHER]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class AnnotationExportForm(forms.Form):
    source = forms.ChoiceField(help_text="A task of the project or an imported dataset.")
    format = forms.ChoiceField(
        choices=[
            ("csv", "CSV"),
            ("jsonl", "JSON Lines"),
            ("parquet", "Parquet"),
            ("hf", "Hugging Face dataset (zip)"),
        ]
    )
    pools = forms.CharField(required=False, help_text="Comma-separated pool names.")
    guideline_versions = forms.CharField(required=False, help_text="Comma-separated numbers.")
    systems = forms.CharField(required=False, help_text="Comma-separated system names.")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Inclusive.",
    )
    as_job = forms.BooleanField(
        required=False, help_text="Run as a background job even if it is small."
    )

    def __init__(self, *args: Any, project: Project, lead: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tasks = [
            (f"task:{t.slug}", f"Task: {t.title}") for t in selectors.task_list(project=project)
        ]
        datasets = [
            (f"dataset:{d.name}", f"Dataset: {d.name}") for d in project.datasets.order_by("name")
        ]
        cast(forms.ChoiceField, self.fields["source"]).choices = tasks + datasets
        # Real identities are a lead's choice; researchers never see the option.
        if lead:
            self.fields["identity"] = forms.ChoiceField(
                choices=[("pseudonym", "Pseudonyms"), ("username", "Real usernames")],
                initial="pseudonym",
            )

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "pools": _names(data["pools"]),
            "guideline_versions": _names(data["guideline_versions"]),
            "systems": _names(data["systems"]),
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }


def _streamed(download: Download) -> StreamingHttpResponse:
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _source(project: Project, value: str) -> dict[str, Any]:
    kind, _, name = value.partition(":")
    if kind == "task":
        return {"task": selectors.task_get_by_slug(project=project, slug=name)}
    return {"dataset": selectors.dataset_get_by_name(project=project, name=name)}


def _context(project: Project, form: AnnotationExportForm) -> dict[str, Any]:
    # (job, notice) pairs: the notice says what happens to a job whose worker died.
    jobs = [
        (job, export_job_notice(job)) for job in selectors.export_job_list(project=project)[:50]
    ]
    return {
        "project": project,
        "form": form,
        "jobs": jobs,
        "polling": any(j.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for j, _ in jobs),
        "reports": selectors.report_list_done(project=project)[:50],
        "report_formats": [
            ("json", "JSON"),
            ("csv_zip", "CSV (zip)"),
            ("html", "HTML"),
            ("pdf", "PDF"),
        ],
    }


@project_view(READERS)
def exports_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponseBase:
    lead = ProjectRole.LEAD in project_roles_for_user(actor=request.user, project=project)
    form = AnnotationExportForm(request.POST or None, project=project, lead=lead)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = annotations_export(
                actor=request.user,
                project=project,
                fmt=data["format"],
                filters=form.filters(),
                options={"identity": data.get("identity", "pseudonym")},
                as_job=data["as_job"],
                **_source(project, data["source"]),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if isinstance(result, Download):
                return _streamed(result)
            return redirect("exports-page", project.slug)
    template = "exports/page.html#jobs" if request.htmx else "exports/page.html"
    status = 400 if request.method == "POST" else 200
    response = render(request, template, _context(project, form), status=status)
    response["Vary"] = "HX-Request"
    return response


@require_GET
@project_view(READERS)
def job_download(
    request: AuthenticatedHttpRequest, project: Project, job_id: int
) -> HttpResponseBase:
    job = selectors.export_job_get(project=project, job_id=job_id)
    try:
        path = selectors.export_job_file(job=job)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name)


@require_GET
@project_view(READERS)
def report_export(
    request: AuthenticatedHttpRequest, project: Project, report_id: int, fmt: str
) -> HttpResponseBase:
    if fmt not in REPORT_FORMATS:
        raise Http404("Unknown format.")
    try:
        report = selectors.report_get_done(project=project, report_id=report_id)
    except selectors.NotFound:
        raise  # the 404 page (common.errors); "not finished yet" is a 409
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    return _streamed(report_download(actor=request.user, report=report, fmt=fmt))
