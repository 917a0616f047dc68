"""The agreement part of the report description: summary, one section per analysed
question, annotators across questions, methods; and the agreement tables of the CSV
zip (their columns are a published format, docs/exports.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from analysis.metrics.report_schema.view import (
    Column,
    Figure,
    Section,
    Table,
    as_dict,
    as_list,
    get,
    mappings,
    rows_of,
)

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
BY = (Column("question"), Column("breakdown"), Column("group"))


def coefficient_sets(section: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(breakdown column, group, coefficient set): overall first, then each breakdown."""
    if section.get("overall"):
        yield "", "", section["overall"]
    for column, breakdown in mappings(section.get("breakdowns")):
        for group, coefficients in mappings(breakdown.get("groups")):
            yield column, group, coefficients


def _alpha_ci(coefficients: Mapping[str, Any]) -> tuple[Any, Any] | None:
    alpha = as_dict(coefficients.get("krippendorff_alpha"))
    if alpha.get("ci_low") is None:
        return None
    return alpha.get("ci_low"), alpha.get("ci_high")


def _summary(report: Mapping[str, Any]) -> Section:
    rows, flagged = [], []
    for name, section in sorted(as_dict(report.get("questions")).items()):
        overall = as_dict(section.get("overall"))
        analysed = section.get("status") == "analysed"
        rows.append(
            (
                name,
                section.get("level"),
                section.get("status") if not analysed else "analysed",
                None if analysed else section.get("reason"),
                get(overall, "counts", "n_units"),
                get(overall, "krippendorff_alpha", "value"),
                _alpha_ci(overall),
                get(overall, "fleiss_kappa", "value"),
                get(overall, "gwet_ac1", "value"),
                get(overall, "percent_agreement", "value"),
                get(overall, "cohen_kappa_pairs", "mean_kappa"),
            )
        )
        flagged.append(not analysed)
    table = Table(
        "",
        (
            Column("question", "Question"),
            Column("level", "Level"),
            Column("status", "Status"),
            Column("reason", "Why not analysed"),
            Column("n_units", "Units", "int"),
            Column("krippendorff_alpha", "Krippendorff's α", "number"),
            Column("krippendorff_alpha_ci", "α CI", "interval"),
            Column("fleiss_kappa", "Fleiss' κ", "number"),
            Column("gwet_ac1", "Gwet's AC1", "number"),
            Column("percent_agreement", "% agreement", "number"),
            Column("mean_pairwise_kappa", "Mean pairwise κ", "number"),
        ),
        tuple(rows),
    )
    return Section(
        "summary",
        "Summary",
        tables=(table,),
        figures=(
            Figure(
                "agreement:alpha_ci",
                "Krippendorff's α with bootstrap intervals, per "
                "question and pool (dots: α; bars: percentile bootstrap interval; dashed: "
                "the thresholds)",
            ),
            Figure("agreement:version_trend", "Krippendorff's α per guideline version"),
        ),
    )


def _question(name: str, section: Mapping[str, Any]) -> Section:
    coefficients = []
    for column, group, c in coefficient_sets(section):
        coefficients.append(
            (
                f"{column} = {group}" if column else "all",
                get(c, "counts", "n_units"),
                get(c, "krippendorff_alpha", "value"),
                _alpha_ci(c),
                get(c, "fleiss_kappa", "value"),
                get(c, "gwet_ac1", "value"),
                get(c, "percent_agreement", "value"),
                get(c, "cohen_kappa_pairs", "mean_kappa"),
            )
        )
    text = []
    votes = get(section, "preference", "votes")
    if isinstance(votes, Mapping):
        text.append("Votes: " + ", ".join(f"{k} {v}" for k, v in sorted(votes.items())))
    level = section.get("level")
    kappa = (
        "quadratic-weighted Cohen's κ"
        if level in ("ordinal", "interval", "ratio")
        else ("Cohen's κ")
    )
    return Section(
        f"question-{name}",
        f"Question {name} ({level})",
        text=tuple(text),
        tables=(
            Table(
                "Coefficients",
                (
                    Column("ratings", "Ratings"),
                    Column("n_units", "Units", "int"),
                    Column("krippendorff_alpha", "α", "number"),
                    Column("krippendorff_alpha_ci", "α CI", "interval"),
                    Column("fleiss_kappa", "Fleiss' κ", "number"),
                    Column("gwet_ac1", "AC1", "number"),
                    Column("percent_agreement", "% agreement", "number"),
                    Column("mean_pairwise_kappa", "Mean pairwise κ", "number"),
                ),
                tuple(coefficients),
            ),
            _contested(name, section),
            _annotators_by_question(name, section),
        ),
        figures=(Figure(f"agreement:heatmap:{name}", f"Pairwise {kappa} between annotators"),),
    )


