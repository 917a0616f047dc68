"""The demo's arena: `demo-arena`, a blind A/B task over six systems with simulated votes.

Six made-up systems have true Bradley–Terry strengths on the Elo scale
(`ARENA_STRENGTHS`). Two of them, borealis-8x7b and cirrus-34b, are a planted near tie
(10 Elo) that a leaderboard built from these votes should not separate; every other
pair of neighbours is at least 90 Elo apart and should be. Simulated annotators of a
crowd pool and an expert pool vote through the real engine (claim, then submit on the
handle they were served), answering in terms of the order they were shown:

* P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)), with a tie at `TIE_PROBABILITY`;
* the crowd also leans towards the longer answer and towards the answer shown first;
  the experts vote by the strengths alone.

The prompts are 15 everyday requests asked three ways each (demo.content); every system
answers with one of two written answers, cut after one to five sentences. Answer lengths
are drawn independently of the system, so the crowd's length preference
adds noise (shared by every vote on a battle) but no bias between systems, and the
engine's counterbalanced A/B order cancels its first-position pull on average.

Volume: 45 prompts x 3 battles = 135 units, every one of the 15 pairs on 9 of them;
9 crowd + 6 expert votes per unit = 2,025 votes, 135 per pair (81 crowd, 54 expert).
Simulated beforehand, this volume resolves each 90-Elo neighbour (95% intervals from a
bootstrap over prompts) in 94-100% of runs and the 10-Elo pair in under 10%; a 60-Elo
gap would be resolved in only about two runs of three, hence the wider gaps. More votes
would cost seeding time: each goes through the real claim and submit.
"""

from __future__ import annotations

import io
import math
import random

import orjson
from django.db import transaction

from annotation.models import (
    AnnotatorPool,
    Output,
    Pairing,
    PoolKind,
    Prompt,
    System,
    Task,
    TaskMode,
)
from annotation.services.assignment import assignment_claim
from annotation.services.outputs import outputs_import
from annotation.services.pools import pool_create, pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.models import Project, User
from demo.content import ARENA_REQUESTS, join_chunks
from demo.reports import demo_report_request
from guidelines.models import Guideline, GuidelineMode, GuidelineVersion, VersionStatus
from guidelines.services import (
    guideline_create,
    guideline_version_acknowledge,
    guideline_version_publish,
)

ARENA_SLUG = "demo-arena"
ARENA_SEED = 20240612
# The planted truth, for whoever checks a leaderboard against it.
ARENA_STRENGTHS: dict[str, float] = {
    "atlas-70b": 1200.0,
    "borealis-8x7b": 1100.0,
    "cirrus-34b": 1090.0,
    "dune-13b": 1000.0,
    "ember-7b": 910.0,
    "fjord-3b": 820.0,
}
PAIRS_PER_PROMPT = 3
CROWD_REDUNDANCY = 9
EXPERT_REDUNDANCY = 6
# More annotators than votes per unit, so work spreads as in a live task and nobody
# has to see every battle.
CROWD_ANNOTATORS = 15
EXPERT_ANNOTATORS = 8
TIE_PROBABILITY = 0.08
CROWD_FIRST_POSITION_SHIFT = 0.08
# Crowd logit per unit of log(length of first / length of second): an answer twice as
# long wins about 7 points more often.
CROWD_LENGTH_WEIGHT = 0.4
ELO_PER_LOGIT = 400.0 / math.log(10.0)

GUIDELINE_NAME = "Arena: which answer is better"
POOL_NAMES = {
    PoolKind.CROWD: "Arena crowd (simulated voters)",
    PoolKind.EXPERT: "Arena experts (simulated voters)",
}
PREFERENCE = {
    "key": "preference",
    "label": "Which answer is better?",
    "help": "The one you would rather receive; tie if you cannot separate them.",
    "required": True,
    "type": "pairwise",
    "level": "nominal",
    "scope": "per_unit",
    "allow_tie": True,
    "strength": False,
}
PROSE = """\
# Which answer is better?

You will see one request and two answers, **A** and **B**, in random order. You are
not told which system wrote either; do not guess. Pick the answer you would rather
receive, or *tie* if you cannot separate them. Judge helpfulness and correctness, not
length: a longer answer is not a better one by itself.
"""

