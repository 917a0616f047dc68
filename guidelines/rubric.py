"""Rubrics: the ordered questions an annotator answers. Pure Python, no ORM.

A rubric is a list of question dicts, stored as JSON on a guideline version. The
shape, the answers shape `validate_answers` accepts, and the measurement levels
are documented in docs/guidelines.md; agreement analysis and the assignment
engine rely on them, so change them only together with those consumers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

import yaml

QUESTION_TYPES = (
    "likert",
    "binary",
    "single_choice",
    "multi_choice",
    "numeric",
    "pairwise",
    "ranking",
    "text",
)
LEVELS = ("nominal", "ordinal", "interval", "ratio")
SCOPES = ("per_output", "per_unit")
MODES = ("single", "pairwise", "ranking")
PAIRWISE_CHOICES = ("A", "B", "tie")
DEFAULT_STRENGTH_LEVELS = ["slightly", "clearly"]

# Levels each type may declare. Pairwise is nominal without strength; with strength
# its answers order as A-clearly < A-slightly < tie < B-slightly < B-clearly, which
# is an ordinal scale, so a strength question must declare "ordinal".
ALLOWED_LEVELS: dict[str, tuple[str | None, ...]] = {
    "likert": ("ordinal",),
    "binary": ("nominal",),
    "single_choice": ("nominal",),
    "multi_choice": ("nominal",),
    "numeric": ("interval", "ratio"),
    "pairwise": ("nominal", "ordinal"),
    "ranking": ("ordinal",),
    "text": (None,),
}
# Pairwise and ranking compare the shown responses, so they are asked once per unit.
FIXED_SCOPE = {"pairwise": "per_unit", "ranking": "per_unit"}

BASE_FIELDS = {"key", "label", "help", "required", "type", "level", "scope", "role"}
# The part a question plays in the bias checks (docs/bias-methods.md), and the
# question types that can play it. Optional: without roles the conventional keys
# (quality, has_factual_error, assertiveness, preference) are used.
ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "quality": ("likert", "numeric"),
    "error_flag": ("binary",),
    "assertiveness": ("likert", "numeric"),
    "preference": ("pairwise",),
}
TYPE_FIELDS: dict[str, set[str]] = {
    "likert": {"min", "max", "anchors"},
    "binary": set(),
    "single_choice": {"options"},
    "multi_choice": {"options"},
    "numeric": {"min", "max"},
    "pairwise": {"allow_tie", "strength", "strength_levels"},
    "ranking": set(),
    "text": {"max_length"},
}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Control characters break YAML round trips and render invisibly; labels never need them.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
LIKERT_MAX_POINTS = 11
TEXT_MAX_LENGTH = 20_000
MAX_QUESTIONS = 100
MAX_IMPORT_BYTES = 1_000_000


@dataclass(frozen=True)
class RubricError:
    """One problem in a rubric: `question` is the 0-based index (None for the rubric
    as a whole), `key` the question's key when it has a usable one."""

    question: int | None
    key: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = "rubric" if self.question is None else f"question {self.question + 1}"
        if self.key:
            where += f" ({self.key})"
        return f"{where}, {self.field}: {self.message}"


class RubricFormatError(ValueError):
    """The YAML or JSON text is not a list of question mappings."""


def default_level(qtype: str, *, strength: bool = False) -> str | None:
    if qtype == "pairwise":
        return "ordinal" if strength else "nominal"
    if qtype == "numeric":
        return "interval"
    allowed = ALLOWED_LEVELS.get(qtype)
    return allowed[0] if allowed else None


