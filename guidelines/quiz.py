"""Worked examples and qualification quizzes: validation, grading, redaction. Pure.

Example item: {"title", "prompt", "outputs": [text, ...], "answers", "explanation"}.
Quiz: {"pass_threshold": 0<t<=1, "max_attempts": int, "items": [{"id", "prompt",
"outputs", "answers", "explanation"}]}; `answers` uses the validate_answers shape and,
in a quiz, is the answer key: it may cover only the questions that are graded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from guidelines.rubric import (
    KEY_RE,
    answer_cells,
    answers_equal,
    question_for_cell,
    validate_answers,
)

DEFAULT_MAX_ATTEMPTS = 3
MAX_ITEMS = 50
ITEM_FIELDS = {"prompt", "outputs", "answers", "explanation"}


@dataclass(frozen=True)
class ContentError:
    """A problem in the examples or the quiz; `item` is the 0-based item index."""

    section: str
    item: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = self.section if self.item is None else f"{self.section} item {self.item + 1}"
        return f"{where}, {self.field}: {self.message}"


def n_outputs_ok(mode: str, n: int) -> bool:
    return {"single": n == 1, "pairwise": n == 2, "ranking": 2 <= n <= 26}.get(mode, 1 <= n <= 26)


def _validate_items(
    section: str, items: Any, questions: list[dict], mode: str, *, key_fields: set[str]
) -> list[ContentError]:
    errors: list[ContentError] = []
    if not isinstance(items, list):
        return [ContentError(section, None, "items", "Must be a list.")]
    if len(items) > MAX_ITEMS:
        errors.append(ContentError(section, None, "items", f"At most {MAX_ITEMS} items."))
    for index, item in enumerate(items):

        def add(field: str, message: str, _i: int = index) -> None:
            errors.append(ContentError(section, _i, field, message))

        if not isinstance(item, dict):
            add("item", "Must be a mapping.")
            continue
        for name in sorted(set(item) - ITEM_FIELDS - key_fields):
            add(name, "Unknown field.")
        for name in ("prompt", "explanation", *(k for k in key_fields if k != "id")):
            if name in item and not isinstance(item[name], str):
                add(name, "Must be text.")
        if not isinstance(item.get("prompt"), str) or not item["prompt"].strip():
            add("prompt", "Give the prompt the responses answer.")
        outputs = item.get("outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            add("outputs", "Must be a list of response texts.")
            continue
        if not n_outputs_ok(mode, len(outputs)):
            add(
                "outputs",
                f"A {mode} guideline shows {'one response' if mode == 'single' else 'two responses' if mode == 'pairwise' else '2 or more responses'}.",
            )
            continue
        answers = item.get("answers")
        if not isinstance(answers, dict):
            add("answers", "Must be a mapping from question key to answer.")
            continue
        if section == "quiz" and not answer_cells(questions, answers):
            add("answers", "Give the correct answer to at least one question.")
        problems = validate_answers(
            questions, answers, n_outputs=len(outputs), partial=section == "quiz"
        )
        for field, messages in problems.items():
            for message in messages:
                add(f"answers.{field}", message)
    return errors


def validate_examples(examples: Any, questions: list[dict], *, mode: str) -> list[ContentError]:
    """Worked examples must answer the rubric exactly as an annotator would have to."""
    errors = _validate_items("examples", examples, questions, mode, key_fields={"title"})
    for index, item in enumerate(examples if isinstance(examples, list) else []):
        if isinstance(item, dict) and not str(item.get("title", "")).strip():
            errors.append(ContentError("examples", index, "title", "Give the example a title."))
    return errors


def validate_quiz(quiz: Any, questions: list[dict], *, mode: str) -> list[ContentError]:
    """An empty mapping means no quiz."""
    if quiz in ({}, None):
        return []
    if not isinstance(quiz, dict):
        return [ContentError("quiz", None, "quiz", "Must be a mapping.")]
    errors: list[ContentError] = []
    for name in sorted(set(quiz) - {"pass_threshold", "max_attempts", "items"}):
        errors.append(ContentError("quiz", None, name, "Unknown field."))
    threshold = quiz.get("pass_threshold")
    if (
        not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
        or not 0 < threshold <= 1
    ):
        errors.append(
            ContentError("quiz", None, "pass_threshold", "Give a share from 0 (exclusive) to 1.")
        )
    attempts = quiz.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 20:
        errors.append(ContentError("quiz", None, "max_attempts", "Give a number from 1 to 20."))
    items = quiz.get("items")
    if not isinstance(items, list) or not items:
        errors.append(ContentError("quiz", None, "items", "A quiz needs at least one item."))
        return errors
    errors += _validate_items("quiz", items, questions, mode, key_fields={"id"})
    seen: set[str] = set()
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or not KEY_RE.match(item_id):
            errors.append(
                ContentError("quiz", index, "id", "Give an id: lowercase letters, digits, _.")
            )
        elif item_id in seen:
            errors.append(ContentError("quiz", index, "id", f"The id '{item_id}' is used twice."))
        else:
            seen.add(item_id)
    return errors


def quiz_for_annotator(quiz: dict[str, Any]) -> dict[str, Any]:
    """The quiz as an annotator may see it: prompts and responses, never the key or
    the explanations (which would give the key away)."""
    if not quiz or not quiz.get("items"):
        return {}
    return {
        "pass_threshold": quiz["pass_threshold"],
        "max_attempts": quiz.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
        "items": [
            {"id": item["id"], "prompt": item["prompt"], "outputs": list(item["outputs"])}
            for item in quiz["items"]
        ],
    }


@dataclass(frozen=True)
class QuizGrade:
    score: float
    passed: bool
    correct: int
    graded: int


def quiz_grade(quiz: dict[str, Any], questions: list[dict], answers: dict) -> QuizGrade:
    """Share of keyed answers (one per question, or per question and response) that
    the annotator matched; `answers` is {item id: answers in validate_answers shape}."""
    correct = graded = 0
    for item in quiz["items"]:
        given = answer_cells(questions, answers.get(item["id"]) or {})
        for cell, expected in answer_cells(questions, item["answers"]).items():
            graded += 1
            question = question_for_cell(questions, cell)
            if question is not None and cell in given:
                correct += answers_equal(question, given[cell], expected)
    score = correct / graded if graded else 0.0
    return QuizGrade(
        score=score, passed=score >= quiz["pass_threshold"], correct=correct, graded=graded
    )