ANSWER_CHOICES = tuple((answer, length) for answer in (0, 1) for length in range(1, 6))


def arena_prompts() -> list[tuple[str, str, int]]:
    """(external id, prompt text, request index) of the 45 arena prompts."""
    return [
        (f"arena-{number:02d}-{style}", text, number)
        for number, request in enumerate(ARENA_REQUESTS)
        for style, text in enumerate(request.prompts)
    ]


def arena_output_texts(*, prompt_id: str, request: int) -> dict[str, str]:
    """Each system's answer to one prompt: one of the request's two written answers, cut
    after one to five of its chunks. The systems draw distinct (answer, length) pairs at
    random, so neither the words nor the length of an answer give its system away."""
    rng = random.Random(f"{ARENA_SEED}:text:{prompt_id}")
    choices = rng.sample(ANSWER_CHOICES, len(ARENA_STRENGTHS))
    answers = ARENA_REQUESTS[request].answers
    return {
        system: join_chunks(answers[answer][:length])
        for system, (answer, length) in zip(ARENA_STRENGTHS, choices, strict=True)
    }


def _outputs_file() -> bytes:
    lines = []
    for prompt_id, text, request in arena_prompts():
        outputs = arena_output_texts(prompt_id=prompt_id, request=request)
        for system, output in outputs.items():
            row = {
                "prompt_id": prompt_id,
                "prompt": text,
                "system": system,
                "output": output,
                "metadata": {"category": ARENA_REQUESTS[request].category},
            }
            lines.append(orjson.dumps(row))
    return b"\n".join(lines)


def first_wins_probability(
    *, first: str, second: str, crowd: bool, first_length: int, second_length: int
) -> float:
    """P(the annotator prefers the answer shown first), given that it is not a tie."""
    logit = (ARENA_STRENGTHS[first] - ARENA_STRENGTHS[second]) / ELO_PER_LOGIT
    if crowd:
        logit += CROWD_LENGTH_WEIGHT * math.log(first_length / second_length)
    probability = 1.0 / (1.0 + math.exp(-logit))
    if crowd:
        probability += CROWD_FIRST_POSITION_SHIFT
    return min(max(probability, 0.0), 1.0)


def arena_vote(
    *, annotator: str, prompt_id: str, shown: list[Output], crowd: bool
) -> tuple[str, float]:
    """The choice ("A", "B" or "tie", in shown order) and the active seconds of one vote.

    The randomness is keyed by annotator, prompt and shown systems rather than drawn
    from one stream, so a vote does not depend on the order the engine serves in.
    """
    first, second = shown
    rng = random.Random(
        f"{ARENA_SEED}:vote:{annotator}:{prompt_id}:{first.system.name}:{second.system.name}"
    )
    seconds = rng.uniform(12.0, 60.0)
    if rng.random() < TIE_PROBABILITY:
        return "tie", seconds
    p_first = first_wins_probability(
        first=first.system.name,
        second=second.system.name,
        crowd=crowd,
        first_length=len(first.text),
        second_length=len(second.text),
    )
    return ("A" if rng.random() < p_first else "B"), seconds


def _guideline_version(*, project: Project, lead: User) -> GuidelineVersion:
    # A guideline of its own: the demo's pairwise guideline also asks per-answer
    # factual-error and assertiveness questions, which mean nothing for these votes.
    guideline = Guideline.objects.filter(project=project, name=GUIDELINE_NAME).first()
    if guideline is None:
        guideline = guideline_create(
            actor=lead,
            project=project,
            name=GUIDELINE_NAME,
            mode=GuidelineMode.PAIRWISE,
            prose=PROSE,
            rubric=[PREFERENCE],
        )
    version = guideline.versions.latest("number")
    if version.status == VersionStatus.DRAFT:
        version = guideline_version_publish(actor=lead, version=version)
    return version


