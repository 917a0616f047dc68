"""`manage.py seed_demo` end to end: every stage reported, every role able to log in, the
project's description true to its data, the planted effects visible in the reports, and a
second run that changes nothing."""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

import demo
from analysis.models import AgreementReport, ReportStatus
from annotation.models import (
    Annotation,
    AnnotatorPool,
    Output,
    PoolMembership,
    Prompt,
    System,
    Task,
)
from common.models import AuditEvent, Project, User
from demo.content import FACTUAL_ITEMS

# Committed as it goes: the command computes the reports in a forked worker, which has a
# connection of its own.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_DIR = Path(demo.__file__).resolve().parent

STAGES = (
    "project, users and pools",
    "outputs",
    "guidelines",
    "live tasks",
    "simulated dataset",
    "simulated study demo-tone-study",
    "simulated study demo-tone-study-pairwise",
    "simulated study demo-arena",
    "report on the simulated dataset",
    "report on demo-tone-study",
    "report on demo-tone-study-pairwise",
    "report on demo-arena",
)


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _checks(slug: str, pool: str) -> dict:
    report = AgreementReport.objects.get(source_ref=slug)
    return json.loads(report.result_json)["bias"]["pools"][pool]["checks"]


def test_seed_demo_loads_everything_once_and_reports_each_stage():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = _seed()
    # Warnings from the libraries the analysis calls are the analysis's business; the
    # demo's own code raises none.
    assert not [w for w in caught if Path(w.filename).is_relative_to(DEMO_DIR)]
    lines = first.splitlines()
    assert lines[0] == "Seeding the demo:"
    for stage, line in zip(STAGES, lines[1 : 1 + len(STAGES)], strict=True):
        assert re.fullmatch(rf"  {re.escape(stage)} … .*\d+\.\d s", line), line
    assert re.fullmatch(r"seeded in \d+\.\d s", lines[1 + len(STAGES)])
    assert "crowd5" in first and "password 'demo'" in first

    # Every role logs in with the demo password.
    usernames = set(User.objects.values_list("username", flat=True))
    assert {"admin", "lead", "researcher", "expert1", "expert2", "crowd1", "crowd5"} <= usernames
    for username in ("admin", "lead", "researcher", "expert1", "crowd3"):
        assert Client().login(username=username, password="demo"), username
    assert PoolMembership.objects.filter(pool__name="Crowd pool").count() == 5
    assert AnnotatorPool.objects.filter(name__endswith="(simulated)").count() == 2
    slugs = set(Task.objects.values_list("slug", flat=True))
    assert slugs == {
        "demo-factual-qa",
        "demo-pairwise",
        "demo-tone-study",
        "demo-tone-study-pairwise",
        "demo-arena",
    }
    assert set(AgreementReport.objects.values_list("status", flat=True)) == {ReportStatus.DONE}

    # The description counts what is there.
    project = Project.objects.get(slug="demo")
    systems = System.objects.filter(project=project).count()
    questions = Prompt.objects.filter(project=project, external_id__startswith="qa-").count()
    assert questions == len(FACTUAL_ITEMS)
    assert project.description.startswith(f"4 assistants answer {questions} short factual")
    assert project.description.endswith(f"{systems} systems in all.")
    arena = Prompt.objects.filter(project=project, external_id__startswith="arena-").count()
    assert f"({arena} prompts)" in project.description

    # The tone study shows the crowd's planted tone bias and not the experts'.
    crowd, expert = _checks("demo-tone-study", "crowd"), _checks("demo-tone-study", "expert")
    assert crowd["tone_premium_paired"]["flagged"] and crowd["tone_premium_paired"]["ci_low"] > 0
    assert crowd["error_detection_by_tone"]["flagged"]
    premium = expert["tone_premium_paired"]
    assert not premium["flagged"] and premium["ci_low"] < 0 < premium["ci_high"]
    # Its A/B task shows the crowd's first-position pull, which the engine's
    # counterbalanced order makes measurable; the experts have none.
    assert _checks("demo-tone-study-pairwise", "crowd")["position_bias"]["flagged"]
    assert not _checks("demo-tone-study-pairwise", "expert")["position_bias"]["flagged"]
    # The arena's leaderboard leaves the planted near tie (10 Elo) unseparated and puts
    # the strongest and the weakest system at the ends. (Which 90-Elo neighbours it
    # separates is a matter of power: about 95% each, by design.)
    arena_report = AgreementReport.objects.get(source_ref="demo-arena")
    overall = json.loads(arena_report.result_json)["rankings"]["leaderboards"]["overall"]
    rows = {row["system"]: row for row in overall["systems"]}
    low, high = rows["borealis-8x7b"]["rank_interval"]
    assert (
        low <= rows["cirrus-34b"]["rank_interval"][1]
        and rows["cirrus-34b"]["rank_interval"][0] <= high
    )
    assert rows["atlas-70b"]["rank"] == 1 and rows["fjord-3b"]["rank"] == 6

    counts = (
        Output.objects.count(),
        Prompt.objects.count(),
        System.objects.count(),
        Annotation.objects.count(),
        AgreementReport.objects.count(),
    )
    events = AuditEvent.objects.count()
    second = _seed()
    assert (
        Output.objects.count(),
        Prompt.objects.count(),
        System.objects.count(),
        Annotation.objects.count(),
        AgreementReport.objects.count(),
    ) == counts
    # A second run records only its no-op import of the main outputs, nothing else.
    assert AuditEvent.objects.count() <= events + 1
    assert second.count("already computed") == 4
