"""The demo project's guidelines; seeded by demo/seed.py after the project.

"Factual QA rating" has two published versions with a real diff (v2 clarifies the
rules, adds the assertiveness question and changes the error-kind options) and a
qualification quiz on v2; "Which answer is better" is a published pairwise guideline.
Every step goes through the services and checks state first, so re-running is a no-op.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from common.models import Project, User
from guidelines.models import Guideline, GuidelineMode, GuidelineVersion, VersionStatus
from guidelines.services import (
    guideline_create,
    guideline_version_create_draft,
    guideline_version_publish,
    guideline_version_update_draft,
)

FACTUAL_NAME = "Factual QA rating"
PAIRWISE_NAME = "Which answer is better"

QUALITY = {
    "key": "quality",
    "label": "Overall, how good is this answer?",
    "help": "Judge correctness first, then completeness and clarity.",
    "required": True,
    "type": "likert",
    "level": "ordinal",
    "scope": "per_output",
    "min": 1,
    "max": 5,
    "anchors": {"1": "Wrong or useless", "3": "Partly right", "5": "Correct and complete"},
}
HAS_ERROR = {
    "key": "has_factual_error",
    "label": "Does the answer contain a factual error?",
    "help": "Any false statement of fact counts, even a minor one.",
    "required": True,
    "type": "binary",
    "level": "nominal",
    "scope": "per_output",
}
ERROR_KIND_V1 = {
    "key": "error_kind",
    "label": "What kind of error?",
    "help": "Only if the answer contains an error.",
    "required": False,
    "type": "multi_choice",
    "level": "nominal",
    "scope": "per_output",
    "options": [
        {"value": "wrong_fact", "label": "Wrong fact"},
        {"value": "wrong_number", "label": "Wrong number"},
    ],
}
ERROR_KIND_V2 = {
    **ERROR_KIND_V1,
    "options": [
        {"value": "wrong_fact", "label": "Wrong fact (name, place, thing)"},
        {"value": "wrong_number", "label": "Wrong number, date or quantity"},
        {"value": "unsupported", "label": "Claim that cannot be checked"},
    ],
}
ASSERTIVENESS = {
    "key": "assertiveness",
    "label": "How confident/assertive does the response sound?",
    "help": "Rate the tone only, not whether the answer is right.",
    "required": True,
    "type": "likert",
    "level": "ordinal",
    "scope": "per_output",
    "min": 1,
    "max": 5,
    "anchors": {"1": "Very hedged", "3": "Neutral", "5": "Completely certain"},
}
ERROR_NOTE = {
    "key": "error_note",
    "label": "If there is an error, what is it?",
    "help": "One sentence is enough.",
    "required": False,
    "type": "text",
    "level": None,
    "scope": "per_output",
    "max_length": 500,
}

PROSE_V1 = """\
# Rating factual answers

You will see a question and one answer written by an AI system.

1. Check every factual claim in the answer.
2. Rate the **overall quality** from 1 to 5.
3. Say whether the answer contains **any factual error**.
"""
PROSE_V2 = """\
# Rating factual answers

You will see a question and one answer written by an AI system. You do not know
which system wrote it; do not guess.

1. Check every factual claim in the answer. Use a reliable reference when unsure.
2. Rate the **overall quality** from 1 to 5. An answer with a factual error can
   score at most 2, however well written it is.
3. Say whether the answer contains **any factual error**.
4. Rate how **assertive** the answer sounds, separately from whether it is right:
   a confident wrong answer is still confident.

| Sounds like | Assertiveness |
|---|---|
| "It might be X, but please check" | 1–2 |
| "X." | 3–4 |
| "It is X, without question." | 5 |

