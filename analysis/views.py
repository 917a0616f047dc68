"""Pages of the analysis app: datasets from elsewhere, and agreement reports.

Leads and researchers of the project only; annotators never see agreement data.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from analysis.importing import detect_format, parse_declarations
from analysis.jobs import report_job_notice
from analysis.metrics.report_schema import describe
from analysis.models import AgreementReport, ReportStatus
from analysis.report_charts import figure_svgs, section_nodes
from analysis.selectors import (
    dataset_get,
    dataset_list,
    report_document_json,
    report_get,
    report_list,
    report_result,
    report_source_label,
)
from analysis.services import (
    DEFAULT_PARAMETERS,
    ImportRefused,
    agreement_report_request,
    bundle_files,
    dataset_import,
)
from common.exceptions import ApplicationError
from common.models import Project, ProjectRole
from common.views import project_view

READERS = [ProjectRole.LEAD, ProjectRole.RESEARCHER]


class DatasetImportForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Unique within the project.")
    file = forms.FileField(label="Annotations", help_text="CSV, JSONL or Parquet in long format.")
    format = forms.ChoiceField(
        choices=[
            ("", "from the file name"),
            ("csv", "CSV"),
            ("jsonl", "JSONL"),
            ("parquet", "Parquet"),
        ],
        required=False,
        label="Format of the annotations",
    )
    units = forms.FileField(
        required=False,
        label="Units (study bundle)",
        help_text="Optional: what each unit showed — one row per unit with unit, prompt_id, "
        "system, output, tone, known_errors, variant (pairs: system_a, system_b, output_a, "
        "output_b, …). CSV, JSONL or Parquet.",
    )
    annotators = forms.FileField(
        required=False,
        label="Annotators (study bundle)",
        help_text="Optional: one row per annotator with annotator, pool, pool_kind "
        "(expert or crowd) and attr.* columns.",
    )
    declarations = forms.CharField(
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "placeholder": "level quality=ordinal\norder quality=bad,ok,good\n"
                "role quality=quality\nrole has_error=error_flag",
            }
        ),
        required=False,
        help_text="One per line (level, order, role); overrides the file's own header. "
        "Undeclared questions are nominal. Roles: quality, error_flag, assertiveness, "
        "preference.",
    )
    replace = forms.BooleanField(required=False, help_text="Replace a dataset of this name.")

    def clean_declarations(self) -> dict[str, dict[str, Any]]:
        declared, errors = parse_declarations(self.cleaned_data["declarations"])
        if errors:
            raise forms.ValidationError([f"Line {e.line}: {e.message}" for e in errors])
        return declared


class ReportRequestForm(forms.Form):
    n_bootstrap = forms.IntegerField(min_value=0, max_value=10_000, initial=1000)
    seed = forms.IntegerField(min_value=0, initial=0)
    confidence_level = forms.FloatField(min_value=0.5, max_value=0.999, initial=0.95)
    # The fields below may be left empty (older forms and scripts do): the defaults apply.
    min_shared_units = forms.IntegerField(
        required=False,
        min_value=1,
        initial=DEFAULT_PARAMETERS["min_shared_units"],
        help_text="Units two annotators must share for their Cohen's kappa.",
    )
    min_expert_labels = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        initial=DEFAULT_PARAMETERS["min_expert_labels"],
        help_text="Expert labels a unit needs to serve as the expert reference.",
    )
    treated_tone = forms.CharField(
        required=False,
        max_length=64,
        initial=DEFAULT_PARAMETERS["treated_tone"],
        help_text="Tone checks compare this condition…",
    )
    control_tone = forms.CharField(
        required=False,
        max_length=64,
        initial=DEFAULT_PARAMETERS["control_tone"],
        help_text="…with this one.",
    )
    pools = forms.CharField(required=False, help_text="Comma-separated; empty means all.")
    guideline_versions = forms.CharField(required=False, help_text="Comma-separated; empty = all.")

    PARAMETERS = (
        "n_bootstrap",
        "seed",
        "confidence_level",
        "min_shared_units",
        "min_expert_labels",
        "treated_tone",
        "control_tone",
    )

    def parameters(self) -> dict[str, Any]:
        return {
            key: self.cleaned_data[key]
            for key in self.PARAMETERS
            if self.cleaned_data.get(key) not in (None, "")
        }

    def filters(self) -> dict[str, list[str]]:
        return {
            key: [v.strip() for v in self.cleaned_data[key].split(",") if v.strip()]
            for key in ("pools", "guideline_versions")
            if self.cleaned_data[key].strip()
        }


@require_GET
@project_view(READERS)
def analysis_home(request: HttpRequest, project: Project) -> HttpResponse:
    context = {
        "project": project,
        "datasets": dataset_list(project=project),
        "reports": report_list(project=project)[:50],
    }
    return render(request, "analysis/home.html", context)


@project_view(READERS)
def dataset_import_page(request: HttpRequest, project: Project) -> HttpResponse:
    form = DatasetImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"project": project, "form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            fmt = detect_format(upload.name, data["format"] or None)
            bundle = bundle_files(units=data["units"], annotators=data["annotators"])
            context["dataset"] = dataset_import(
                actor=request.user,
                project=project,
                name=data["name"],
                stream=upload,
                fmt=fmt,
                filename=upload.name,
                declarations=data["declarations"],
                replace=data["replace"],
                **bundle,
            )
        except ValueError as exc:
            form.add_error("format", str(exc))
        except ImportRefused as refused:
            context["refused"] = refused
        except ApplicationError as exc:
            form.add_error("name", exc.message)
    template = "analysis/dataset_import.html"
    if request.htmx:
        template += "#import-result"
    failed = "refused" in context or (request.method == "POST" and bool(form.errors))
    return render(request, template, context, status=400 if failed else 200)


@require_GET
@project_view(READERS)
def dataset_detail(request: HttpRequest, project: Project, dataset_id: int) -> HttpResponse:
    dataset = dataset_get(project=project, dataset_id=dataset_id)
    context = {
        "project": project,
        "dataset": dataset,
        "form": ReportRequestForm(),
        "reports": report_list(project=project, dataset=dataset),
    }
    return render(request, "analysis/dataset_detail.html", context)


@require_POST
@project_view(READERS)
def report_request(request: HttpRequest, project: Project, dataset_id: int) -> HttpResponse:
    dataset = dataset_get(project=project, dataset_id=dataset_id)
    form = ReportRequestForm(request.POST)
    report = None
    if form.is_valid():
        try:
            report = agreement_report_request(
                actor=request.user,
                project=project,
                dataset=dataset,
                parameters=form.parameters(),
                filters=form.filters(),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    if report is None:
        context = {"project": project, "dataset": dataset, "form": form, "reports": []}
        return render(request, "analysis/dataset_detail.html", context, status=400)
    url = reverse("analysis-report", args=[project.slug, report.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _report_context(project: Project, report: AgreementReport) -> dict[str, Any]:
    context: dict[str, Any] = {
        "project": project,
        "report": report,
        "source": report_source_label(report=report),
        "polling": report.status in (ReportStatus.QUEUED, ReportStatus.RUNNING),
        "job_notice": report_job_notice(report),
    }
    result = report_result(report=report)
    if result is None:
        return context
    # The same typed description (and section partial) as the HTML and PDF exports.
    description = describe(result)
    context |= {
        "result": result,
        "description": description,
        "nodes": section_nodes(description, figure_svgs(result, description)),
    }
    return context


@require_GET
@project_view(READERS)
def report_page(request: HttpRequest, project: Project, report_id: int) -> HttpResponse:
    report = report_get(project=project, report_id=report_id)
    template = "analysis/report.html"
    if request.htmx:
        template += "#report-body"
    response = render(request, template, _report_context(project, report))
    response["Vary"] = "HX-Request"
    return response


@require_GET
@project_view(READERS)
def report_download(request: HttpRequest, project: Project, report_id: int) -> HttpResponse:
    report = report_get(project=project, report_id=report_id)
    try:
        body = report_document_json(report=report)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="agreement-report-{report.pk}.json"'
    return response