CONTESTED_COLUMNS = (
    Column("question"),
    Column("rank"),
    Column("unit_id", "Unit"),
    Column("n_ratings", "Ratings", "int"),
    Column("disagreement", "Disagreement", "number"),
    Column("disagreement_vs_chance", "× chance", "number", 2),
    Column("ratings", "Answers"),
)


def _contested(name: str, section: Mapping[str, Any]) -> Table:
    units = rows_of(get(section, "units", "most_contested"))
    rows = tuple(
        (
            name,
            rank,
            unit.get("unit_id"),
            unit.get("n_ratings"),
            unit.get("disagreement"),
            unit.get("disagreement_vs_chance"),
            "; ".join(f"{r['label']}×{r['count']}" for r in as_list(unit.get("ratings"))),
        )
        for rank, unit in enumerate(units, 1)
    )
    return Table("Most contested units", CONTESTED_COLUMNS, rows, empty="No unit has two ratings.")


ANNOTATOR_COLUMNS = (
    Column("question"),
    Column("annotator_id", "Annotator"),
    Column("pool", "Pool"),
    Column("n_items", "Items", "int"),
    Column("n_compared", "Compared", "int"),
    Column("consensus_agreement", "Agrees with consensus", "number"),
    Column("pairwise_agreement_with_others", "Pairwise agreement", "number"),
    Column("mean_abs_deviation", "Mean |deviation|", "number"),
    Column("mean_signed_deviation"),
    Column("gold_n"),
    Column("gold_n_correct"),
    Column("gold_accuracy", "Gold accuracy", "number"),
    Column("gold_mean_abs_error"),
    Column("flagged", "Flagged", "bool"),
    Column("flag_reason", "Not evaluated because"),
)


def _annotators_by_question(name: str, section: Mapping[str, Any]) -> Table:
    rows, flagged = [], []
    for a in rows_of(get(section, "annotators", "annotators")):
        gold = as_dict(a.get("gold"))
        flag = as_dict(a.get("flag"))
        rows.append(
            (
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
            )
        )
        flagged.append(bool(flag.get("flagged")))
    return Table("Annotators", ANNOTATOR_COLUMNS, tuple(rows), flagged=tuple(flagged))


def _annotators(report: Mapping[str, Any]) -> Section:
    rows, flagged = [], []
    for a in rows_of(report.get("annotators")):
        gold = as_dict(a.get("gold"))
        rows.append(
            (
                a.get("annotator_id"),
                a.get("pool"),
                a.get("n_units"),
                a.get("n_answers"),
                a.get("median_active_seconds"),
                gold.get("n"),
                gold.get("n_correct"),
                gold.get("accuracy"),
                a.get("flagged"),
                ",".join(as_list(a.get("flagged_questions"))) or None,
            )
        )
        flagged.append(bool(a.get("flagged")))
    table = Table(
        "",
        (
            Column("annotator_id", "Annotator"),
            Column("pool", "Pool"),
            Column("n_units", "Units", "int"),
            Column("n_answers", "Answers", "int"),
            Column("median_active_seconds", "Median active s", "number", 1),
            Column("gold_n"),
            Column("gold_n_correct"),
            Column("gold_accuracy", "Gold accuracy", "number"),
            Column("flagged"),
            Column("flagged_questions", "Flagged on"),
        ),
        tuple(rows),
        csv="annotators.csv",
        flagged=tuple(flagged),
    )
    return Section("annotators", "Annotators across questions", tables=(table,))


def _methods(report: Mapping[str, Any]) -> Section | None:
    methods = as_dict(report.get("methods"))
    if not isinstance(methods, Mapping) or not methods:
        return None
    return Section(
        "methods", "Methods", definitions=tuple((k, str(v)) for k, v in sorted(methods.items()))
    )


def _csv_only(name: str, columns: tuple[Column, ...], rows: list[tuple[Any, ...]]) -> Table:
    return Table(name, columns, tuple(rows), csv=name, shown=False)


def _names(*keys: str) -> tuple[Column, ...]:
    return tuple(Column(k) for k in keys)