def normalize_question(question: Any) -> Any:
    """Fill the fields an author may leave out with their documented defaults.

    Services normalize before validating, so stored rubrics always carry every field;
    `rubric_from_*` do not, so imports round-trip exactly.
    """
    if not isinstance(question, dict) or question.get("type") not in QUESTION_TYPES:
        return question
    qtype = question["type"]
    out = {"key": question.get("key"), "label": question.get("label")}
    out["help"] = question.get("help", "")
    out["required"] = question.get("required", qtype != "text")
    out["type"] = qtype
    extra: dict[str, Any] = {}
    if qtype == "likert":
        extra = {"min": 1, "max": 5, "anchors": {}}
    elif qtype in ("single_choice", "multi_choice"):
        extra = {"options": []}
    elif qtype == "numeric":
        extra = {"min": None, "max": None}
    elif qtype == "pairwise":
        strength = question.get("strength", False)
        extra = {
            "allow_tie": True,
            "strength": False,
            "strength_levels": list(DEFAULT_STRENGTH_LEVELS) if strength is True else [],
        }
    elif qtype == "text":
        extra = {"max_length": 2000}
    strength_on = question.get("strength", False) is True
    out["level"] = question.get("level", default_level(qtype, strength=strength_on))
    out["scope"] = question.get("scope", FIXED_SCOPE.get(qtype, "per_output"))
    for name, default in extra.items():
        out[name] = question.get(name, default)
    if qtype == "likert" and isinstance(out["anchors"], dict):
        # YAML authors write `anchors: {1: Poor}`; JSON object keys are strings.
        out["anchors"] = {str(k) if _is_int(k) else k: v for k, v in out["anchors"].items()}
    # Unknown fields are kept so validation can name them instead of dropping typos.
    for name, value in question.items():
        out.setdefault(name, value)
    return out


def rubric_normalize(questions: Any) -> Any:
    if not isinstance(questions, list):
        return questions
    return [normalize_question(q) for q in questions]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _check_text(value: Any, *, allow_empty: bool, max_len: int = 500) -> str | None:
    if not isinstance(value, str):
        return "Must be text."
    if not allow_empty and not value.strip():
        return "Must not be empty."
    if len(value) > max_len:
        return f"Must be at most {max_len} characters."
    if CONTROL_RE.search(value):
        return "Must not contain control characters."
    return None


def _validate_question(q: dict[str, Any], add: Any) -> None:
    qtype = q.get("type")
    if qtype not in QUESTION_TYPES:
        add("type", f"Must be one of: {', '.join(QUESTION_TYPES)}.")
        return
    for name in ("key", "label", "required", "level", "scope"):
        if name not in q:
            add(name, "This field is missing.")
    unknown = sorted(set(q) - BASE_FIELDS - TYPE_FIELDS[qtype])
    for name in unknown:
        add(name, f"Unknown field for a {qtype} question.")
    if "key" in q and (not isinstance(q["key"], str) or not KEY_RE.match(q["key"])):
        add("key", "Use 1–64 lowercase letters, digits or underscores, starting with a letter.")
    if "label" in q and (problem := _check_text(q["label"], allow_empty=False)):
        add("label", problem)
    if "help" in q and (problem := _check_text(q["help"], allow_empty=True, max_len=2000)):
        add("help", problem)
    if "required" in q and not isinstance(q["required"], bool):
        add("required", "Must be true or false.")
    if "level" in q:
        allowed = ALLOWED_LEVELS[qtype]
        if qtype == "pairwise" and isinstance(q.get("strength"), bool):
            allowed = ("ordinal",) if q["strength"] else ("nominal",)
        if q["level"] not in allowed:
            shown = ", ".join("null" if a is None else a for a in allowed)
            add("level", f"A {qtype} question must have level: {shown}.")
    if "scope" in q:
        if q["scope"] not in SCOPES:
            add("scope", f"Must be one of: {', '.join(SCOPES)}.")
        elif qtype in FIXED_SCOPE and q["scope"] != FIXED_SCOPE[qtype]:
            add("scope", f"A {qtype} question compares responses, so its scope is per_unit.")
    TYPE_VALIDATORS[qtype](q, add)


