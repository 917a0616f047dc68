"""The demo's simulated tone study: `demo-tone-study` and `demo-tone-study-pairwise`.

Simulated annotators (analysis.simulation) work through real tasks with the real
engine: each claims items, and answers what its simulated behaviour says for the
output it was served. The crowd pool is given a tone bias (assertive answers rated
higher, errors in them missed more often) and a first-position bias; the expert
pool none. The reports of these tasks should find exactly that.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from django.db import transaction

from analysis.services import agreement_report_request
from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study
from annotation.models import AnnotatorPool, Output, PoolKind, Prompt, System, Task
from annotation.services.assignment import assignment_claim
from annotation.services.outputs import outputs_import
from annotation.services.pools import pool_create, pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.models import Project, User
from guidelines.demo import PAIRWISE_NAME as PAIRWISE_GUIDELINE_NAME
from guidelines.models import Guideline, VersionStatus
from guidelines.services import guideline_version_acknowledge

STUDY_SLUG = "demo-tone-study"
PAIRWISE_SLUG = "demo-tone-study-pairwise"
STUDY_SEED = 20231001
CROWD_FIRST_POSITION_SHIFT = 0.12


@dataclass
class _Simulated:
    """Dense simulated answers: every simulated annotator's answer to every output."""

    answers: dict[tuple[str, str], dict[str, Any]]
    annotators: dict[str, str]  # simulated annotator id -> pool ("crowd"/"expert")
    outputs: list[dict[str, Any]]


def _simulate() -> _Simulated:
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
        length_bias=0.2,
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
        length_bias=0.0,
    )
    config = SimulationConfig(
        n_prompts=30,
        n_systems=3,
        error_probability=0.4,
        pairwise=False,
        pools={"crowd": crowd, "expert": expert},
    )
    study = simulate_study(config, rng=np.random.default_rng(STUDY_SEED))
    answers: dict[tuple[str, str], dict[str, Any]] = {}
    for row in study.rubric.itertuples(index=False):
        answers.setdefault((str(row.annotator_id), str(row.output_id)), {})[row.question] = (
            row.value
        )
    annotators = dict(
        zip(
            study.rubric["annotator_id"].astype(str), study.rubric["pool"].astype(str), strict=False
        )
    )
    return _Simulated(answers, annotators, study.outputs.to_dict("records"))


