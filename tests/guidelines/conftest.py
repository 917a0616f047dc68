from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from guidelines.models import Guideline, GuidelineVersion
from guidelines.services import (
    guideline_create,
    guideline_version_publish,
    guideline_version_update_draft,
)

# Distinctive strings so tests can assert they never reach an annotator.
KEY_SECRET = "SECRET-EXPLANATION-7f3a"

RUBRIC = [
    {
        "key": "quality",
        "label": "Overall quality",
        "help": "1 is useless, 5 is perfect.",
        "required": True,
        "type": "likert",
        "level": "ordinal",
        "scope": "per_output",
        "min": 1,
        "max": 5,
        "anchors": {"1": "Useless", "5": "Perfect"},
    },
    {
        "key": "has_error",
        "label": "Contains a factual error?",
        "help": "",
        "required": True,
        "type": "binary",
        "level": "nominal",
        "scope": "per_output",
    },
    {
        "key": "topic",
        "label": "Topic",
        "help": "",
        "required": False,
        "type": "single_choice",
        "level": "nominal",
        "scope": "per_output",
        "options": [
            {"value": "science", "label": "Science"},
            {"value": "zzgeographyzz", "label": "Geography"},
        ],
    },
    {
        "key": "note",
        "label": "Note",
        "help": "",
        "required": False,
        "type": "text",
        "level": None,
        "scope": "per_output",
        "max_length": 200,
    },
]

QUIZ = {
    "pass_threshold": 0.75,
    "max_attempts": 2,
    "items": [
        {
            "id": "item1",
            "prompt": "What is the capital of France?",
            "outputs": ["Lyon."],
            "answers": {"has_error": {"A": True}, "topic": {"A": "zzgeographyzz"}},
            "explanation": KEY_SECRET,
        },
        {
            "id": "item2",
            "prompt": "What is 2 + 2?",
            "outputs": ["4."],
            "answers": {"has_error": {"A": False}, "quality": {"A": 5}},
            "explanation": KEY_SECRET,
        },
    ],
}

# Answers to QUIZ: all four graded cells right, and one with only has_error right (1/4).
QUIZ_RIGHT = {
    "item1": {"has_error": {"A": True}, "topic": {"A": "zzgeographyzz"}},
    "item2": {"has_error": {"A": False}, "quality": {"A": 5}},
}
QUIZ_WRONG = {
    "item1": {"has_error": {"A": True}, "topic": {"A": "science"}},
    "item2": {"has_error": {"A": True}, "quality": {"A": 3}},
}


def rubric() -> list[dict]:
    return copy.deepcopy(RUBRIC)


@dataclass
class GuidelineSetup:
    guideline: Guideline
    v1: GuidelineVersion


@pytest.fixture
def draft(project_roles) -> GuidelineVersion:
    guideline = guideline_create(
        actor=project_roles.lead,
        project=project_roles.project,
        name="Rating",
        prose="# Rules\n\nBe *careful*.",
        rubric=rubric(),
    )
    return guideline.versions.get(number=1)


@pytest.fixture
def published(project_roles, draft) -> GuidelineVersion:
    return guideline_version_publish(actor=project_roles.lead, version=draft)


@pytest.fixture
def published_quiz(project_roles, draft) -> GuidelineVersion:
    version = guideline_version_update_draft(
        actor=project_roles.lead, version=draft, quiz=copy.deepcopy(QUIZ)
    )
    return guideline_version_publish(actor=project_roles.lead, version=version)
