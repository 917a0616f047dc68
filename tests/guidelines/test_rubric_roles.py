"""Rubric questions may name the part they play in the bias checks."""

from __future__ import annotations

from guidelines.rubric import normalize_question, validate_rubric


def q(**fields):
    return normalize_question({"label": "L", **fields})


def test_roles_are_accepted_on_matching_types():
    rubric = [
        q(key="overall", type="likert", role="quality"),
        q(key="wrong", type="binary", role="error_flag"),
        q(key="confident", type="likert", role="assertiveness"),
    ]
    assert validate_rubric(rubric) == []


def test_unknown_mismatched_and_repeated_roles_are_each_reported():
    rubric = [
        q(key="a", type="likert", role="quality"),
        q(key="b", type="likert", role="quality"),
        q(key="c", type="text", role="error_flag"),
        q(key="d", type="binary", role="vibes"),
    ]
    errors = {(e.key, e.field): e.message for e in validate_rubric(rubric)}
    assert "already plays the role 'quality'" in errors[("b", "role")]
    assert "must be of type binary" in errors[("c", "role")]
    assert "Must be one of" in errors[("d", "role")]
