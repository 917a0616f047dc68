"""The demo's dataset "from elsewhere": imported once, its report computed by the seed."""

from __future__ import annotations

import json

from analysis.models import AgreementReport, ReportStatus
from demo.dataset import seed_demo_dataset
from demo.reports import demo_report_compute


def test_the_dataset_and_its_report_are_seeded_once(project_roles):
    project, researcher = project_roles.project, project_roles.researcher
    dataset = seed_demo_dataset(project=project, researcher=researcher)
    assert seed_demo_dataset(project=project, researcher=researcher).pk == dataset.pk
    assert dataset.unit_count >= 200
    assert set(dataset.questions) == {"quality", "assertiveness", "has_factual_error"}
    [report] = AgreementReport.objects.filter(dataset=dataset)
    assert report.status == ReportStatus.QUEUED  # requested without a job: the seed computes it
    report = demo_report_compute(report)
    assert report.status == ReportStatus.DONE
    assert demo_report_compute(report).finished_at == report.finished_at  # done stays done
    result = json.loads(report.result_json)
    pools = result["questions"]["quality"]["breakdowns"]["pool"]["groups"]
    assert set(pools) == {"crowd", "expert"}
    assert set(result["questions"]["quality"]["breakdowns"]["guideline_version"]["groups"]) == {
        "v1",
        "v2",
    }
