"""Reads of the analysis app. Every function is scoped by a project the caller has
already resolved through `common.selectors.project_get_for_actor`, so a dataset or
report id from another project is simply not found."""

from __future__ import annotations

from typing import Any

import orjson
from django.db.models import QuerySet

from analysis.models import AgreementReport, AnnotationDataset, ReportSource
from common.exceptions import ApplicationError, NotFound
from common.models import Project

DOCUMENT_FORMAT = "judgebench.agreement-report"
DOCUMENT_VERSION = 1


def dataset_list(*, project: Project) -> QuerySet[AnnotationDataset]:
    return AnnotationDataset.objects.filter(project=project).order_by("name")


def dataset_get(*, project: Project, dataset_id: int) -> AnnotationDataset:
    dataset = AnnotationDataset.objects.filter(project=project, pk=dataset_id).first()
    if dataset is None:
        raise NotFound("No such dataset in this project.")
    return dataset


def dataset_get_by_name(*, project: Project, name: str) -> AnnotationDataset:
    dataset = AnnotationDataset.objects.filter(project=project, name=name).first()
    if dataset is None:
        raise NotFound(f"The project has no dataset named '{name}'.")
    return dataset


def report_list(
    *, project: Project, dataset: AnnotationDataset | None = None
) -> QuerySet[AgreementReport]:
    reports = AgreementReport.objects.filter(project=project).select_related(
        "dataset", "created_by"
    )
    if dataset is not None:
        reports = reports.filter(dataset=dataset)
    # The result can be megabytes; lists never need it.
    return reports.defer("result_json").order_by("-created_at", "-id")


def report_get(*, project: Project, report_id: int) -> AgreementReport:
    report = (
        AgreementReport.objects.filter(project=project, pk=report_id)
        .select_related("dataset", "created_by", "project")
        .first()
    )
    if report is None:
        raise NotFound("No such report in this project.")
    return report


def report_result(*, report: AgreementReport) -> dict[str, Any] | None:
    """The stored report as a dict, or None before it is done."""
    return orjson.loads(report.result_json) if report.result_json else None


def report_source_label(*, report: AgreementReport) -> str:
    if report.source_kind == ReportSource.DATASET:
        return f"dataset {report.dataset.name}" if report.dataset else "deleted dataset"
    return f"task {report.source_ref}"


def report_provenance(*, report: AgreementReport) -> dict[str, Any]:
    """Everything the report was computed from, as stored."""
    source: dict[str, Any] = {"kind": report.source_kind}
    if report.source_kind == ReportSource.DATASET:
        source |= {
            "dataset_id": report.dataset_id,
            "dataset": report.dataset.name if report.dataset else None,
        }
    else:
        source["task"] = report.source_ref
    return {
        "report_id": report.pk,
        "project": report.project.slug,
        "source": source,
        "filters": report.filters,
        "parameters": report.parameters,
        "data_hash": report.data_hash,
        "platform_version": report.platform_version,
        "status": report.status,
        "created_at": report.created_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
    }


def report_document_json(*, report: AgreementReport) -> bytes:
    """The downloadable JSON document: provenance and the report (docs/analysis.md).

    Page, API and command line all serve these bytes; the ``report`` member is the
    stored result, byte for byte (its keys sorted, as computed).
    """
    if not report.result_json:
        raise ApplicationError("The report is not finished yet.")
    head = orjson.dumps(
        {
            "format": DOCUMENT_FORMAT,
            "format_version": DOCUMENT_VERSION,
            "provenance": report_provenance(report=report),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    # Splice the stored bytes in rather than re-serialising them.
    return head[:-1] + b',"report":' + report.result_json.encode("utf-8") + b"}"