QUESTION_COLUMNS = _names(
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
)
CATEGORY_COLUMNS = (*BY, *_names("label", "count", "prevalence"))
PAIR_COLUMNS = (*BY, *_names("a", "b", "n", "kappa", "kappa_linear", "kappa_quadratic", "reason"))
PREFERENCE_COLUMNS = _names(
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
)


def _question_row(name: str, section: Mapping[str, Any]) -> tuple[Any, ...]:
    overall = as_dict(section.get("overall"))
    counts = as_dict(overall.get("counts"))
    return (
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
        get(overall, "krippendorff_alpha", "value"),
        get(overall, "cohen_kappa_pairs", "mean_kappa"),
    )


def _set_rows(
    name: str, section: Mapping[str, Any], thresholds: list[Any], rows: dict[str, list[Any]]
) -> None:
    """Append one question's coefficient, category and kappa-pair rows, per coefficient
    set (overall, then each breakdown group)."""
    for column, group, coefficients in coefficient_sets(section):
        for coefficient in COEFFICIENTS:
            c = as_dict(coefficients.get(coefficient))
            p_below = {p["threshold"]: p["probability"] for p in as_list(c.get("p_below"))}
            rows["coefficients"].append(
                (
                    name,
                    column,
                    group,
                    coefficient,
                    *(c.get(f) for f in COEFFICIENT_FIELDS),
                    *(p_below.get(t) for t in thresholds),
                )
            )
        for category in get(coefficients, "counts", "categories") or []:
            rows["categories"].append(
                (name, column, group, category["label"], category["count"], category["prevalence"])
            )
        for pair in get(coefficients, "cohen_kappa_pairs", "pairs") or []:
            rows["kappa_pairs"].append(
                (
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
                )
            )


def agreement_tables(report: Mapping[str, Any], questions: list[Section]) -> list[Table]:
    """The long agreement tables of the CSV zip that the screen shows another way
    (questions, coefficients, categories, kappa pairs, preference) or per question
    (contested units, annotators by question: the rows shown, all questions together)."""
    thresholds = list(get(report, "parameters", "thresholds") or [])
    rows: dict[str, list[Any]] = {
        k: [] for k in ("questions", "coefficients", "categories", "kappa_pairs", "preference")
    }
    for name, section in mappings(report.get("questions")):
        rows["questions"].append(_question_row(name, section))
        _set_rows(name, section, thresholds, rows)
        rows["preference"] += _preference_rows(name, section.get("preference"))
    per_question = [t for s in questions for t in s.tables]
    coefficient_columns = (
        *BY,
        Column("coefficient"),
        *_names(*COEFFICIENT_FIELDS),
        *_names(*(f"p_below_{t}" for t in thresholds)),
    )
    return [
        _csv_only("questions.csv", QUESTION_COLUMNS, rows["questions"]),
        _csv_only("coefficients.csv", coefficient_columns, rows["coefficients"]),
        _csv_only("categories.csv", CATEGORY_COLUMNS, rows["categories"]),
        _csv_only("kappa_pairs.csv", PAIR_COLUMNS, rows["kappa_pairs"]),
        _csv_only("preference.csv", PREFERENCE_COLUMNS, rows["preference"]),
        _csv_only(
            "annotators_by_question.csv",
            ANNOTATOR_COLUMNS,
            [r for t in per_question if t.columns == ANNOTATOR_COLUMNS for r in t.rows],
        ),
        _csv_only(
            "contested_units.csv",
            CONTESTED_COLUMNS,
            [r for t in per_question if t.columns == CONTESTED_COLUMNS for r in t.rows],
        ),
    ]


def _preference_rows(name: str, preference: Any) -> list[tuple[Any, ...]]:
    if not preference:
        return []
    votes = as_dict(preference.get("votes"))
    return [
        (
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
        )
        for ties in ("with_ties", "without_ties")
        for coefficient, c in sorted((preference.get(ties) or {}).items())
    ]


def agreement_sections(report: Mapping[str, Any]) -> tuple[list[Section], list[Section]]:
    """(sections before the bias part: summary and the questions; sections after it:
    annotators across questions and methods)."""
    questions = [
        _question(name, section)
        for name, section in sorted(as_dict(report.get("questions")).items())
        if section.get("status") == "analysed"
    ]
    tail = [_annotators(report)]
    methods = _methods(report)
    if methods is not None:
        tail.append(methods)
    return [_summary(report), *questions], tail
