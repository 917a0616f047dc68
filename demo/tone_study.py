"""The demo's simulated tone study: `demo-tone-study` and `demo-tone-study-pairwise`.

Three of the demo's assistants answer 24 of the hand-written questions; every answer
exists in an assertive and a hedged version that share the words of the answer (and so
its facts, its planted error if any, and nearly its length) and differ only in the
confidence around it. Simulated annotators (analysis.simulation) then work through real
tasks with the real engine: each claims items and answers what its simulated behaviour
says for the output it was served. The crowd pool is given a tone bias (assertive answers
rated higher, errors in them missed more often) and, in the A/B task, a first-position
bias; the expert pool none. The reports of these tasks should find exactly that; the
engine's counterbalanced A/B order is what lets the pairwise report see the position bias.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import orjson
from django.db import transaction

from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study
from annotation.models import AnnotatorPool, Output, PoolKind, Prompt, System, Task
from annotation.services.assignment import assignment_claim
from annotation.services.outputs import outputs_import
from annotation.services.pools import pool_create, pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.models import Project, User
from demo.content import FACTUAL_ITEMS, TONE_FRAMES
from demo.guidelines import FACTUAL_NAME, PAIRWISE_NAME
from demo.project import SYSTEMS
from demo.reports import demo_report_request
from guidelines.models import Guideline, GuidelineVersion, VersionStatus
from guidelines.services import guideline_version_acknowledge

STUDY_SLUG = "demo-tone-study"
PAIRWISE_SLUG = "demo-tone-study-pairwise"
STUDY_SEED = 20231001
STUDY_SYSTEMS = SYSTEMS[:3]
# Every fourth hand-written question: a spread over the topics, none from the quiz.
STUDY_QUESTIONS = tuple(range(0, 96, 4))
PROMPT_PREFIX = "tone-"
CROWD_FIRST_POSITION_SHIFT = 0.15
POOL_NAMES = {
    PoolKind.CROWD: "Study crowd (simulated)",
    PoolKind.EXPERT: "Study experts (simulated)",
}


@dataclass
class SimulatedAnswers:
    """Dense simulated answers: every simulated annotator's answer to every output."""

    answers: dict[tuple[str, str], dict[str, Any]]
    annotators: dict[str, str]  # simulated annotator id -> pool ("crowd"/"expert")
    outputs: list[dict[str, Any]]


def simulate_tone_study() -> SimulatedAnswers:
    # The real texts' lengths are not the simulator's, so no pool is given a length bias:
    # the study plants tone effects only, and its length check should find none.
    crowd = PoolBehaviour(
        n_annotators=12,
        ratings_per_unit=12,
        noise_sd=0.8,
        leniency_mean=0.2,
        leniency_sd=0.3,
        tone_bias=0.6,
        hit_rate_assertive=0.3,
        hit_rate_hedged=0.6,
        false_alarm_rate=0.1,
        error_penalty=0.8,
    )
    expert = PoolBehaviour(
        n_annotators=5,
        ratings_per_unit=5,
        noise_sd=0.5,
        leniency_sd=0.2,
        tone_bias=0.0,
        hit_rate_assertive=0.85,
        hit_rate_hedged=0.85,
        false_alarm_rate=0.05,
        error_penalty=1.2,
    )
    config = SimulationConfig(
        n_prompts=len(STUDY_QUESTIONS),
        n_systems=len(STUDY_SYSTEMS),
        error_probability=0.4,
        max_errors=1,
        pairwise=False,
        pools={"crowd": crowd, "expert": expert},
    )
    study = simulate_study(config, rng=np.random.default_rng(STUDY_SEED))
    rubric = study.rubric
    answers: dict[tuple[str, str], dict[str, Any]] = {}
    for annotator, output, question, value in zip(
        rubric["annotator_id"].astype(str),
        rubric["output_id"].astype(str),
        rubric["question"],
        rubric["value"],
        strict=True,
    ):
        answers.setdefault((annotator, output), {})[question] = int(value)
    annotators = dict(
        zip(rubric["annotator_id"].astype(str), rubric["pool"].astype(str), strict=True)
    )
    return SimulatedAnswers(answers, annotators, study.outputs.to_dict("records"))


