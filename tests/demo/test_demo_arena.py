"""The demo arena: a blind A/B task over six systems, voted on by simulated crowd and
expert annotators through the real claim and submit services.

The ranking built from these votes is another module's business; here only the design
(systems, pairs, pools, volume), the engine's guarantees (one vote per annotator and
unit, blind handles, answers in shown order) and a plain win count are checked.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import combinations

import pytest

from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Output,
    Prompt,
    System,
    Task,
    UnitOutput,
)
from annotation.selectors_annotator import assignment_item
from common.models import ProjectRole
from demo.arena import (
    ARENA_SLUG,
    ARENA_STRENGTHS,
    CROWD_FIRST_POSITION_SHIFT,
    CROWD_REDUNDANCY,
    EXPERT_REDUNDANCY,
    arena_vote,
    first_wins_probability,
    seed_demo_arena,
)
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

TOP, BOTTOM = "atlas-70b", "fjord-3b"


def test_experts_vote_by_the_strengths_and_the_crowd_leans_first_and_long():
    expert = first_wins_probability(
        first=TOP, second=BOTTOM, crowd=False, first_length=100, second_length=400
    )
    gap = ARENA_STRENGTHS[TOP] - ARENA_STRENGTHS[BOTTOM]
    assert expert == pytest.approx(1 / (1 + 10 ** (-gap / 400)))
    # Equal systems, equal lengths: the crowd's only lean is towards the first answer.
    same = {"first": TOP, "second": TOP, "first_length": 200, "second_length": 200}
    assert first_wins_probability(crowd=False, **same) == pytest.approx(0.5)
    assert first_wins_probability(crowd=True, **same) == pytest.approx(
        0.5 + CROWD_FIRST_POSITION_SHIFT
    )
    longer_first = {**same, "first_length": 400}
    assert first_wins_probability(crowd=True, **longer_first) > first_wins_probability(
        crowd=True, **same
    )
    assert first_wins_probability(crowd=False, **longer_first) == pytest.approx(0.5)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_arena_is_seeded_blind_balanced_and_once():
    lead = UserFactory(username="arena-lead")
    project = ProjectFactory(slug="arena", created_by=lead)
    MembershipFactory(project=project, user=lead, role=ProjectRole.LEAD)

    task = seed_demo_arena(project=project, lead=lead, researcher=lead)
    assert task.slug == ARENA_SLUG and task.mode == "pairwise" and task.status == "live"

    # Six systems, two of them per unit, every pair of systems in some battle (and the
    # balanced schedule spreads the battles evenly over the 15 pairs).
    outputs = {
        o.pk: o
        for o in Output.objects.filter(prompt__project=project).select_related("system", "prompt")
    }
    assert set(System.objects.filter(project=project).values_list("name", flat=True)) == set(
        ARENA_STRENGTHS
    )
    systems_of_unit: dict[int, list[str]] = {}
    for unit_id, output_id in UnitOutput.objects.filter(unit__task=task).values_list(
        "unit_id", "output_id"
    ):
        systems_of_unit.setdefault(unit_id, []).append(outputs[output_id].system.name)
    assert all(len(set(names)) == 2 for names in systems_of_unit.values())
    battles_per_pair = Counter(frozenset(names) for names in systems_of_unit.values())
    assert set(battles_per_pair) == {frozenset(p) for p in combinations(ARENA_STRENGTHS, 2)}
    assert max(battles_per_pair.values()) - min(battles_per_pair.values()) <= 1

    # Every vote is a real Annotation row on a submitted assignment, k per unit and pool.
    annotations = list(
        Annotation.objects.filter(unit__task=task).select_related(
            "assignment", "annotator", "task_pool__pool"
        )
    )
    n_units = len(systems_of_unit)
    assert len(annotations) == n_units * (CROWD_REDUNDANCY + EXPERT_REDUNDANCY) >= 1800
    per_pool = Counter(a.task_pool.pool.kind for a in annotations)
    assert per_pool == {"crowd": n_units * CROWD_REDUNDANCY, "expert": n_units * EXPERT_REDUNDANCY}
    assert {a.assignment.status for a in annotations} == {AssignmentStatus.SUBMITTED}
    assert Counter((a.unit_id, a.annotator_id) for a in annotations).most_common(1)[0][1] == 1

    # Blind: the assignment refers to no system, its handle is an opaque token, and what
    # the annotator was shown names no system either.
    related = {f.related_model for f in Assignment._meta.get_fields() if f.is_relation}
    assert System not in related and Output not in related
    handles = [a.assignment.handle for a in annotations]
    assert len(set(handles)) == len(handles)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16,}", h) for h in handles)
    assert not any(name in h for h in handles for name in ARENA_STRENGTHS)
    for annotation in annotations[:: len(annotations) // 20]:
        item = assignment_item(actor=annotation.annotator, assignment=annotation.assignment)
        shown = [outputs[pk] for pk in annotation.shown_order]
        assert [r["text"] for r in item["responses"]] == [o.text for o in shown]
        assert [r["label"] for r in item["responses"]] == ["A", "B"]
        seen = json.dumps(item, default=str)
        assert not any(name in seen for name in ARENA_STRENGTHS)

    # Each answer is given for the order that annotator was served: it is the simulated
    # vote for exactly those outputs in exactly that order.
    for annotation in annotations:
        shown = [outputs[pk] for pk in annotation.assignment.shown_order]
        assert annotation.shown_order == annotation.assignment.shown_order
        choice, _ = arena_vote(
            annotator=annotation.annotator.username,
            prompt_id=shown[0].prompt.external_id,
            shown=shown,
            crowd=annotation.task_pool.pool.kind == "crowd",
        )
        assert annotation.answers == {"preference": {"choice": choice}}
    # The engine counterbalances: each system is shown first in about half its votes.
    first = Counter(outputs[a.shown_order[0]].system.name for a in annotations)
    shown_at_all = Counter(outputs[pk].system.name for a in annotations for pk in a.shown_order)
    assert all(abs(first[s] / shown_at_all[s] - 0.5) < 0.1 for s in ARENA_STRENGTHS)

    # A plain win count: the strongest system beats the weakest more often than not.
    top_wins = top_battles = 0
    for annotation in annotations:
        names = [outputs[pk].system.name for pk in annotation.shown_order]
        if set(names) != {TOP, BOTTOM}:
            continue
        top_battles += 1
        choice = annotation.answers["preference"]["choice"]
        top_wins += choice != "tie" and names["AB".index(choice)] == TOP
    assert top_battles > 0 and top_wins > top_battles / 2

    # Seeding again changes nothing.
    counts = (
        Annotation.objects.count(),
        Assignment.objects.count(),
        Output.objects.count(),
        Prompt.objects.count(),
    )
    assert seed_demo_arena(project=project, lead=lead, researcher=lead).pk == task.pk
    assert Task.objects.filter(slug=ARENA_SLUG).count() == 1
    assert (
        Annotation.objects.count(),
        Assignment.objects.count(),
        Output.objects.count(),
        Prompt.objects.count(),
    ) == counts