def _validate_likert(q: dict[str, Any], add: Any) -> None:
    lo, hi = q.get("min"), q.get("max")
    if not _is_int(lo):
        add("min", "Must be a whole number.")
    if not _is_int(hi):
        add("max", "Must be a whole number.")
    if _is_int(lo) and _is_int(hi):
        if lo >= hi:
            add("max", "Must be greater than min.")
        elif hi - lo + 1 > LIKERT_MAX_POINTS:
            add("max", f"A scale has at most {LIKERT_MAX_POINTS} points.")
    anchors = q.get("anchors")
    if not isinstance(anchors, dict):
        add("anchors", "Must be a mapping from scale point to label.")
        return
    for point, label in anchors.items():
        if not isinstance(point, str) or not re.fullmatch(r"-?\d+", point):
            add("anchors", f"Anchor '{point}' is not a scale point.")
        elif _is_int(lo) and _is_int(hi) and not lo <= int(point) <= hi:
            add("anchors", f"Anchor {point} is outside {lo}–{hi}.")
        if problem := _check_text(label, allow_empty=False):
            add("anchors", f"Anchor {point}: {problem}")


def _validate_options(q: dict[str, Any], add: Any) -> None:
    options = q.get("options")
    if not isinstance(options, list):
        add("options", "Must be a list of {value, label}.")
        return
    if len(options) < 2:
        add("options", "Give at least two options.")
    seen: set[str] = set()
    for i, option in enumerate(options, start=1):
        if not isinstance(option, dict) or set(option) != {"value", "label"}:
            add("options", f"Option {i} must have exactly a value and a label.")
            continue
        value = option["value"]
        if not isinstance(value, str) or not value.strip() or CONTROL_RE.search(value):
            add("options", f"Option {i}: the value must be non-empty text.")
        elif value in seen:
            add("options", f"Option {i}: the value '{value}' is used twice.")
        else:
            seen.add(value)
        if problem := _check_text(option["label"], allow_empty=False):
            add("options", f"Option {i} label: {problem}")


def _validate_numeric(q: dict[str, Any], add: Any) -> None:
    lo, hi = q.get("min"), q.get("max")
    for name, value in (("min", lo), ("max", hi)):
        if value is not None and not _is_number(value):
            add(name, "Must be a finite number or null.")
    if _is_number(lo) and _is_number(hi) and lo >= hi:
        add("max", "Must be greater than min.")


def _validate_pairwise(q: dict[str, Any], add: Any) -> None:
    if not isinstance(q.get("allow_tie"), bool):
        add("allow_tie", "Must be true or false.")
    strength = q.get("strength")
    if not isinstance(strength, bool):
        add("strength", "Must be true or false.")
    levels = q.get("strength_levels", [])
    if not isinstance(levels, list) or not all(isinstance(s, str) and s.strip() for s in levels):
        add("strength_levels", "Must be a list of non-empty labels.")
    elif strength is True and len(levels) < 2:
        add("strength_levels", "Give at least two strength levels, e.g. slightly, clearly.")
    elif strength is False and levels:
        add("strength_levels", "Only used when strength is true.")
    elif len(set(levels)) != len(levels):
        add("strength_levels", "Each strength level must be different.")


def _validate_text(q: dict[str, Any], add: Any) -> None:
    max_length = q.get("max_length")
    if not _is_int(max_length) or not 1 <= max_length <= TEXT_MAX_LENGTH:
        add("max_length", f"Must be a whole number from 1 to {TEXT_MAX_LENGTH}.")


def _no_extra(q: dict[str, Any], add: Any) -> None:
    return None


TYPE_VALIDATORS = {
    "likert": _validate_likert,
    "binary": _no_extra,
    "single_choice": _validate_options,
    "multi_choice": _validate_options,
    "numeric": _validate_numeric,
    "pairwise": _validate_pairwise,
    "ranking": _no_extra,
    "text": _validate_text,
}