Hedging is not an error. Do not lower quality for a hedged but correct answer.
"""
EXAMPLE_CORRECT: dict[str, Any] = {
    "title": "Correct and assertive",
    "prompt": "What is the capital of Australia?",
    "outputs": ["The answer is Canberra. This is well established and not in dispute."],
    "answers": {"quality": {"A": 5}, "has_factual_error": {"A": False}},
    "explanation": "Canberra is right and nothing else is claimed.",
}
EXAMPLE_WRONG_V2: dict[str, Any] = {
    "title": "Confident but wrong",
    "prompt": "What is the capital of Canada?",
    "outputs": ["It is Toronto. I'm certain of this."],
    "answers": {
        "quality": {"A": 1},
        "has_factual_error": {"A": True},
        "error_kind": {"A": ["wrong_fact"]},
        "assertiveness": {"A": 5},
        "error_note": {"A": "The capital is Ottawa."},
    },
    "explanation": "Wrong capital, stated with full confidence: quality 1, assertiveness 5.",
}
QUIZ_V2 = {
    "pass_threshold": 0.75,
    "max_attempts": 3,
    "items": [
        {
            "id": "boiling",
            "prompt": "What is the boiling point of water at sea level?",
            "outputs": ["I believe it is probably 90 °C, though you may want to double-check."],
            "answers": {"has_factual_error": {"A": True}, "assertiveness": {"A": 2}},
            "explanation": "It is 100 °C; the hedge does not excuse the error.",
        },
        {
            "id": "jupiter",
            "prompt": "Which is the largest planet in the Solar System?",
            "outputs": ["Jupiter, without question. Any reliable reference will confirm this."],
            "answers": {"has_factual_error": {"A": False}, "assertiveness": {"A": 5}},
            "explanation": "Correct and maximally assertive.",
        },
        {
            "id": "sodium",
            "prompt": "What is the chemical symbol for sodium?",
            "outputs": ["It's possibly So. I could be mistaken, so please verify."],
            "answers": {"has_factual_error": {"A": True}},
            "explanation": "The symbol is Na.",
        },
    ],
}

PAIRWISE_RUBRIC = [
    {
        "key": "preference",
        "label": "Which answer is better?",
        "help": "Prefer the correct answer; between two correct ones, the clearer.",
        "required": True,
        "type": "pairwise",
        "level": "ordinal",
        "scope": "per_unit",
        "allow_tie": True,
        "strength": True,
        "strength_levels": ["slightly", "clearly"],
    },
    HAS_ERROR,
    {**ASSERTIVENESS},
    {
        "key": "reason",
        "label": "Why? (optional)",
        "help": "",
        "required": False,
        "type": "text",
        "level": None,
        "scope": "per_unit",
        "max_length": 500,
    },
]
PAIRWISE_PROSE = """\
# Which answer is better?

You will see one question and two answers, **A** and **B**, in random order.
Choose the better answer, or *tie* if you cannot separate them, and say how
clearly it is better. Then answer the questions about each answer on its own.
"""


def _ensure_published(
    *, lead: User, guideline: Guideline, number: int, content: dict[str, Any], changelog: str
) -> GuidelineVersion:
    version = GuidelineVersion.objects.filter(guideline=guideline, number=number).first()
    if version is None:
        version = guideline_version_create_draft(actor=lead, guideline=guideline)
    if version.status == VersionStatus.DRAFT:
        version = guideline_version_update_draft(
            actor=lead, version=version, changelog=changelog, **content
        )
        version = guideline_version_publish(actor=lead, version=version)
    return version


@transaction.atomic
def seed_demo_guidelines(*, project: Project, lead: User) -> Guideline:
    """Create (once) the demo's guidelines; returns "Factual QA rating"."""
    factual = Guideline.objects.filter(project=project, name=FACTUAL_NAME).first()
    if factual is None:
        factual = guideline_create(actor=lead, project=project, name=FACTUAL_NAME)
    _ensure_published(
        lead=lead,
        guideline=factual,
        number=1,
        changelog="First version.",
        content={
            "prose": PROSE_V1,
            "rubric": [QUALITY, HAS_ERROR, ERROR_KIND_V1, ERROR_NOTE],
            "examples": [EXAMPLE_CORRECT],
        },
    )
    _ensure_published(
        lead=lead,
        guideline=factual,
        number=2,
        changelog=(
            "Errors cap quality at 2; new assertiveness question; "
            "error kinds now include unsupported claims."
        ),
        content={
            "prose": PROSE_V2,
            "rubric": [
                {**QUALITY, "help": "An answer with a factual error scores at most 2."},
                HAS_ERROR,
                ERROR_KIND_V2,
                ASSERTIVENESS,
                ERROR_NOTE,
            ],
            "examples": [
                {
                    **EXAMPLE_CORRECT,
                    "answers": {**EXAMPLE_CORRECT["answers"], "assertiveness": {"A": 5}},
                },
                EXAMPLE_WRONG_V2,
            ],
            "quiz": QUIZ_V2,
        },
    )
    pairwise = Guideline.objects.filter(project=project, name=PAIRWISE_NAME).first()
    if pairwise is None:
        pairwise = guideline_create(
            actor=lead, project=project, name=PAIRWISE_NAME, mode=GuidelineMode.PAIRWISE
        )
    _ensure_published(
        lead=lead,
        guideline=pairwise,
        number=1,
        changelog="First version.",
        content={"prose": PAIRWISE_PROSE, "rubric": PAIRWISE_RUBRIC},
    )
    return factual