def study_output_rows(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The import rows of the simulated design: the simulated prompt p and system s become
    question STUDY_QUESTIONS[p] answered by STUDY_SYSTEMS[s], right or with its planted
    error as the simulation decided, in the tone of the variant."""
    rows = []
    for output in outputs:
        number = int(str(output["prompt_id"]).removeprefix("p"))
        item = FACTUAL_ITEMS[STUDY_QUESTIONS[number]]
        system = STUDY_SYSTEMS[int(str(output["system"]).removeprefix("sys-"))]
        errors = int(output["n_known_errors"])
        tone = str(output["tone"])
        # One frame pair per content, so the two variants differ in tone only.
        assertive, hedged = random.Random(f"{STUDY_SEED}:{output['content_id']}").choice(
            TONE_FRAMES
        )
        frame = assertive if tone == "assertive" else hedged
        rows.append(
            {
                "prompt_id": f"{PROMPT_PREFIX}{number:02d}",
                "prompt": item.question,
                "system": system,
                "variant": tone,
                "output": frame.format(s=item.wrong if errors else item.right),
                "reference": item.right,
                "metadata": {
                    "tone": tone,
                    "known_errors": errors,
                    "topic": item.topic,
                    "simulated_output": str(output["output_id"]),
                },
            }
        )
    return rows


def _latest(project: Project, name: str) -> GuidelineVersion:
    guideline = Guideline.objects.get(project=project, name=name)
    return guideline.versions.filter(status=VersionStatus.PUBLISHED).latest("number")


def _study_users(
    *, lead: User, project: Project, simulated: SimulatedAnswers, version: GuidelineVersion
) -> dict[str, User]:
    pools = {
        kind: AnnotatorPool.objects.filter(project=project, name=name).first()
        or pool_create(actor=lead, project=project, name=name, kind=kind)
        for kind, name in POOL_NAMES.items()
    }
    users = {}
    for simulated_id, pool in sorted(simulated.annotators.items()):
        user, created = User.objects.get_or_create(username=f"sim-{simulated_id}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        pool_member_add(actor=lead, pool=pools[PoolKind(pool)], user=user)
        guideline_version_acknowledge(actor=user, version=version)
        users[simulated_id] = user
    return users


def _answer_single(
    simulated: SimulatedAnswers, simulated_id: str, output: Output
) -> dict[str, Any]:
    answer = simulated.answers[(simulated_id, output.metadata["simulated_output"])]
    return {
        "quality": {"A": answer["quality"]},
        "has_factual_error": {"A": bool(answer["has_factual_error"])},
        "assertiveness": {"A": answer["assertiveness"]},
    }


def _answer_pair(
    simulated: SimulatedAnswers, simulated_id: str, pair: list[Output], rng: random.Random
) -> dict[str, Any]:
    """Prefer the output this annotator rated higher, with a first-position pull in the crowd."""
    first, second = (_answer_single(simulated, simulated_id, output) for output in pair)
    gap = first["quality"]["A"] - second["quality"]["A"]
    shift = CROWD_FIRST_POSITION_SHIFT if simulated.annotators[simulated_id] == "crowd" else 0.0
    p_first = min(max(1 / (1 + math.exp(-1.2 * gap)) + shift, 0.0), 1.0)
    roll = rng.random()
    choice = "tie" if roll < 0.08 else ("A" if rng.random() < p_first else "B")
    return {
        "preference": {"choice": choice, "strength": None if choice == "tie" else "slightly"},
        "has_factual_error": {
            "A": first["has_factual_error"]["A"],
            "B": second["has_factual_error"]["A"],
        },
        "assertiveness": {"A": first["assertiveness"]["A"], "B": second["assertiveness"]["A"]},
    }


def _work_through(
    *, task: Task, users: dict[str, User], answer: Callable[[str, list[Output]], dict[str, Any]]
) -> int:
    """The simulated annotators take turns, one item each, until the engine has nothing
    left for any of them: work spreads over the pool as it would in a live task."""
    outputs = {
        o.pk: o
        for o in Output.objects.filter(
            prompt__project=task.project, prompt__external_id__startswith=PROMPT_PREFIX
        )
    }
    stored = 0
    waiting = dict(users)
    while waiting:
        for simulated_id, user in list(waiting.items()):
            assignment = assignment_claim(actor=user, task=task)
            if assignment is None:
                del waiting[simulated_id]
                continue
            shown = [outputs[pk] for pk in assignment.shown_order]
            annotation_submit(
                actor=user,
                handle=assignment.handle,
                answers=answer(simulated_id, shown),
                client_active_seconds=30.0,
            )
            stored += 1
    return stored


class _Selection(TypedDict):
    prompt_ids: list[int]
    system_ids: list[int]


def _study_selection(project: Project) -> _Selection:
    prompts = Prompt.objects.filter(project=project, external_id__startswith=PROMPT_PREFIX)
    systems = System.objects.filter(project=project, name__in=STUDY_SYSTEMS)
    return {
        "prompt_ids": list(prompts.values_list("pk", flat=True)),
        "system_ids": list(systems.values_list("pk", flat=True)),
    }


def _study_pools(project: Project) -> dict[str, AnnotatorPool]:
    return {
        pool.kind: pool
        for pool in AnnotatorPool.objects.filter(project=project, name__in=POOL_NAMES.values())
    }


@transaction.atomic
def seed_demo_tone_study(*, project: Project, lead: User, researcher: User) -> Task:
    """Create (once) the study's outputs, annotators and single-output task, with every
    simulated rating stored and its report requested; returns the task."""
    existing = Task.objects.filter(slug=STUDY_SLUG).first()
    if existing is not None:
        return existing
    simulated = simulate_tone_study()
    outputs_import(
        actor=lead,
        project=project,
        stream=io.BytesIO(
            b"\n".join(orjson.dumps(r) for r in study_output_rows(simulated.outputs))
        ),
        fmt="jsonl",
        filename="demo-tone-study.jsonl",
    )
    version = _latest(project, FACTUAL_NAME)
    users = _study_users(lead=lead, project=project, simulated=simulated, version=version)
    pools = _study_pools(project)
    task = task_create(
        actor=lead,
        project=project,
        slug=STUDY_SLUG,
        title="Tone study (simulated): assertive vs hedged answers",
        description=(
            "Each answer in an assertive and a hedged version with the same content, some "
            "with a planted factual error; rated by simulated crowd and expert pools."
        ),
        guideline_version=version,
        mode="single",
        seed=STUDY_SEED,
        **_study_selection(project),
    )
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.CROWD], redundancy=5)
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.EXPERT], redundancy=3)
    task = task_launch(actor=lead, task=task)
    _work_through(
        task=task,
        users=users,
        answer=lambda simulated_id, shown: _answer_single(simulated, simulated_id, shown[0]),
    )
    demo_report_request(project=project, researcher=researcher, task=task)
    return task


@transaction.atomic
def seed_demo_tone_study_pairwise(*, project: Project, lead: User, researcher: User) -> Task:
    """Create (once) the study's A/B task on the same outputs, every simulated vote cast
    through the engine, and request its report; returns the task."""
    existing = Task.objects.filter(slug=PAIRWISE_SLUG).first()
    if existing is not None:
        return existing
    simulated = simulate_tone_study()
    version = _latest(project, PAIRWISE_NAME)
    users = _study_users(lead=lead, project=project, simulated=simulated, version=version)
    pools = _study_pools(project)
    task = task_create(
        actor=lead,
        project=project,
        slug=PAIRWISE_SLUG,
        title="Tone study (simulated): which answer is better",
        description="Two versions of answers to the same question, shown in counterbalanced order.",
        guideline_version=version,
        mode="pairwise",
        pairing="balanced",
        pairs_per_prompt=3,
        seed=STUDY_SEED,
        **_study_selection(project),
    )
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.CROWD], redundancy=4)
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.EXPERT], redundancy=2)
    task = task_launch(actor=lead, task=task)
    rng = random.Random(STUDY_SEED)
    _work_through(
        task=task,
        users=users,
        answer=lambda simulated_id, shown: _answer_pair(simulated, simulated_id, shown, rng),
    )
    demo_report_request(project=project, researcher=researcher, task=task)
    return task