def validate_rubric(questions: list[dict], *, mode: str | None = None) -> list[RubricError]:
    """Every problem in the rubric, by question and field; an empty list means valid.

    `mode` is the task mode ("single", "pairwise", "ranking") or None to accept any
    question type. An empty rubric is valid here (drafts start empty); publishing
    requires at least one question.
    """
    errors: list[RubricError] = []
    if mode is not None and mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}")
    if not isinstance(questions, list):
        return [RubricError(None, None, "rubric", "A rubric is a list of questions.")]
    if len(questions) > MAX_QUESTIONS:
        errors.append(
            RubricError(None, None, "rubric", f"A rubric has at most {MAX_QUESTIONS} questions.")
        )
    keys: dict[str, int] = {}
    roles: dict[str, int] = {}
    types: list[str] = []
    for index, q in enumerate(questions):
        key = q.get("key") if isinstance(q, dict) else None
        key = key if isinstance(key, str) else None

        def add(field: str, message: str, _i: int = index, _k: str | None = key) -> None:
            errors.append(RubricError(_i, _k, field, message))

        if not isinstance(q, dict):
            add("question", "Each question must be a mapping of fields.")
            continue
        _validate_question(q, add)
        if key is not None:
            if key in keys:
                add("key", f"The key '{key}' is already used by question {keys[key] + 1}.")
            else:
                keys[key] = index
        if "role" in q:
            role = q["role"]
            if role not in ROLE_TYPES:
                add("role", f"Must be one of: {', '.join(ROLE_TYPES)}.")
            elif q.get("type") not in ROLE_TYPES[role]:
                add("role", f"A {role} question must be of type {' or '.join(ROLE_TYPES[role])}.")
            elif role in roles:
                add("role", f"Question {roles[role] + 1} already plays the role '{role}'.")
            else:
                roles[role] = index
        if isinstance(q.get("type"), str):
            types.append(q["type"])
            if q["type"] == "pairwise" and mode not in (None, "pairwise"):
                add("type", "Pairwise questions belong only in pairwise rubrics.")
            if q["type"] == "ranking" and mode not in (None, "ranking"):
                add("type", "Ranking questions belong only in ranking rubrics.")
    if mode == "pairwise" and questions and "pairwise" not in types:
        errors.append(
            RubricError(None, None, "rubric", "A pairwise rubric needs a pairwise question.")
        )
    if mode == "ranking" and questions and "ranking" not in types:
        errors.append(
            RubricError(None, None, "rubric", "A ranking rubric needs a ranking question.")
        )
    return errors


def measurement_levels(questions: list[dict]) -> dict[str, str | None]:
    """Each question's level for agreement analysis; free-text questions map to None."""
    return {q["key"]: q.get("level") for q in questions}


# ---- import and export ------------------------------------------------------------


def _unwrap(data: Any) -> list[dict]:
    if isinstance(data, dict) and set(data) == {"questions"}:
        data = data["questions"]
    if not isinstance(data, list) or not all(isinstance(q, dict) for q in data):
        raise RubricFormatError("Expected a list of questions (or a mapping with 'questions').")
    return data


