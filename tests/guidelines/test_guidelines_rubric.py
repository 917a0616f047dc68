"""Pure rubric logic: validation, answers, levels, YAML/JSON round trip, diff. No DB."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guidelines.quiz import quiz_for_annotator, quiz_grade, validate_quiz
from guidelines.rubric import (
    RubricFormatError,
    measurement_levels,
    rubric_diff,
    rubric_from_json,
    rubric_from_yaml,
    rubric_normalize,
    rubric_to_json,
    rubric_to_yaml,
    validate_answers,
    validate_rubric,
)
from tests.guidelines.conftest import QUIZ, QUIZ_RIGHT, QUIZ_WRONG, rubric

PAIRWISE_Q = {
    "key": "pref",
    "label": "Which is better?",
    "help": "",
    "required": True,
    "type": "pairwise",
    "level": "ordinal",
    "scope": "per_unit",
    "allow_tie": True,
    "strength": True,
    "strength_levels": ["slightly", "clearly"],
}
RANKING_Q = {
    "key": "rank",
    "label": "Rank them",
    "help": "",
    "required": True,
    "type": "ranking",
    "level": "ordinal",
    "scope": "per_unit",
}


def test_valid_rubric_has_no_errors():
    assert validate_rubric(rubric(), mode="single") == []
    assert validate_rubric([*rubric(), PAIRWISE_Q], mode="pairwise") == []
    assert validate_rubric([*rubric(), RANKING_Q], mode="ranking") == []


def test_every_error_is_listed_by_question_and_field():
    bad = rubric()
    bad[0]["min"], bad[0]["max"] = 5, 5  # min == max
    bad[0]["anchors"] = {"9": "Outside"}
    bad[1]["key"] = "quality"  # duplicate key
    bad[2]["options"] = [{"value": "only", "label": "One"}]  # one option
    bad[3]["level"] = "ordinal"  # text must have no level
    bad.append({**PAIRWISE_Q})  # pairwise in a single rubric
    bad.append(
        {
            "key": "Bad Key",
            "label": "",
            "type": "numeric",
            "level": "nominal",
            "scope": "per_output",
            "required": "yes",
            "min": 3,
            "max": 1,
            "typo": 1,
        }
    )
    errors = validate_rubric(bad, mode="single")
    found = {(e.question, e.field) for e in errors}
    assert {
        (0, "max"),
        (0, "anchors"),
        (1, "key"),
        (2, "options"),
        (3, "level"),
        (4, "type"),
        (5, "key"),
        (5, "label"),
        (5, "level"),
        (5, "required"),
        (5, "max"),
        (5, "typo"),
    } <= found
    duplicate = next(e for e in errors if e.question == 1 and e.field == "key")
    assert "question 1" in duplicate.message
    assert errors[0].key == "quality"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "nope"}, "type"),
        ({"scope": "per_unit", "type": "ranking", "level": "ordinal"}, "scope"),
        (
            {"type": "pairwise", "allow_tie": "yes", "strength": False, "level": "nominal"},
            "allow_tie",
        ),
        (
            {
                "type": "pairwise",
                "allow_tie": True,
                "strength": True,
                "level": "nominal",
                "strength_levels": ["a", "b"],
            },
            "level",
        ),
        (
            {
                "type": "pairwise",
                "allow_tie": True,
                "strength": True,
                "level": "ordinal",
                "strength_levels": ["only"],
            },
            "strength_levels",
        ),
        ({"type": "text", "level": None, "max_length": 0}, "max_length"),
        ({"type": "numeric", "level": "ratio", "min": float("nan"), "max": None}, "min"),
        ({"type": "likert", "level": "ordinal", "min": 1, "max": 40, "anchors": {}}, "max"),
        ({"label": "bad\x00label"}, "label"),
    ],
)
def test_single_field_errors(change, field):
    question = {
        "key": "q",
        "label": "Q",
        "help": "",
        "required": True,
        "type": "binary",
        "level": "nominal",
        "scope": "per_output",
        **change,
    }
    if question["type"] == "ranking":
        question["scope"] = "per_output"
    errors = validate_rubric([question])
    assert field in {e.field for e in errors}, errors


def test_mode_rules():
    assert any(e.field == "type" for e in validate_rubric([RANKING_Q], mode="pairwise"))
    assert any(e.question is None for e in validate_rubric(rubric(), mode="pairwise"))
    assert any(e.question is None for e in validate_rubric(rubric(), mode="ranking"))
    assert validate_rubric([]) == []
    assert validate_rubric("nope")[0].field == "rubric"  # type: ignore[arg-type]


def test_normalize_fills_defaults_and_string_anchor_keys():
    [q] = rubric_normalize(
        [{"key": "q", "label": "Q", "type": "likert", "anchors": {1: "Low", 5: "High"}}]
    )
    assert q["level"] == "ordinal" and q["scope"] == "per_output" and q["required"] is True
    assert q["anchors"] == {"1": "Low", "5": "High"}
    [p] = rubric_normalize([{"key": "p", "label": "P", "type": "pairwise", "strength": True}])
    assert p["level"] == "ordinal" and p["scope"] == "per_unit"
    assert p["strength_levels"] == ["slightly", "clearly"]
    assert validate_rubric([q, p]) == []


def test_measurement_levels():
    levels = measurement_levels([*rubric(), PAIRWISE_Q])
    assert levels == {
        "quality": "ordinal",
        "has_error": "nominal",
        "topic": "nominal",
        "note": None,
        "pref": "ordinal",
    }


# ---- answers -----------------------------------------------------------------------


def test_valid_answers_single_and_pairwise():
    answers = {"quality": {"A": 4}, "has_error": {"A": False}, "note": {"A": "fine"}}
    assert validate_answers(rubric(), answers, n_outputs=1) == {}
    questions = [*rubric(), PAIRWISE_Q]
    answers = {
        "quality": {"A": 4, "B": 2},
        "has_error": {"A": False, "B": True},
        "pref": {"choice": "A", "strength": "clearly"},
    }
    assert validate_answers(questions, answers, n_outputs=2) == {}
    tie = {**answers, "pref": {"choice": "tie"}}
    assert validate_answers(questions, tie, n_outputs=2) == {}


def test_answer_errors_are_keyed_by_field_and_response():
    questions = [*rubric(), PAIRWISE_Q, RANKING_Q]
    answers = {
        "quality": {"A": 9, "C": 3},
        "has_error": {"A": "yes"},
        "topic": {"B": "history"},
        "note": {"A": "x" * 201},
        "pref": {"choice": "A"},
        "rank": ["A", "A"],
        "ghost": 1,
    }
    errors = validate_answers(questions, answers, n_outputs=2)
    assert set(errors) == {
        "quality.A",
        "quality.B",
        "quality.C",
        "has_error.A",
        "has_error.B",
        "topic.B",
        "note.A",
        "pref",
        "rank",
        "ghost",
    }
    assert errors["quality.B"] == ["This question is required."]


def test_partial_answers_skip_required():
    assert validate_answers(rubric(), {"has_error": {"A": True}}, n_outputs=1, partial=True) == {}
    assert "quality.A" in validate_answers(rubric(), {"has_error": {"A": True}}, n_outputs=1)


def test_pairwise_needs_two_outputs_and_ranking_a_permutation():
    assert "pref" in validate_answers(
        [PAIRWISE_Q], {"pref": {"choice": "A", "strength": "clearly"}}, n_outputs=3
    )
    assert validate_answers([RANKING_Q], {"rank": ["C", "A", "B"]}, n_outputs=3) == {}
    assert "rank" in validate_answers([RANKING_Q], {"rank": ["A", "B"]}, n_outputs=3)
    no_tie = {**PAIRWISE_Q, "allow_tie": False}
    assert "pref" in validate_answers([no_tie], {"pref": {"choice": "tie"}}, n_outputs=2)


# ---- import/export -----------------------------------------------------------------


def test_yaml_and_json_parse_errors():
    with pytest.raises(RubricFormatError):
        rubric_from_yaml("a: [1, 2")
    with pytest.raises(RubricFormatError):
        rubric_from_yaml("key: value")  # a mapping, not a list
    with pytest.raises(RubricFormatError, match="aliases"):
        rubric_from_yaml("- &a {key: x}\n- *a\n")
    with pytest.raises(RubricFormatError):
        rubric_from_json('[{"min": NaN}]')
    assert rubric_from_yaml("questions:\n- {key: a}\n") == [{"key": "a"}]


label_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s.strip())
help_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), st.sampled_from("\n\t")
    ),
    max_size=30,
)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def questions(draw):
    qtype = draw(
        st.sampled_from(
            [
                "likert",
                "binary",
                "single_choice",
                "multi_choice",
                "numeric",
                "pairwise",
                "ranking",
                "text",
            ]
        )
    )
    q = {
        "key": draw(keys),
        "label": draw(label_text),
        "help": draw(help_text),
        "required": draw(st.booleans()),
        "type": qtype,
    }
    if qtype == "likert":
        lo = draw(st.integers(-3, 3))
        hi = draw(st.integers(lo + 1, lo + 10))
        q |= {
            "level": "ordinal",
            "scope": "per_output",
            "min": lo,
            "max": hi,
            "anchors": {str(lo): draw(label_text), str(hi): draw(label_text)},
        }
    elif qtype in ("single_choice", "multi_choice"):
        values = draw(st.lists(keys, min_size=2, max_size=5, unique=True))
        q |= {
            "level": "nominal",
            "scope": "per_output",
            "options": [{"value": v, "label": draw(label_text)} for v in values],
        }
    elif qtype == "numeric":
        lo = draw(st.one_of(st.none(), st.floats(-1e6, 0, allow_nan=False), st.integers(-100, 0)))
        q |= {
            "level": draw(st.sampled_from(["interval", "ratio"])),
            "scope": "per_output",
            "min": lo,
            "max": draw(st.one_of(st.none(), st.floats(1, 1e6), st.integers(1, 100))),
        }
    elif qtype == "pairwise":
        strength = draw(st.booleans())
        q |= {
            "level": "ordinal" if strength else "nominal",
            "scope": "per_unit",
            "allow_tie": draw(st.booleans()),
            "strength": strength,
            "strength_levels": ["slightly", "clearly"] if strength else [],
        }
    elif qtype == "ranking":
        q |= {"level": "ordinal", "scope": "per_unit"}
    elif qtype == "text":
        q |= {
            "level": None,
            "scope": draw(st.sampled_from(["per_output", "per_unit"])),
            "max_length": draw(st.integers(1, 20000)),
        }
    else:
        q |= {"level": "nominal", "scope": "per_output"}
    return q


rubrics = st.lists(questions(), max_size=6, unique_by=lambda q: q["key"])


@settings(max_examples=200, deadline=None)
@given(rubrics)
@pytest.mark.slow
def test_round_trip_yaml_and_json(generated):
    assert validate_rubric(generated) == []
    original = copy.deepcopy(generated)
    assert rubric_from_yaml(rubric_to_yaml(generated)) == original
    assert rubric_from_json(rubric_to_json(generated)) == original
    assert rubric_to_yaml(rubric_from_yaml(rubric_to_yaml(generated))) == rubric_to_yaml(original)


# ---- diff and quiz ------------------------------------------------------------------


def test_rubric_diff_added_removed_changed_options():
    old = rubric()
    new = rubric()
    new.pop(3)  # note removed
    new[0]["anchors"] = {"1": "Bad", "5": "Perfect"}
    new[2]["options"] = [
        {"value": "science", "label": "Natural science"},
        {"value": "history", "label": "History"},
    ]
    new.append({**PAIRWISE_Q, "key": "extra"})
    diff = rubric_diff(old, new)
    assert [q["key"] for q in diff["added"]] == ["extra"]
    assert [q["key"] for q in diff["removed"]] == ["note"]
    changed = {c["key"]: c for c in diff["changed"]}
    assert [f["field"] for f in changed["quality"]["fields"]] == ["anchors"]
    topic = changed["topic"]
    assert topic["options_added"] == [{"value": "history", "label": "History"}]
    assert topic["options_removed"] == [{"value": "zzgeographyzz", "label": "Geography"}]
    assert topic["options_changed"] == [
        {"value": "science", "old": "Science", "new": "Natural science"}
    ]
    assert rubric_diff(old, old) == {"added": [], "removed": [], "changed": [], "reordered": False}


def test_quiz_grading_and_redaction():
    assert validate_quiz(QUIZ, rubric(), mode="single") == []
    assert quiz_grade(QUIZ, rubric(), QUIZ_RIGHT).passed
    wrong = quiz_grade(QUIZ, rubric(), QUIZ_WRONG)
    assert (wrong.correct, wrong.graded, wrong.passed) == (1, 4, False)
    public = quiz_for_annotator(QUIZ)
    assert "answers" not in str(public) and "zzgeographyzz" not in str(public)
    assert "explanation" not in str(public)


def test_quiz_validation_lists_errors():
    bad = copy.deepcopy(QUIZ)
    bad["pass_threshold"] = 0
    bad["items"][1]["id"] = "item1"
    bad["items"][0]["answers"] = {"has_error": {"A": "maybe"}}
    bad["items"][1]["outputs"] = ["a", "b"]
    fields = {(e.item, e.field) for e in validate_quiz(bad, rubric(), mode="single")}
    assert {
        (None, "pass_threshold"),
        (1, "id"),
        (0, "answers.has_error.A"),
        (1, "outputs"),
    } <= fields
