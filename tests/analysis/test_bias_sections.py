"""The report's bias and expert-vs-crowd sections: computed from a task's design,
drawn as figures, and explained on the page when the data cannot support them."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from analysis.bias_charts import bias_charts
from analysis.metrics.bias import bias_report
from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report
from analysis.services import agreement_report_compute, agreement_report_request
from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study
from tests.analysis.test_task_reports import annotate_everything
from tests.annotation.conftest import build_scenario


@pytest.fixture(scope="module")
def simulated_report():
    config = SimulationConfig(
        n_prompts=16,
        n_systems=2,
        pools={
            "crowd": PoolBehaviour(
                n_annotators=8, ratings_per_unit=4, tone_bias=0.6, position_bias=0.15
            ),
            "expert": PoolBehaviour(n_annotators=4, ratings_per_unit=3, tone_bias=0.0),
        },
    )
    study = simulate_study(config, rng=np.random.default_rng(3))
    table = study.annotations
    bias = bias_report(table, n_bootstrap=100, n_permutations=200, include_mixed_model=True)
    versus = expert_vs_crowd_report(study.rubric, n_bootstrap=100, bias_section=bias)
    return {"bias": bias, "expert_vs_crowd": versus}


@pytest.mark.slow
def test_every_bias_figure_is_drawn_from_a_simulated_study(simulated_report):
    figures = bias_charts(simulated_report)
    assert set(figures) == {
        "tone_interaction",
        "detection_recall",
        "position_bias",
        "crowd_size",
        "annotator_accuracy",
    }
    for name, svg in figures.items():
        assert svg is not None and svg.startswith("<svg"), name
        assert "<script" not in svg and "style=" not in svg


def test_figures_are_absent_when_the_sections_are_not_applicable():
    report = {
        "bias": {"status": "not_applicable", "reason": "x"},
        "expert_vs_crowd": {"status": "not_applicable"},
    }
    assert all(svg is None for svg in bias_charts(report).values())


@pytest.mark.slow
def test_labels_in_figures_are_escaped(simulated_report):
    import copy

    report = copy.deepcopy(simulated_report)
    report["bias"]["pools"]["<script>alert(1)</script>"] = report["bias"]["pools"].pop("crowd")
    svg = bias_charts(report)["detection_recall"]
    assert "<script>alert" not in svg and "&lt;script&gt;" in svg


@pytest.mark.django_db
@pytest.mark.slow
def test_a_task_report_carries_bias_sections_and_the_page_explains_them(db):
    scenario = build_scenario(mode="single", n_prompts=6, n_systems=2, k=3, n_annotators=3)

    def answer(annotator, assignment, shown):
        return {"quality": {"A": 3 + assignment.unit_id % 2}, "has_error": {"A": False}}

    annotate_everything(scenario, answer)
    report = agreement_report_request(
        actor=scenario.lead,
        project=scenario.project,
        task=scenario.task,
        parameters={"n_bootstrap": 50},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    result = __import__("json").loads(report.result_json)
    # One crowd pool: the bias checks run, and expert-vs-crowd says why it cannot.
    assert "crowd" in result["bias"]["pools"]
    assert result["expert_vs_crowd"]["status"] == "not_applicable"
    client = Client()
    client.force_login(scenario.lead)
    page = client.get(f"/p/{scenario.project.slug}/analysis/reports/{report.pk}/").content.decode()
    assert "Can these judgements be trusted?" in page
    assert "Needs answers from both an expert pool and a crowd pool." in page
    # Checks the data cannot support show their reason instead of a number.
    assert "no preference question" in page