def _annotators(
    *, project: Project, lead: User, version: GuidelineVersion
) -> dict[str, tuple[User, bool]]:
    """Username -> (user, is crowd) of the simulated voters, in their pools."""
    pools = {
        kind: AnnotatorPool.objects.filter(project=project, name=name).first()
        or pool_create(actor=lead, project=project, name=name, kind=kind)
        for kind, name in POOL_NAMES.items()
    }
    voters: dict[str, tuple[User, bool]] = {}
    for kind, count in ((PoolKind.CROWD, CROWD_ANNOTATORS), (PoolKind.EXPERT, EXPERT_ANNOTATORS)):
        for number in range(1, count + 1):
            user, created = User.objects.get_or_create(username=f"arena-{kind}-{number:02d}")
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            pool_member_add(actor=lead, pool=pools[kind], user=user)
            guideline_version_acknowledge(actor=user, version=version)
            voters[user.username] = (user, kind == PoolKind.CROWD)
    return voters


def _vote_through(*, task: Task, voters: dict[str, tuple[User, bool]]) -> int:
    """The voters take turns, one battle each, until the engine has nothing left for any
    of them; each answers for the outputs in the order its assignment shows them."""
    outputs = {
        output.pk: output
        for output in Output.objects.filter(
            prompt__project=task.project, system__name__in=list(ARENA_STRENGTHS)
        ).select_related("system", "prompt")
    }
    stored = 0
    waiting = dict(voters)
    while waiting:
        for username, (user, crowd) in list(waiting.items()):
            assignment = assignment_claim(actor=user, task=task)
            if assignment is None:
                del waiting[username]
                continue
            shown = [outputs[pk] for pk in assignment.shown_order]
            choice, seconds = arena_vote(
                annotator=username,
                prompt_id=shown[0].prompt.external_id,
                shown=shown,
                crowd=crowd,
            )
            annotation_submit(
                actor=user,
                handle=assignment.handle,
                answers={"preference": {"choice": choice}},
                client_active_seconds=round(seconds, 1),
            )
            stored += 1
    return stored


@transaction.atomic
def seed_demo_arena(*, project: Project, lead: User, researcher: User) -> Task:
    """Create (once) the arena task, with every simulated vote stored and its report
    requested; returns the task."""
    existing = Task.objects.filter(slug=ARENA_SLUG).first()
    if existing is not None:
        return existing
    outputs_import(
        actor=lead,
        project=project,
        stream=io.BytesIO(_outputs_file()),
        fmt="jsonl",
        filename="demo-arena.jsonl",
    )
    version = _guideline_version(project=project, lead=lead)
    voters = _annotators(project=project, lead=lead, version=version)
    prompt_ids = [prompt_id for prompt_id, _, _ in arena_prompts()]
    task = task_create(
        actor=lead,
        project=project,
        slug=ARENA_SLUG,
        title="Arena: which answer is better?",
        description=(
            "Blind A/B battles between six systems on everyday requests; the votes are simulated."
        ),
        guideline_version=version,
        mode=TaskMode.PAIRWISE,
        prompt_ids=list(
            Prompt.objects.filter(project=project, external_id__in=prompt_ids).values_list(
                "pk", flat=True
            )
        ),
        system_ids=list(
            System.objects.filter(project=project, name__in=list(ARENA_STRENGTHS)).values_list(
                "pk", flat=True
            )
        ),
        # Balanced: each prompt gets 3 of its 15 possible battles, chosen so every pair
        # of systems meets equally often over the task.
        pairing=Pairing.BALANCED,
        pairs_per_prompt=PAIRS_PER_PROMPT,
        seed=ARENA_SEED,
    )
    pools = {
        pool.kind: pool
        for pool in AnnotatorPool.objects.filter(project=project, name__in=POOL_NAMES.values())
    }
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.CROWD], redundancy=CROWD_REDUNDANCY)
    task_pool_add(actor=lead, task=task, pool=pools[PoolKind.EXPERT], redundancy=EXPERT_REDUNDANCY)
    task = task_launch(actor=lead, task=task)
    _vote_through(task=task, voters=voters)
    demo_report_request(project=project, researcher=researcher, task=task)
    return task
