"""The demo project itself: a user for every role, the project, its two pools and the
main set of outputs (four assistants answering the hand-written factual questions).

Every step checks state first, so it can run on every start. Outputs go through the real
import service, so the demo also exercises the path a lead's file takes.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import orjson
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password
from django.db import transaction

from annotation.models import AnnotatorPool, PoolKind
from annotation.services.outputs import ImportResult, outputs_import
from annotation.services.pools import pool_create, pool_member_add
from common.models import Project, ProjectRole, User
from common.services import project_create, project_membership_add
from demo.content import FACTUAL_ITEMS, TONE_FRAMES

DEMO_PASSWORD = "demo"
DEMO_PROJECT_SLUG = "demo"
DEMO_PROJECT_NAME = "Demo: factual QA under tone variation"
EXPERTS = ("expert1", "expert2")
CROWD = tuple(f"crowd{n}" for n in range(1, 6))
SYSTEMS = ("atlas-7b", "borealis-13b", "cirrus-70b", "dune-chat")
# The project's own pools (the simulated studies bring theirs). Select them by name.
EXPERT_POOL_NAME = "Expert pool"
CROWD_POOL_NAME = "Crowd pool"
OUTPUTS_SEED = 7


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str


def prompt_external_id(index: int) -> str:
    return f"qa-{index:03d}"


def demo_output_rows(*, seed: int = OUTPUTS_SEED) -> list[dict[str, object]]:
    """Every demo system's answer to every hand-written question.

    Each answer is assertive or hedged, and exactly a quarter of them state the planted
    wrong answer; the metadata records both, as a lead's study design would.
    """
    rng = random.Random(seed)
    n_outputs = len(FACTUAL_ITEMS) * len(SYSTEMS)
    wrong = set(rng.sample(range(n_outputs), n_outputs // 4))
    rows: list[dict[str, object]] = []
    for index, item in enumerate(FACTUAL_ITEMS):
        for system in SYSTEMS:
            has_error = len(rows) in wrong
            tone = rng.choice(("assertive", "hedged"))
            assertive, hedged = rng.choice(TONE_FRAMES)
            frame = assertive if tone == "assertive" else hedged
            rows.append(
                {
                    "prompt_id": prompt_external_id(index),
                    "prompt": item.question,
                    "system": system,
                    "output": frame.format(s=item.wrong if has_error else item.right),
                    "reference": item.right,
                    "metadata": {
                        "tone": tone,
                        "known_errors": 1 if has_error else 0,
                        "topic": item.topic,
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
        user.password = _demo_password_hash()
        user.save(update_fields=["password"])
    return user


def _demo_password_hash() -> str:
    hasher = get_hasher()
    if isinstance(hasher, PBKDF2PasswordHasher):
        # The demo password is public, and a million iterations for each of ten users
        # cost three seconds of a seed meant to take a minute. Django re-hashes with the
        # full count at each user's first login (the hasher's must_update).
        return hasher.encode(DEMO_PASSWORD, hasher.salt(), iterations=1000)
    return make_password(DEMO_PASSWORD)


@transaction.atomic
def seed_demo_project(*, description: str) -> list[DemoLogin]:
    """Users, the project, its members and pools (once); returns the logins to print."""
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
            name=DEMO_PROJECT_NAME,
            description=description,
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
    logins = [DemoLogin(admin.username, "Django admin (everything)")]
    logins.append(DemoLogin(lead.username, "project lead"))
    logins.append(DemoLogin(researcher.username, "researcher"))
    logins += [DemoLogin(user.username, "annotator, expert pool") for user in experts]
    logins += [DemoLogin(user.username, "annotator, crowd pool") for user in crowd]
    return logins


def seed_demo_outputs(*, project: Project, lead: User) -> ImportResult:
    """Import the main set of outputs (a no-op when it is already there)."""
    payload = b"\n".join(orjson.dumps(row) for row in demo_output_rows())
    return outputs_import(
        actor=lead,
        project=project,
        stream=io.BytesIO(payload),
        fmt="jsonl",
        filename="demo-outputs.jsonl",
    )