def _outputs_file(simulated: _Simulated) -> bytes:
    lines = []
    for output in simulated.outputs:
        length = int(output["output_length"])
        text = str(output.get("text") or "")
        if len(text) < length:
            text = (text + " ") * (length // max(len(text) + 1, 1)) if text else "x" * length
        lines.append(
            orjson.dumps(
                {
                    "prompt_id": f"study-{output['prompt_id']}",
                    "prompt": f"Study question {output['prompt_id']}: explain the topic briefly.",
                    "system": f"study-{output['system']}",
                    "variant": str(output["tone"]),
                    "output": text[:length].strip() or "(empty)",
                    "metadata": {
                        "tone": str(output["tone"]),
                        "known_errors": int(output["n_known_errors"]),
                        "simulated_output": str(output["output_id"]),
                    },
                }
            )
        )
    return b"\n".join(lines)


def _study_users(*, lead: User, project: Project, simulated: _Simulated) -> dict[str, User]:
    pools = {}
    for kind, name in (
        (PoolKind.CROWD, "Study crowd (simulated)"),
        (PoolKind.EXPERT, "Study experts (simulated)"),
    ):
        pools[kind] = AnnotatorPool.objects.filter(
            project=project, name=name
        ).first() or pool_create(actor=lead, project=project, name=name, kind=kind)
    users = {}
    for simulated_id, pool in sorted(simulated.annotators.items()):
        user, created = User.objects.get_or_create(username=f"sim-{simulated_id}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        pool_member_add(actor=lead, pool=pools[pool], user=user)
        users[simulated_id] = user
    return users


def _answer_single(simulated: _Simulated, simulated_id: str, output: Output) -> dict[str, Any]:
    answer = simulated.answers[(simulated_id, output.metadata["simulated_output"])]
    return {
        "quality": {"A": int(answer["quality"])},
        "has_factual_error": {"A": bool(int(answer["has_factual_error"]))},
        "assertiveness": {"A": int(answer["assertiveness"])},
    }


def _answer_pair(
    simulated: _Simulated, simulated_id: str, pair: list[Output], rng: random.Random
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


def _work_through(*, task: Task, users: dict[str, User], answer: Any) -> int:
    """The simulated annotators take turns, one item each, until the engine has nothing
    left for any of them: work spreads over the pool as it would in a live task."""
    outputs = {o.pk: o for o in Output.objects.filter(prompt__project=task.project, variant__gt="")}
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


@transaction.atomic
def seed_demo_tone_study(*, project: Project, lead: User) -> Task:
    """Create (once) the simulated tone study; returns the single-output task."""
    existing = Task.objects.filter(slug=STUDY_SLUG).first()
    if existing is not None:
        return existing
    simulated = _simulate()
    outputs_import(
        actor=lead,
        project=project,
        stream=io.BytesIO(_outputs_file(simulated)),
        fmt="jsonl",
        filename="demo-tone-study.jsonl",
    )
    users = _study_users(lead=lead, project=project, simulated=simulated)
    rating = Guideline.objects.get(project=project, name="Factual QA rating")
    version = rating.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()
    # By name: the demo holds more than one pairwise guideline (the arena has its own).
    pairwise = Guideline.objects.get(project=project, name=PAIRWISE_GUIDELINE_NAME)
    pair_version = (
        pairwise.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()
    )
    for user in users.values():
        guideline_version_acknowledge(actor=user, version=version)
        guideline_version_acknowledge(actor=user, version=pair_version)
    prompts = list(
        Prompt.objects.filter(project=project, external_id__startswith="study-").values_list(
            "pk", flat=True
        )
    )
    systems = list(
        System.objects.filter(project=project, name__startswith="study-").values_list(
            "pk", flat=True
        )
    )
    pools = {
        p.kind: p
        for p in AnnotatorPool.objects.filter(project=project, name__contains="(simulated)")
    }

    task = task_create(
        actor=lead,
        project=project,
        slug=STUDY_SLUG,
        title="Tone study (simulated): assertive vs hedged answers",
        description="Matched assertive and hedged variants, some with planted factual errors.",
        guideline_version=version,
        mode="single",
        prompt_ids=prompts,
        system_ids=systems,
        seed=STUDY_SEED,
    )
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.CROWD], redundancy=5)
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.EXPERT], redundancy=3)
    task = task_launch(actor=lead, task=task)
    _work_through(
        task=task,
        users=users,
        answer=lambda simulated_id, shown: _answer_single(simulated, simulated_id, shown[0]),
    )

    pair_task = task_create(
        actor=lead,
        project=project,
        slug=PAIRWISE_SLUG,
        title="Tone study (simulated): which answer is better",
        guideline_version=pair_version,
        mode="pairwise",
        prompt_ids=prompts,
        system_ids=systems,
        pairing="balanced",
        pairs_per_prompt=3,
        seed=STUDY_SEED,
    )
    task_pool_add(actor=lead, task=pair_task, pool=pools[PoolKind.CROWD], redundancy=4)
    task_pool_add(actor=lead, task=pair_task, pool=pools[PoolKind.EXPERT], redundancy=2)
    pair_task = task_launch(actor=lead, task=pair_task)
    rng = random.Random(STUDY_SEED)
    _work_through(
        task=pair_task,
        users=users,
        answer=lambda simulated_id, shown: _answer_pair(simulated, simulated_id, shown, rng),
    )
    # The reports a researcher opens first; computed after commit (synchronously in
    # the demo, whose Celery runs eagerly).
    researcher = User.objects.filter(username="researcher").first() or lead
    for study_task in (task, pair_task):
        agreement_report_request(actor=researcher, project=project, task=study_task)
    return task
