"""Forms for the lead's editor, plus the bridge between rubric questions and HTML
inputs (rendering widgets, and parsing posted values back into the answers shape)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from guidelines.models import GuidelineMode
from guidelines.rubric import (
    RubricFormatError,
    response_letters,
    rubric_from_json,
    rubric_from_yaml,
    rubric_to_yaml,
    yaml_dump,
    yaml_load,
)


def _yaml_or_pasted_json(text: str) -> list[dict]:
    """JSON pasted into the YAML box is read as JSON: YAML 1.1 would read numbers like
    1e-05 (no decimal point) as strings."""
    if text.lstrip()[:1] in ("[", "{"):
        try:
            return rubric_from_json(text)
        except RubricFormatError:
            pass
    return rubric_from_yaml(text)


class GuidelineCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    mode = forms.ChoiceField(choices=GuidelineMode.choices, initial=GuidelineMode.SINGLE)


class VersionEditForm(forms.Form):
    """The draft's content as text: the rubric in YAML or JSON, examples and quiz in YAML.

    Parsing happens here (a 400-class problem); the service validates the meaning.
    """

    prose = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), required=False)
    rubric_format = forms.ChoiceField(choices=[("yaml", "YAML"), ("json", "JSON")], initial="yaml")
    rubric_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
        required=False,
        label="Rubric",
    )
    examples_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "code"}),
        required=False,
        label="Worked examples (YAML)",
    )
    quiz_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "code"}),
        required=False,
        label="Qualification quiz (YAML; empty for none)",
    )
    changelog = forms.CharField(max_length=500, required=False)

    @classmethod
    def initial_for(cls, version: Any) -> dict[str, Any]:
        return {
            "prose": version.prose,
            "rubric_format": "yaml",
            "rubric_text": rubric_to_yaml(version.rubric) if version.rubric else "",
            "examples_text": yaml_dump(version.examples) if version.examples else "",
            "quiz_text": yaml_dump(version.quiz) if version.quiz else "",
            "changelog": version.changelog,
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        # Django's stubs type `Form.clean()` as optional; `cleaned_data` is what it returns here.
        data = self.cleaned_data
        text = data.get("rubric_text", "")
        try:
            if not text.strip():
                data["rubric"] = []
            elif data.get("rubric_format") == "json":
                data["rubric"] = rubric_from_json(text)
            else:
                data["rubric"] = _yaml_or_pasted_json(text)
        except RubricFormatError as exc:
            self.add_error("rubric_text", str(exc))
        for field, key, empty in (("examples_text", "examples", []), ("quiz_text", "quiz", {})):
            try:
                parsed = yaml_load(data.get(field, "")) if data.get(field, "").strip() else empty
            except RubricFormatError as exc:
                self.add_error(field, str(exc))
                continue
            if not isinstance(parsed, type(empty)):
                kind = "a list of examples" if key == "examples" else "a mapping"
                self.add_error(field, f"Expected {kind}.")
                continue
            data[key] = parsed
        return data


# ---- rubric questions as HTML inputs ---------------------------------------------


def question_widgets(questions: list[dict], *, prefix: str, n_outputs: int) -> list[dict]:
    """What the question template needs: input names and choices, per response letter.

    Names are "<prefix><key>" for per-unit questions and "<prefix><key>.<letter>" for
    per-output ones; `answers_from_post` reads the same names back.
    """
    letters = response_letters(n_outputs)
    widgets = []
    for q in questions:
        points = []
        if q["type"] == "likert":
            anchors = q.get("anchors") or {}
            points = [(p, anchors.get(str(p), "")) for p in range(q["min"], q["max"] + 1)]
        targets = [None] if q["scope"] == "per_unit" else letters
        widgets.append(
            {
                "q": q,
                "points": points,
                "letters": letters,
                "positions": list(range(1, len(letters) + 1)),
                "pairwise_choices": ["A", "B", "tie"] if q.get("allow_tie") else ["A", "B"],
                "inputs": [
                    {"letter": t, "name": f"{prefix}{q['key']}" + (f".{t}" if t else "")}
                    for t in targets
                ],
            }
        )
    return widgets


def _number(raw: str) -> int | float | str:
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw  # left for validate_answers to report


def _value(q: dict[str, Any], data: QueryDict, name: str, letters: list[str]) -> Any:
    qtype = q["type"]
    if qtype == "multi_choice":
        return data.getlist(name) or None
    if qtype == "ranking":
        # One "position" select per response; order the letters by the chosen positions.
        positions = {letter: data.get(f"{name}.{letter}", "") for letter in letters}
        if not any(positions.values()):
            return None
        try:
            ordered = sorted(letters, key=lambda letter: int(positions[letter]))
        except ValueError:
            return ["?"]
        if len({positions[letter] for letter in letters}) != len(letters):
            return ["?"]
        return ordered
    if qtype == "pairwise":
        choice = data.get(name, "")
        if not choice:
            return None
        strength = data.get(f"{name}.strength") or None
        return {"choice": choice, "strength": strength if choice != "tie" else None}
    raw = data.get(name, "")
    if raw == "":
        return None
    if qtype == "likert" or qtype == "numeric":
        return _number(raw)
    if qtype == "binary":
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def answers_from_post(
    questions: list[dict], data: QueryDict, *, prefix: str, n_outputs: int
) -> dict[str, Any]:
    """Posted form values → the validate_answers shape; unanswered questions are left out."""
    letters = response_letters(n_outputs)
    answers: dict[str, Any] = {}
    for q in questions:
        name = f"{prefix}{q['key']}"
        if q["scope"] == "per_unit":
            value = _value(q, data, name, letters)
            if value is not None:
                answers[q["key"]] = value
            continue
        per_letter = {
            letter: v
            for letter in letters
            if (v := _value(q, data, f"{name}.{letter}", letters)) is not None
        }
        if per_letter:
            answers[q["key"]] = per_letter
    return answers
