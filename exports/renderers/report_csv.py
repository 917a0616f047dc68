"""An agreement report as a zip of tidy CSV tables, one per section, plus the manifest.

Tables (docs/exports.md): ``coefficients.csv`` (every coefficient, overall and per
breakdown group), ``categories.csv``, ``kappa_pairs.csv``, ``preference.csv``,
``annotators_by_question.csv``, ``annotators.csv``, ``contested_units.csv``,
``questions.csv``; and ``manifest.json``. Floats are written with Python's shortest
round-trip repr, missing values as empty cells.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

CONTENT_TYPE = "application/zip"
EXTENSION = "zip"

COEFFICIENTS = ("krippendorff_alpha", "fleiss_kappa", "gwet_ac1", "percent_agreement")
COEFFICIENT_FIELDS = (
    "value",
    "defined",
    "reason",
    "method",
    "ci_low",
    "ci_high",
    "confidence_level",
    "ci_method",
    "n_units",
    "n_pairable_units",
    "n_ratings",
    "n_annotators",
    "n_bootstrap",
    "n_bootstrap_defined",
    "bootstrap_se",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


def _table(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _sets(section: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(breakdown column, group, coefficient set): overall first, then each breakdown."""
    if section.get("overall"):
        yield "", "", section["overall"]
    for column, breakdown in sorted((section.get("breakdowns") or {}).items()):
        for group, coefficients in sorted((breakdown.get("groups") or {}).items()):
            yield column, group, coefficients


