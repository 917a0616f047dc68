from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from annotation.selectors import study_design_summary
from annotation.services.study import VariantSpec, study_variants_template_csv
from common.exceptions import ApplicationError
from common.http import AuthenticatedHttpRequest
from common.models import Project, ProjectRole
from common.views import project_view

DEFAULT_VARIANTS = (
    "assertive:assertive:0\nhedged:hedged:0\nassertive-error:assertive:1\nhedged-error:hedged:1"
)


@project_view([ProjectRole.LEAD])
def study_design_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponseBase:
    """Matched-variant coverage of the project, and the rewrite sheet to fill in."""
    variants_text = request.GET.get("variants", DEFAULT_VARIANTS)
    if request.GET.get("download"):
        try:
            variants = [VariantSpec.parse(line) for line in variants_text.split() if line.strip()]
            chunks = study_variants_template_csv(project=project, variants=variants)
            first = next(chunks)  # raises here, before the response starts, on bad input
        except ApplicationError as exc:
            context = {
                "project": project,
                "summary": study_design_summary(project=project),
                "variants_text": variants_text,
                "error": exc.message,
            }
            return render(request, "annotation/study_design.html", context, status=400)
        response = StreamingHttpResponse(_prepend(first, chunks), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-rewrites.csv"'
        return response
    context = {
        "project": project,
        "summary": study_design_summary(project=project),
        "variants_text": variants_text,
    }
    return render(request, "annotation/study_design.html", context)


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