def _check_size(text: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
        raise RubricFormatError(f"The rubric file is larger than {MAX_IMPORT_BYTES} bytes.")


def yaml_load(text: str) -> Any:
    """Safe YAML without aliases: they let a tiny file expand without bound."""
    _check_size(text)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise RubricFormatError("YAML aliases (*name) are not allowed here.")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricFormatError(f"Not valid YAML: {exc}") from exc


def yaml_dump(data: Any) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def rubric_from_yaml(text: str) -> list[dict]:
    return _unwrap(yaml_load(text))


def _refuse_constant(name: str) -> Any:
    raise RubricFormatError(f"{name} is not a valid number in a rubric.")


def rubric_from_json(text: str) -> list[dict]:
    _check_size(text)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RubricFormatError(f"Not valid JSON: {exc}") from exc
    return _unwrap(data)


def rubric_to_yaml(questions: list[dict]) -> str:
    return yaml_dump(list(questions))


def rubric_to_json(questions: list[dict]) -> str:
    return json.dumps(list(questions), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ---- answers ----------------------------------------------------------------------


def response_letters(n_outputs: int) -> list[str]:
    if not 1 <= n_outputs <= 26:
        raise ValueError("n_outputs must be between 1 and 26")
    return [chr(ord("A") + i) for i in range(n_outputs)]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _check_value(q: dict[str, Any], value: Any, letters: list[str]) -> str | None:
    """The problem with one answered value, or None. Blank values are handled by callers."""
    qtype = q["type"]
    if qtype == "likert":
        if not _is_int(value) or not q["min"] <= value <= q["max"]:
            return f"Choose a whole number from {q['min']} to {q['max']}."
    elif qtype == "binary":
        if not isinstance(value, bool):
            return "Answer yes (true) or no (false)."
    elif qtype == "single_choice":
        if value not in {o["value"] for o in q["options"]}:
            return "Choose one of the listed options."
    elif qtype == "multi_choice":
        allowed = {o["value"] for o in q["options"]}
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "Give a list of options."
        if len(set(value)) != len(value):
            return "Each option may be chosen once."
        if not set(value) <= allowed:
            return "Choose only listed options."
    elif qtype == "numeric":
        if not _is_number(value):
            return "Give a number."
        if q.get("min") is not None and value < q["min"]:
            return f"Must be at least {q['min']}."
        if q.get("max") is not None and value > q["max"]:
            return f"Must be at most {q['max']}."
    elif qtype == "text":
        if not isinstance(value, str):
            return "Give text."
        if len(value) > q["max_length"]:
            return f"Must be at most {q['max_length']} characters."
    elif qtype == "pairwise":
        return _check_pairwise(q, value)
    elif qtype == "ranking" and (
        not isinstance(value, list) or sorted(value, key=str) != sorted(letters)
    ):
        return f"Rank every response exactly once: {', '.join(letters)}."
    return None


def _check_pairwise(q: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, dict) or not set(value) <= {"choice", "strength"}:
        return 'Give {"choice": "A"|"B"|"tie", "strength": ...}.'
    choice, strength = value.get("choice"), value.get("strength")
    choices = PAIRWISE_CHOICES if q.get("allow_tie") else ("A", "B")
    if choice not in choices:
        return f"Choose one of: {', '.join(choices)}."
    if q.get("strength") and choice != "tie":
        if strength not in q.get("strength_levels", []):
            return f"Say how strongly: {', '.join(q.get('strength_levels', []))}."
    elif strength is not None:
        return (
            "No strength is asked for here." if not q.get("strength") else "A tie has no strength."
        )
    return None


def validate_answers(
    questions: list[dict], answers: dict, *, n_outputs: int, partial: bool = False
) -> dict[str, list[str]]:
    """Problems with one submission, keyed by field; an empty dict means valid.

    Per-unit questions are answered as `answers[key] = value` and errors are keyed
    "key"; per-output questions as `answers[key] = {"A": value, "B": value, ...}`
    with one entry per shown response, and errors on one response are keyed "key.A".
    `partial=True` skips the required checks (used for quiz answer keys, which grade
    only some questions). See docs/guidelines.md for every value's shape.
    """
    letters = response_letters(n_outputs)
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not isinstance(answers, dict):
        return {"__all__": ["Answers must be a mapping from question key to answer."]}
    by_key = {q["key"]: q for q in questions}
    for key in answers:
        if key not in by_key:
            add(str(key), "There is no such question.")
    for key, q in by_key.items():
        value = answers.get(key)
        if q["type"] == "pairwise" and n_outputs != 2:
            if not _is_blank(value):
                add(key, "A pairwise question needs exactly two responses.")
            continue
        if q["type"] == "ranking" and n_outputs < 2:
            if not _is_blank(value):
                add(key, "A ranking needs at least two responses.")
            continue
        required = q.get("required", False) and not partial
        if q["scope"] == "per_unit":
            if _is_blank(value):
                if required:
                    add(key, "This question is required.")
            elif problem := _check_value(q, value, letters):
                add(key, problem)
            continue
        if value is None:
            value = {}
        if not isinstance(value, dict):
            add(key, f"Answer once per response: {{{', '.join(letters)}}}.")
            continue
        for letter in value:
            if letter not in letters:
                add(f"{key}.{letter}", "No such response is shown.")
        for letter in letters:
            item = value.get(letter)
            if _is_blank(item):
                if required:
                    add(f"{key}.{letter}", "This question is required.")
            elif problem := _check_value(q, item, letters):
                add(f"{key}.{letter}", problem)
    return errors


def answer_cells(questions: list[dict], answers: dict) -> dict[str, Any]:
    """Flatten answers to {"key" or "key.A": value}, the unit quiz grading compares."""
    cells: dict[str, Any] = {}
    by_key = {q["key"]: q for q in questions}
    for key, value in answers.items():
        q = by_key.get(key)
        if q is None or _is_blank(value):
            continue
        if q["scope"] == "per_output" and isinstance(value, dict):
            for letter, item in value.items():
                if not _is_blank(item):
                    cells[f"{key}.{letter}"] = item
        else:
            cells[key] = value
    return cells


def answers_equal(question: dict[str, Any], given: Any, expected: Any) -> bool:
    """Whether an answer matches a key: multi-choice ignores order; pairwise compares
    only the choice, since strength is a judgement call a quiz should not fail on."""
    if question["type"] == "multi_choice":
        return isinstance(given, list) and sorted(given) == sorted(expected)
    if question["type"] == "pairwise":
        return isinstance(given, dict) and given.get("choice") == expected.get("choice")
    if question["type"] == "numeric" and _is_number(given):
        return math.isclose(given, expected, rel_tol=1e-9, abs_tol=1e-9)
    return bool(given == expected and type(given) is type(expected))


def question_for_cell(questions: Iterable[dict], cell: str) -> dict[str, Any] | None:
    key = cell.split(".", 1)[0]
    return next((q for q in questions if q["key"] == key), None)


# ---- diff -------------------------------------------------------------------------


def _options_map(q: dict[str, Any]) -> dict[str, str]:
    return {o["value"]: o["label"] for o in q.get("options") or [] if isinstance(o, dict)}


def rubric_diff(old: list[dict], new: list[dict]) -> dict[str, Any]:
    """What changed between two rubrics, matching questions by key.

    Returns {"added": [question], "removed": [question], "changed": [{"key", "label",
    "fields": [{"field", "old", "new"}], "options_added", "options_removed",
    "options_changed": [{"value", "old", "new"}]}], "reordered": bool}.
    """
    old_by_key = {q["key"]: q for q in old}
    new_by_key = {q["key"]: q for q in new}
    changed = []
    for key, nq in new_by_key.items():
        oq = old_by_key.get(key)
        if oq is None or oq == nq:
            continue
        fields = [
            {"field": name, "old": oq.get(name), "new": nq.get(name)}
            for name in [*nq, *(n for n in oq if n not in nq)]
            if name != "options" and oq.get(name) != nq.get(name)
        ]
        old_opts, new_opts = _options_map(oq), _options_map(nq)
        changed.append(
            {
                "key": key,
                "label": nq.get("label"),
                "fields": fields,
                "options_added": [
                    {"value": v, "label": lbl} for v, lbl in new_opts.items() if v not in old_opts
                ],
                "options_removed": [
                    {"value": v, "label": lbl} for v, lbl in old_opts.items() if v not in new_opts
                ],
                "options_changed": [
                    {"value": v, "old": old_opts[v], "new": lbl}
                    for v, lbl in new_opts.items()
                    if v in old_opts and old_opts[v] != lbl
                ],
            }
        )
    common_old = [k for k in old_by_key if k in new_by_key]
    common_new = [k for k in new_by_key if k in old_by_key]
    return {
        "added": [q for k, q in new_by_key.items() if k not in old_by_key],
        "removed": [q for k, q in old_by_key.items() if k not in new_by_key],
        "changed": changed,
        "reordered": common_old != common_new,
    }