def tables(report: Mapping[str, Any]) -> dict[str, bytes]:
    thresholds = list(report.get("parameters", {}).get("thresholds", []))
    questions = sorted(report.get("questions", {}).items())
    rows: dict[str, list[list[Any]]] = {
        name: []
        for name in (
            "questions",
            "coefficients",
            "categories",
            "kappa_pairs",
            "preference",
            "annotators_by_question",
            "contested_units",
        )
    }
    for name, section in questions:
        overall = section.get("overall") or {}
        counts = overall.get("counts") or {}
        rows["questions"].append(
            [
                name,
                section.get("type"),
                section.get("level"),
                section.get("status"),
                section.get("reason"),
                section.get("n_rows"),
                section.get("n_missing_answers"),
                counts.get("n_units"),
                counts.get("n_annotators"),
                counts.get("n_ratings"),
                (overall.get("krippendorff_alpha") or {}).get("value"),
                (overall.get("cohen_kappa_pairs") or {}).get("mean_kappa"),
            ]
        )
        for column, group, coefficients in _sets(section):
            for coefficient in COEFFICIENTS:
                c = coefficients.get(coefficient) or {}
                p_below = {p["threshold"]: p["probability"] for p in c.get("p_below") or []}
                rows["coefficients"].append(
                    [name, column, group, coefficient]
                    + [c.get(field) for field in COEFFICIENT_FIELDS]
                    + [p_below.get(t) for t in thresholds]
                )
            for category in (coefficients.get("counts") or {}).get("categories") or []:
                rows["categories"].append(
                    [
                        name,
                        column,
                        group,
                        category["label"],
                        category["count"],
                        category["prevalence"],
                    ]
                )
            pairs = coefficients.get("cohen_kappa_pairs") or {}
            for pair in pairs.get("pairs") or []:
                rows["kappa_pairs"].append(
                    [
                        name,
                        column,
                        group,
                        pair["a"],
                        pair["b"],
                        pair.get("n"),
                        pair.get("kappa"),
                        pair.get("kappa_linear"),
                        pair.get("kappa_quadratic"),
                        pair.get("reason"),
                    ]
                )
        preference = section.get("preference")
        if preference:
            votes = preference.get("votes") or {}
            for ties in ("with_ties", "without_ties"):
                for coefficient, c in sorted((preference.get(ties) or {}).items()):
                    rows["preference"].append(
                        [
                            name,
                            ties,
                            coefficient,
                            c.get("value"),
                            c.get("ci_low"),
                            c.get("ci_high"),
                            c.get("reason"),
                            votes.get("n"),
                            votes.get("first_position"),
                            votes.get("second_position"),
                            votes.get("tie"),
                            votes.get("first_position_share_of_decisive"),
                        ]
                    )
        for a in (section.get("annotators") or {}).get("annotators") or []:
            gold = a.get("gold") or {}
            flag = a.get("flag") or {}
            rows["annotators_by_question"].append(
                [
                    name,
                    a.get("annotator_id"),
                    a.get("pool"),
                    a.get("n_items"),
                    a.get("n_compared"),
                    a.get("consensus_agreement"),
                    a.get("pairwise_agreement_with_others"),
                    a.get("mean_abs_deviation"),
                    a.get("mean_signed_deviation"),
                    gold.get("n"),
                    gold.get("n_correct"),
                    gold.get("accuracy"),
                    gold.get("mean_abs_error"),
                    flag.get("flagged"),
                    flag.get("reason"),
                ]
            )
        for rank, unit in enumerate((section.get("units") or {}).get("most_contested") or [], 1):
            rows["contested_units"].append(
                [
                    name,
                    rank,
                    unit.get("unit_id"),
                    unit.get("n_ratings"),
                    unit.get("disagreement"),
                    unit.get("disagreement_vs_chance"),
                    "; ".join(f"{r['label']}×{r['count']}" for r in unit.get("ratings") or []),
                ]
            )
    annotators = [
        [
            a.get("annotator_id"),
            a.get("pool"),
            a.get("n_units"),
            a.get("n_answers"),
            a.get("median_active_seconds"),
            (a.get("gold") or {}).get("n"),
            (a.get("gold") or {}).get("n_correct"),
            (a.get("gold") or {}).get("accuracy"),
            a.get("flagged"),
            ",".join(a.get("flagged_questions") or []),
        ]
        for a in report.get("annotators") or []
    ]
    by = ["question", "breakdown", "group"]
    return {
        "questions.csv": _table(
            [
                "question",
                "type",
                "level",
                "status",
                "reason",
                "n_rows",
                "n_missing_answers",
                "n_units",
                "n_annotators",
                "n_ratings",
                "krippendorff_alpha",
                "mean_pairwise_kappa",
            ],
            rows["questions"],
        ),
        "coefficients.csv": _table(
            [*by, "coefficient", *COEFFICIENT_FIELDS] + [f"p_below_{t}" for t in thresholds],
            rows["coefficients"],
        ),
        "categories.csv": _table([*by, "label", "count", "prevalence"], rows["categories"]),
        "kappa_pairs.csv": _table(
            [*by, "a", "b", "n", "kappa", "kappa_linear", "kappa_quadratic", "reason"],
            rows["kappa_pairs"],
        ),
        "preference.csv": _table(
            [
                "question",
                "ties",
                "coefficient",
                "value",
                "ci_low",
                "ci_high",
                "reason",
                "votes",
                "first_position_votes",
                "second_position_votes",
                "tie_votes",
                "first_position_share_of_decisive",
            ],
            rows["preference"],
        ),
        "annotators_by_question.csv": _table(
            [
                "question",
                "annotator_id",
                "pool",
                "n_items",
                "n_compared",
                "consensus_agreement",
                "pairwise_agreement_with_others",
                "mean_abs_deviation",
                "mean_signed_deviation",
                "gold_n",
                "gold_n_correct",
                "gold_accuracy",
                "gold_mean_abs_error",
                "flagged",
                "flag_reason",
            ],
            rows["annotators_by_question"],
        ),
        "annotators.csv": _table(
            [
                "annotator_id",
                "pool",
                "n_units",
                "n_answers",
                "median_active_seconds",
                "gold_n",
                "gold_n_correct",
                "gold_accuracy",
                "flagged",
                "flagged_questions",
            ],
            annotators,
        ),
        "contested_units.csv": _table(
            [
                "question",
                "rank",
                "unit_id",
                "n_ratings",
                "disagreement",
                "disagreement_vs_chance",
                "ratings",
            ],
            rows["contested_units"],
        ),
    }


def render(report: Mapping[str, Any], manifest: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables(report).items():
            archive.writestr(name, data)
        archive.writestr(
            "manifest.json",
            orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        )
    return buffer.getvalue()
