from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from annotation.importing import detect_format
from annotation.selectors import output_list, pool_list, project_counts, system_list
from annotation.services.outputs import ImportRefused, outputs_import
from common.http import AuthenticatedHttpRequest
from common.models import Project, ProjectRole
from common.selectors import project_members, project_roles_for_user
from common.views import project_view


class OutputImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL, CSV or Parquet; see the format in the README.")
    format = forms.ChoiceField(
        choices=[
            ("", "from the file name"),
            ("jsonl", "JSONL"),
            ("csv", "CSV"),
            ("parquet", "Parquet"),
        ],
        required=False,
    )


@project_view([ProjectRole.LEAD, ProjectRole.RESEARCHER])
def project_detail(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    """The project's hub: its systems, prompts, outputs and pools, and links to each part."""
    context = {
        "project": project,
        "roles": project_roles_for_user(actor=request.user, project=project),
        "counts": project_counts(project=project),
        "systems": system_list(project=project),
        "pools": pool_list(project=project),
        "members": project_members(project=project),
    }
    return render(request, "annotation/project_detail.html", context)


@project_view([ProjectRole.LEAD])
def outputs_import_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    form = OutputImportForm(request.POST or None, request.FILES or None)
    context: dict[str, object] = {"project": project, "form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            fmt = detect_format(upload.name, form.cleaned_data["format"] or None)
            context["result"] = outputs_import(
                actor=request.user, project=project, stream=upload, fmt=fmt, filename=upload.name
            )
        except ValueError as exc:
            form.add_error("format", str(exc))
        except ImportRefused as refused:
            context["refused"] = refused
    template = "annotation/outputs_import.html"
    if request.htmx:
        template += "#import-result"
    return render(request, template, context, status=400 if "refused" in context else 200)


@project_view([ProjectRole.LEAD, ProjectRole.RESEARCHER])
def outputs_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    system = request.GET.get("system") or None
    page = Paginator(output_list(project=project, system=system), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "project": project,
        "page": page,
        "systems": system_list(project=project),
        "selected_system": system,
    }
    return render(request, "annotation/outputs.html", context)
