"""Agreement reports of real tasks: the loader de-blinds, and the command names tasks by slug."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.loaders import task_table
from annotation.models import Unit, UnitOutput
from annotation.services.assignment import assignment_claim
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_launch, unit_mark_gold
from tests.annotation.conftest import build_scenario


def annotate_everything(scenario, answer_for) -> int:
    """Every annotator claims and answers until the task has nothing left for them."""
    stored = 0
    for annotator in scenario.annotators:
        while (assignment := assignment_claim(actor=annotator, task=scenario.task)) is not None:
            shown = assignment.shown_order
            answers = answer_for(annotator, assignment, shown)
            annotation_submit(actor=annotator, handle=assignment.handle, answers=answers)
            stored += 1
    return stored


@pytest.mark.django_db
def test_single_task_table_maps_answers_to_outputs_and_design(db):
    scenario = build_scenario(
        mode="single", n_prompts=5, n_systems=2, k=3, n_annotators=3, gold_share=0.1, launch=False
    )
    gold_unit = Unit.objects.filter(task=scenario.task).order_by("ordinal").first()
    unit_mark_gold(
        actor=scenario.lead, unit=gold_unit, answers={"quality": {"A": 5}, "has_error": {"A": True}}
    )
    scenario.task = task_launch(actor=scenario.lead, task=scenario.task)

    def answer(annotator, assignment, shown):
        quality = 5 if annotator == scenario.annotators[0] else 4
        return {"quality": {"A": quality}, "has_error": {"A": assignment.unit_id % 2 == 0}}

    stored = annotate_everything(scenario, answer)
    assert stored == 10 * 3

    with CaptureQueriesContext(connection) as queries:
        table, questions = task_table(task=scenario.task)
    assert len(queries) <= 4  # design, gold units, one streamed query over annotations
    assert set(questions) == {"quality", "has_error"}
    assert questions["quality"]["level"] == "ordinal"
    assert len(table) == 30 * 2
    # Annotators appear by pseudonym, never by username.
    assert not set(table["annotator_id"]) & {u.username for u in scenario.annotators}
    output_of_unit = dict(
        UnitOutput.objects.filter(unit__task=scenario.task).values_list("unit_id", "output_id")
    )
    row = table[(table["question"] == "quality")].iloc[0]
    unit_pk, output_pk = (int(part) for part in row["unit_id"].split("/"))
    assert output_of_unit[unit_pk] == output_pk == row["output_id"]
    output = next(o for o in scenario.outputs if o.pk == output_pk)
    assert row["system"] == output.system.name
    assert row["tone"] == output.tone_condition
    assert row["n_known_errors"] == output.known_error_count
    assert row["output_length"] == len(output.text)
    assert set(table["pool_kind"]) == {"crowd"}

    gold_rows = table[table["is_gold"]]
    assert set(gold_rows["unit_id"].str.split("/").str[0].astype(int)) == {gold_unit.pk}
    assert set(gold_rows[gold_rows["question"] == "quality"]["gold_value"]) == {5}


@pytest.mark.django_db
@pytest.mark.slow
def test_pairwise_votes_are_reported_per_system_after_undoing_the_order(db):
    scenario = build_scenario(mode="pairwise", n_prompts=12, n_systems=2, k=2, n_annotators=2)
    first_system = scenario.systems[0].name
    system_of_output = {o.pk: o.system.name for o in scenario.outputs}

    def answer(annotator, assignment, shown):
        # Both annotators always prefer the first system, wherever it is shown.
        letter = "A" if system_of_output[shown[0]] == first_system else "B"
        return {"preference": {"choice": letter}, "quality": {"A": 3, "B": 4}}

    annotate_everything(scenario, answer)
    table, questions = task_table(task=scenario.task)
    assert questions["preference"]["type"] == "pairwise"
    votes = table[table["question"] == "preference"]
    assert set(votes["value"]) == {"A", "B"}  # counterbalancing: the same vote, both letters
    out = io.StringIO()
    call_command(
        "agreement_report", "--task", scenario.task.slug, "--n-bootstrap", "50", stdout=out
    )
    document = json.loads(out.getvalue())
    report = document.get("report", document)
    preference = report["questions"]["preference"]["preference"]
    assert preference["without_ties"]["percent_agreement"]["value"] == pytest.approx(1.0)
    assert preference["with_ties"]["percent_agreement"]["value"] == pytest.approx(1.0)


@pytest.mark.django_db
def test_agreement_report_command_rejects_an_unknown_task(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No task with slug"):
        call_command("agreement_report", "--task", "nope", stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.slow
def test_pairwise_task_report_ranks_the_systems_behind_the_blinded_votes(db):
    scenario = build_scenario(mode="pairwise", n_prompts=30, n_systems=4, k=3, n_annotators=3)
    strength = {system.name: 1.2 * (3 - i) for i, system in enumerate(scenario.systems)}
    system_of_output = {o.pk: o.system.name for o in scenario.outputs}
    rng = np.random.default_rng(0)

    def answer(annotator, assignment, shown):
        first, second = (system_of_output[o] for o in shown)
        p_first = 1 / (1 + np.exp(-(strength[first] - strength[second])))
        letter = "A" if rng.random() < p_first else "B"
        return {"preference": {"choice": letter}, "quality": {"A": 3, "B": 3}}

    stored = annotate_everything(scenario, answer)
    out = io.StringIO()
    call_command(
        "agreement_report",
        "--task",
        scenario.task.slug,
        "--format",
        "json",
        "--n-bootstrap",
        "100",
        stdout=out,
    )
    document = json.loads(out.getvalue())
    report = document.get("report", document)
    rankings = report["rankings"]
    assert rankings["status"] == "computed" and rankings["question"] == "preference"
    assert rankings["bootstrap"]["unit"] == "prompt"
    overall = rankings["leaderboards"]["overall"]
    assert overall["n_votes"] == stored
    names = [row["system"] for row in overall["systems"]]
    assert set(names) == set(strength)
    # The strongest system leads and the weakest trails, whatever letters they were shown as.
    assert names[0] == scenario.systems[0].name and names[-1] == scenario.systems[-1].name
    assert overall["n_prompts"] == 30
    assert overall["cross_check"]["agrees"] is True
    assert set(rankings["leaderboards"]) == {"overall", "crowd"}
    stability = report["rank_stability"]["leaderboards"]["overall"]
    assert stability["verdict"] in {"stable", "fragile", "unstable"}
    assert len(stability["adjacent_pairs"]) == 3


@pytest.mark.django_db
def test_a_single_output_task_report_says_why_it_has_no_ranking(db):
    scenario = build_scenario(mode="single", n_prompts=4, n_systems=2, k=2, n_annotators=2)
    annotate_everything(
        scenario,
        lambda annotator, assignment, shown: {"quality": {"A": 4}, "has_error": {"A": False}},
    )
    out = io.StringIO()
    call_command(
        "agreement_report", "--task", scenario.task.slug, "--n-bootstrap", "20", stdout=out
    )
    document = json.loads(out.getvalue())
    report = document.get("report", document)
    assert report["rankings"]["status"] == "not_applicable"
    assert "pairwise" in report["rankings"]["reason"]
    assert report["rank_stability"]["status"] == "not_applicable"


@pytest.mark.django_db
@pytest.mark.slow
def test_the_api_requests_a_task_report_and_serves_its_leaderboard(
    db, django_capture_on_commit_callbacks
):
    from analysis.services import agreement_report_compute
    from common.models import ProjectRole
    from tests.conftest import api_as
    from tests.factories import MembershipFactory, UserFactory

    scenario = build_scenario(mode="pairwise", n_prompts=10, n_systems=3, k=2, n_annotators=2)
    system_of_output = {o.pk: o.system.name for o in scenario.outputs}
    best = scenario.systems[0].name

    def answer(annotator, assignment, shown):
        first, second = (system_of_output[o] for o in shown)
        letter = "A" if first == best else "B" if second == best else "tie"
        return {"preference": {"choice": letter}, "quality": {"A": 3, "B": 4}}

    annotate_everything(scenario, answer)
    project = scenario.project
    researcher = UserFactory(username=f"res-{project.slug}")
    MembershipFactory(project=project, user=researcher, role=ProjectRole.RESEARCHER)
    base = f"/api/projects/{project.slug}/"
    client = api_as(researcher)
    leaderboard_url = base + f"tasks/{scenario.task.slug}/leaderboard/"
    assert client.get(leaderboard_url).status_code == 404  # nothing computed yet

    refused = client.post(base + "reports/request/", {}, format="json")
    assert refused.status_code == 400 and "exactly one source" in str(refused.json())
    unknown = client.post(base + "reports/request/", {"task": "no-such-task"}, format="json")
    assert unknown.status_code == 400 and "task" in unknown.json()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            base + "reports/request/",
            {"task": scenario.task.slug, "parameters": {"n_bootstrap": 50}},
            format="json",
        )
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    pending = client.get(leaderboard_url)
    assert pending.status_code == 404 and pending.json()["pending_report"] == response.json()["id"]
    agreement_report_compute(report_id=response.json()["id"])

    board = client.get(leaderboard_url)
    assert board.status_code == 200
    body = board.json()
    assert body["report"] == response.json()["id"]
    overall = body["rankings"]["leaderboards"]["overall"]
    assert overall["systems"][0]["system"] == best
    assert body["rank_stability"]["status"] == "computed"
    # The report's JSON document carries the same sections.
    document = json.loads(client.get(base + f"reports/{body['report']}/json/").content)
    assert document["report"]["rankings"] == body["rankings"]

    # Annotators of the project reach neither the leaderboard nor the request endpoint.
    annotator_client = api_as(scenario.annotators[0])
    assert annotator_client.get(leaderboard_url).status_code == 403
    assert (
        annotator_client.post(
            base + "reports/request/", {"task": scenario.task.slug}, format="json"
        ).status_code
        == 403
    )
