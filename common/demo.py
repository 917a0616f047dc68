"""The demo project: users for every role, systems, prompts, outputs and pools.

Loaded by `manage.py seed_demo`; every step is idempotent so the command can run
on every start. Outputs go through the real import service, so the demo also
exercises the path a lead's file takes.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass

from django.db import transaction

from analysis.demo import seed_demo_analysis
from annotation.demo import CROWD_POOL_NAME, EXPERT_POOL_NAME, seed_demo_tasks
from annotation.demo_arena import seed_demo_arena
from annotation.demo_study import seed_demo_tone_study
from annotation.models import AnnotatorPool, PoolKind
from annotation.services.outputs import outputs_import
from annotation.services.pools import pool_create, pool_member_add
from common.models import Project, ProjectRole, User
from common.services import project_create, project_membership_add
from guidelines.demo import seed_demo_guidelines

DEMO_PASSWORD = "demo"
DEMO_PROJECT_SLUG = "demo"
EXPERTS = ("expert1", "expert2")
CROWD = tuple(f"crowd{n}" for n in range(1, 6))
SYSTEMS = ("atlas-7b", "borealis-13b", "cirrus-70b", "dune-chat")

# (subject, question stem, correct answer, plausible wrong answer)
FACTS = [
    ("the capital of Australia", "What is {s}?", "Canberra", "Sydney"),
    ("the boiling point of water at sea level", "What is {s}?", "100 °C", "90 °C"),
    ("the largest planet in the Solar System", "Which is {s}?", "Jupiter", "Saturn"),
    ("the author of 'Pride and Prejudice'", "Who is {s}?", "Jane Austen", "Charlotte Brontë"),
    ("the chemical symbol for sodium", "What is {s}?", "Na", "So"),
    ("the year the Berlin Wall fell", "In which year did {s} happen?", "1989", "1991"),
    ("the speed of light in vacuum", "What is {s}?", "about 299,792 km/s", "about 150,000 km/s"),
    ("the longest river in South America", "What is {s}?", "the Amazon", "the Paraná"),
    ("the number of bones in an adult human", "What is {s}?", "206", "212"),
    (
        "the inventor of the telephone patent of 1876",
        "Who held {s}?",
        "Alexander Graham Bell",
        "Thomas Edison",
    ),
    ("the smallest prime number", "What is {s}?", "2", "1"),
    ("the currency of Japan", "What is {s}?", "the yen", "the won"),
    ("the freezing point of water in Fahrenheit", "What is {s}?", "32 °F", "0 °F"),
    ("the hardest natural mineral", "What is {s}?", "diamond", "quartz"),
    ("the capital of Canada", "What is {s}?", "Ottawa", "Toronto"),
    ("the gas plants absorb for photosynthesis", "What is {s}?", "carbon dioxide", "oxygen"),
    ("the painter of the Mona Lisa", "Who is {s}?", "Leonardo da Vinci", "Michelangelo"),
    ("the largest ocean on Earth", "Which is {s}?", "the Pacific", "the Atlantic"),
    ("the square root of 144", "What is {s}?", "12", "14"),
    ("the organ that produces insulin", "Which is {s}?", "the pancreas", "the liver"),
]
STYLES = (
    "{q}",
    "Quick question: {q}",
    "{q} Please explain briefly.",
    "I'm studying for an exam. {q}",
    "{q} Give one sentence of context too.",
    "My friend says it's {wrong}. {q}",
    "{q} Answer for a ten-year-old.",
    "For a trivia night: {q}",
    "{q} Keep it short.",
    "Can you check this? {q}",
    "{q} Cite the general source of this knowledge.",
    "In plain words, {q_lower}",
    "{q} (I need it for a report.)",
    "Settle a debate: {q}",
    "{q} Explain your reasoning.",
)

ASSERTIVE = (
    "The answer is {a}. This is well established and not in dispute.",
    "{A}, without question. Any reliable reference will confirm this.",
    "It is {a}. I'm certain of this.",
)
HEDGED = (
    "I believe the answer is probably {a}, though you may want to double-check.",
    "If I remember correctly, it might be {a}, but I'm not entirely sure.",
    "It's possibly {a}. I could be mistaken, so please verify.",
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str


def demo_output_rows(*, seed: int = 7) -> list[dict[str, object]]:
    """A few hundred prompts, each answered by every demo system.

    Each output is assertive or hedged and, at a known rate, states the wrong
    answer: the metadata records both, as a lead's design would.
    """
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for fact_index, (subject, stem, correct, wrong) in enumerate(FACTS):
        question = stem.format(s=subject)
        for style_index, style in enumerate(STYLES):
            prompt_id = f"demo-{fact_index:02d}-{style_index:02d}"
            prompt = style.format(
                q=question, wrong=wrong, q_lower=question[0].lower() + question[1:]
            )
            for system in SYSTEMS:
                tone = rng.choice(("assertive", "hedged"))
                has_error = rng.random() < 0.25
                answer = wrong if has_error else correct
                template = rng.choice(ASSERTIVE if tone == "assertive" else HEDGED)
                text = template.format(a=answer, A=answer[0].upper() + answer[1:])
                if rng.random() < 0.3:
                    text += f"\n\nIn short:\n\n- **{subject.capitalize()}**: {answer}\n"
                rows.append(
                    {
                        "prompt_id": prompt_id,
                        "prompt": prompt,
                        "system": system,
                        "output": text,
                        "reference": correct,
                        "metadata": {
                            "tone": tone,
                            "known_errors": 1 if has_error else 0,
                            "topic": subject,
                        },
                    }
                )
    return rows


def _user(username: str, *, staff: bool = False, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"is_staff": staff or superuser, "is_superuser": superuser},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_demo() -> list[DemoLogin]:
    admin = _user("admin", superuser=True)
    lead = _user("lead", staff=True)
    researcher = _user("researcher")
    experts = [_user(name) for name in EXPERTS]
    crowd = [_user(name) for name in CROWD]

    project = Project.objects.filter(slug=DEMO_PROJECT_SLUG).first()
    if project is None:
        project = project_create(
            actor=lead,
            slug=DEMO_PROJECT_SLUG,
            name="Demo: factual QA under tone variation",
            description=(
                "Four systems answer a few hundred short factual questions, each answer "
                "assertive or hedged, some with a planted factual error."
            ),
        )
    project_membership_add(
        actor=lead, project=project, user=researcher, role=ProjectRole.RESEARCHER
    )

    pools = {
        kind: AnnotatorPool.objects.filter(project=project, kind=kind, name=name).first()
        or pool_create(actor=lead, project=project, name=name, kind=kind)
        for kind, name in ((PoolKind.EXPERT, EXPERT_POOL_NAME), (PoolKind.CROWD, CROWD_POOL_NAME))
    }
    for user in experts:
        pool_member_add(
            actor=lead,
            pool=pools[PoolKind.EXPERT],
            user=user,
            expertise_tags=["fact-checking"],
            languages=["en"],
        )
    for number, user in enumerate(crowd, start=1):
        pool_member_add(
            actor=lead,
            pool=pools[PoolKind.CROWD],
            user=user,
            languages=["en"],
            external_worker_id=f"PROLIFIC-{number:04d}",
        )

    payload = "\n".join(json.dumps(row, ensure_ascii=False) for row in demo_output_rows())
    outputs_import(
        actor=lead,
        project=project,
        stream=io.BytesIO(payload.encode("utf-8")),
        fmt="jsonl",
        filename="demo-outputs.jsonl",
    )
    seed_demo_guidelines(project=project, lead=lead)
    seed_demo_tasks(project=project, lead=lead)
    seed_demo_tone_study(project=project, lead=lead)
    seed_demo_arena(project=project, lead=lead)
    seed_demo_analysis(project=project, researcher=researcher)
    logins = [DemoLogin(admin.username, "Django admin (everything)")]
    logins.append(DemoLogin(lead.username, "project lead"))
    logins.append(DemoLogin(researcher.username, "researcher"))
    logins += [DemoLogin(user.username, "annotator, expert pool") for user in experts]
    logins += [DemoLogin(user.username, "annotator, crowd pool") for user in crowd]
    return logins
