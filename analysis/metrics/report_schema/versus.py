"""The expert-versus-crowd part of the report description: agreement within each pool,
the crowd against the expert reference, how many crowd votes make one expert, each
crowd annotator against the reference, Dawid–Skene, and each pool's bias indices with
the crowd's under-reporting of errors by tone.

Fields follow docs/bias-methods.md; a question or measure the data cannot support
shows its reason in place of a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.metrics.report_schema.view import (
    Column,
    Figure,
    Section,
    Table,
    as_dict,
    as_list,
    get,
    items,
    mappings,
    rows_of,
    spell,
)

TITLE = "Expert versus crowd"


def _ci(value: Any) -> tuple[Any, Any] | None:
    if not isinstance(value, Mapping) or value.get("ci_low") is None:
        return None
    return value.get("ci_low"), value.get("ci_high")


def _questions(versus: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return mappings(versus.get("questions"))


def _within(questions: list[tuple[str, Mapping[str, Any]]]) -> Table:
    rows: list[tuple[Any, ...]] = []
    for role, q in questions:
        for pool, w in mappings(q.get("within_pool")):
            alpha = as_dict(w.get("krippendorff_alpha"))
            ac1 = as_dict(w.get("gwet_ac1"))
            rows.append(
                (
                    q.get("question", role),
                    role,
                    pool,
                    alpha.get("value"),
                    _ci(alpha),
                    ac1.get("value"),
                    _ci(ac1),
                    get(w, "percent_agreement", "value"),
                    w.get("n_units"),
                    w.get("n_annotators"),
                    w.get("interpretation"),
                )
            )
    return Table(
        "Agreement within each pool",
        (
            Column("question", "Question"),
            Column("role", "Role"),
            Column("pool", "Pool"),
            Column("krippendorff_alpha", "α", "number"),
            Column("krippendorff_alpha_ci", "α CI", "interval"),
            Column("gwet_ac1", "AC1", "number"),
            Column("gwet_ac1_ci", "AC1 CI", "interval"),
            Column("percent_agreement", "% agreement", "number"),
            Column("n_units", "Units", "int"),
            Column("n_annotators", "Annotators", "int"),
            Column("interpretation", "Reading"),
        ),
        tuple(rows),
        csv="versus_within_pool.csv",
    )


# (path under cross_pool, measure) in reading order.
CROSS_MEASURES = (
    (("consensus", "percent_agreement"), "crowd majority = expert reference (share of units)"),
    (("consensus", "cohen_kappa"), "crowd majority vs expert reference, Cohen's κ"),
    (("expert_ceiling", "single_expert_accuracy"), "one expert vs the other experts (ceiling)"),
    (("expert_ceiling", "cohen_kappa"), "one expert vs the other experts, Cohen's κ"),
    (("pairwise_rates", "p_crowd_crowd"), "P(two crowd labels agree)"),
    (("pairwise_rates", "p_crowd_expert"), "P(crowd and expert labels agree)"),
    (("pairwise_rates", "p_expert_expert"), "P(two expert labels agree)"),
    (("pairwise_rates", "ratio_ce_over_ee"), "crowd–expert over expert–expert agreement"),
    (("lin_ccc",), "Lin's concordance of unit means"),
    (("bland_altman", "mean_difference"), "mean difference of unit means, crowd − expert"),
)


def _cross(questions: list[tuple[str, Mapping[str, Any]]]) -> Table:
    rows: list[tuple[Any, ...]] = []
    for role, q in questions:
        name = q.get("question", role)
        cross = q.get("cross_pool")
        if not q.get("defined") or not isinstance(cross, Mapping) or not cross.get("defined"):
            reason = q.get("reason") or get(cross, "reason") or "not computed"
            rows.append((name, "—", None, None, None, str(reason)))
            continue
        for path, label in CROSS_MEASURES:
            value = get(cross, *path)
            if isinstance(value, Mapping) and "estimate" in value:
                n = get(cross, path[0], "n_units") or get(cross, path[0], "n_ratings")
                rows.append((name, label, value.get("estimate"), _ci(value), n, None))
        limits = get(cross, "bland_altman", "limits_of_agreement")
        if limits:
            rows.append(
                (
                    name,
                    "Bland–Altman limits of agreement (interval column)",
                    None,
                    limits,
                    get(cross, "bland_altman", "n_units"),
                    None,
                )
            )
    return Table(
        "The crowd against the expert reference",
        (
            Column("question", "Question"),
            Column("measure", "Measure"),
            Column("estimate", "Estimate", "number"),
            Column("ci", "Interval", "interval"),
            Column("n", "Units or ratings", "int"),
            Column("reason", "Why no number"),
        ),
        tuple(rows),
        csv="versus_cross_pool.csv",
    )


CURVES = (
    ("crowd_size_curve", "expert reference"),
    ("crowd_size_curve_injected", "known (design) errors"),
)


def _crowd_size(questions: list[tuple[str, Mapping[str, Any]]]) -> tuple[Table, list[str]]:
    rows: list[tuple[Any, ...]] = []
    text: list[str] = []
    for role, q in questions:
        name = q.get("question", role)
        for key, reference in CURVES:
            curve = q.get(key)
            if not isinstance(curve, Mapping):
                continue
            if not curve.get("defined"):
                text.append(f"{name}, against the {reference}: not computed: {curve.get('reason')}")
                continue
            ks = as_list(curve.get("k"))
            values = [
                curve.get(f) or [None] * len(ks)
                for f in ("accuracy", "ci_low", "ci_high", "n_units")
            ]
            for index, k in enumerate(ks):
                accuracy, low, high, n = (v[index] if index < len(v) else None for v in values)
                rows.append((name, reference, k, accuracy, (low, high), n))
            ceiling = get(curve, "ceiling", "single_expert_accuracy")
            star = curve.get("k_star")
            text.append(
                f"{name}, against the {reference}: "
                + (
                    f"{star} crowd votes match one expert"
                    if star
                    else str(curve.get("k_star_reason") or "no crowd size matches one expert")
                )
                + (f" (one expert: {spell(ceiling, 'number')})" if ceiling is not None else "")
                + "."
            )
    table = Table(
        "Majority of k crowd votes against the reference",
        (
            Column("question", "Question"),
            Column("reference", "Reference"),
            Column("k", "Crowd votes k", "int"),
            Column("accuracy", "Accuracy", "number"),
            Column("ci", "CI", "interval"),
            Column("n_units", "Units", "int"),
        ),
        tuple(rows),
        csv="versus_crowd_size.csv",
    )
    return table, text


def _annotators(questions: list[tuple[str, Mapping[str, Any]]]) -> tuple[Table, list[str]]:
    rows: list[tuple[Any, ...]] = []
    flagged: list[bool] = []
    text: list[str] = []
    for role, q in questions:
        accuracy = q.get("annotator_accuracy")
        if not isinstance(accuracy, Mapping):
            continue
        name = q.get("question", role)
        if not accuracy.get("defined"):
            text.append(f"{name}: not computed: {accuracy.get('reason')}")
            continue
        text.append(
            f"{name}: reference {accuracy.get('reference')}; pool mean accuracy "
            f"{spell(accuracy.get('pool_mean_accuracy'), 'number')}, chance "
            f"{spell(accuracy.get('chance_accuracy'), 'number')}."
        )
        for a in rows_of(accuracy.get("annotators")):
            flags = "; ".join(str(f) for f in as_list(a.get("flags")))
            rows.append(
                (
                    name,
                    a.get("annotator_id"),
                    a.get("n_items"),
                    a.get("accuracy"),
                    a.get("wilson_ci"),
                    a.get("shrunk_accuracy"),
                    a.get("sensitivity"),
                    a.get("specificity"),
                    a.get("kappa_vs_reference"),
                    a.get("outside_funnel"),
                    flags or None,
                )
            )
            flagged.append(bool(flags))
    table = Table(
        "Each crowd annotator against the reference",
        (
            Column("question", "Question"),
            Column("annotator_id", "Annotator"),
            Column("n_items", "Items", "int"),
            Column("accuracy", "Accuracy", "number"),
            Column("wilson_ci", "Wilson CI", "interval"),
            Column("shrunk_accuracy", "Shrunk accuracy", "number"),
            Column("sensitivity", "Hits", "number"),
            Column("specificity", "Specificity", "number"),
            Column("kappa_vs_reference", "κ vs reference", "number"),
            Column("outside_funnel", "Outside funnel", "bool"),
            Column("flags", "Flags"),
        ),
        tuple(rows),
        csv="versus_annotator_accuracy.csv",
        flagged=tuple(flagged),
    )
    return table, text


def _dawid_skene(questions: list[tuple[str, Mapping[str, Any]]]) -> tuple[Table, list[str]]:
    rows: list[tuple[Any, ...]] = []
    notes: list[str] = []
    for role, q in questions:
        ds = q.get("dawid_skene")
        if not isinstance(ds, Mapping):
            continue
        name = q.get("question", role)
        if not ds.get("defined"):
            rows.append((name, None, None, None, None, None, None, str(ds.get("reason"))))
            continue
        label = as_dict(ds.get("label_accuracy"))
        spearman = as_dict(ds.get("spearman_ds"))
        rows.append(
            (
                name,
                label.get("dawid_skene"),
                label.get("majority_vote"),
                label.get("n_units"),
                spearman.get("rho"),
                spearman.get("p_value"),
                spearman.get("n_workers"),
                None,
            )
        )
        if ds.get("caveat"):
            notes.append(str(ds["caveat"]))
    table = Table(
        "Dawid–Skene",
        (
            Column("question", "Question"),
            Column("ds_label_accuracy", "Label accuracy, Dawid–Skene", "number"),
            Column("mv_label_accuracy", "Label accuracy, majority vote", "number"),
            Column("n_units", "Units", "int"),
            Column("spearman_rho", "Spearman ρ, DS vs reference accuracy", "number", 2),
            Column("spearman_p", "p", "p"),
            Column("n_workers", "Workers", "int"),
            Column("reason", "Why no number"),
        ),
        tuple(rows),
        csv="versus_dawid_skene.csv",
    )
    return table, sorted(set(notes))


def _reference(questions: list[tuple[str, Mapping[str, Any]]]) -> tuple[Table, list[str]]:
    """How each question's expert reference is made and how reliable it is."""
    rows: list[tuple[Any, ...]] = []
    text: list[str] = []
    for role, q in questions:
        reference = q.get("reference")
        if not isinstance(reference, Mapping):
            continue
        name = q.get("question", role)
        within = as_dict(reference.get("within_expert_agreement"))
        alpha = as_dict(within.get("krippendorff_alpha"))
        single = as_dict(reference.get("single_expert_accuracy"))
        rows.append(
            (
                name,
                reference.get("source"),
                reference.get("n_units_with_reference"),
                reference.get("n_units_tied_or_too_few"),
                single.get("estimate"),
                _ci(single),
                alpha.get("value"),
                _ci(alpha),
                get(within, "gwet_ac1", "value"),
                reference.get("reliability"),
            )
        )
        if reference.get("definition"):
            text.append(f"Reference: {reference['definition']}.")
    notes = sorted(
        {
            str(q["reference"]["intervals"])
            for _, q in questions
            if isinstance(q.get("reference"), Mapping) and q["reference"].get("intervals")
        }
    )
    table = Table(
        "How reliable the reference is",
        (
            Column("question", "Question"),
            Column("source", "Reference from"),
            Column("n_units_with_reference", "Units with a reference", "int"),
            Column("n_units_tied_or_too_few", "Tied or too few labels", "int"),
            Column("single_expert_accuracy", "One expert vs the others", "number"),
            Column("single_expert_accuracy_ci", "CI", "interval"),
            Column("within_expert_alpha", "Within-expert α", "number"),
            Column("within_expert_alpha_ci", "α CI", "interval"),
            Column("within_expert_ac1", "Within-expert AC1", "number"),
            Column("reliability", "Reliability from"),
        ),
        tuple(rows),
        csv="versus_reference.csv",
    )
    return table, sorted(set(text)) + notes


DETECTION_MEASURES = (
    ("hit_rate", "Hit rate", 3),
    ("false_alarm_rate", "False alarms", 3),
    ("d_prime", "d′", 2),
)


def _detection(questions: list[tuple[str, Mapping[str, Any]]]) -> tuple[Table, Table, list[str]]:
    """The checked pool's error flags against the expert reference, per tone: hits,
    false alarms, d′ and under-reporting, and the treated-minus-control gaps."""
    rows: list[tuple[Any, ...]] = []
    gaps: list[tuple[Any, ...]] = []
    text: list[str] = []
    flagged: list[bool] = []
    for role, q in questions:
        detection = q.get("detection_against_experts")
        if not isinstance(detection, Mapping):
            continue
        name = q.get("question", role)
        pool = detection.get("checked_pool")
        if not detection.get("defined"):
            text.append(f"{name}: not computed: {detection.get('reason')}")
            continue
        text += [str(detection[k]) + "." for k in ("computed", "majority_rule") if detection.get(k)]
        text += [f"{p} not checked: {why}." for p, why in items(detection.get("not_checked"))]
        for tone, cell in mappings(detection.get("by_tone")):
            under = as_dict(cell.get("under_reporting"))
            values: list[Any] = [name, pool, tone]
            for key, _, _ in DETECTION_MEASURES:
                measure = as_dict(cell.get(key))
                values += [measure.get("estimate"), _ci(measure)]
            values += [
                under.get("expert_rate"),
                under.get("crowd_majority_rate"),
                under.get("estimate"),
                _ci(under),
                cell.get("n_units"),
                cell.get("n_reference_error_units"),
                cell.get("insufficient_data"),
                None if cell.get("defined") else cell.get("reason"),
            ]
            rows.append(tuple(values))
            flagged.append(bool(under.get("flag")))
        for key, label in (
            ("hit_rate_gap", "hit rate"),
            ("under_reporting_gap", "under-reporting"),
        ):
            gap = get(detection, "tone_gap", key)
            if isinstance(gap, Mapping):
                gaps.append(
                    (
                        name,
                        pool,
                        label,
                        gap.get("estimate"),
                        _ci(gap),
                        get(detection, "tone_gap", "insufficient_data"),
                    )
                )
    measure_columns: list[Column] = []
    for key, label, digits in DETECTION_MEASURES:
        measure_columns += [
            Column(key, label, "number", digits),
            Column(f"{key}_ci", "CI", "interval", digits),
        ]
    table = Table(
        "Error flags against the expert reference, by tone",
        (
            Column("question", "Question"),
            Column("pool", "Pool"),
            Column("tone", "Tone"),
            *measure_columns,
            # The two rates behind under-reporting: in the CSV, left off screen and paper
            # so the table fits a page.
            Column("expert_rate"),
            Column("pool_majority_rate"),
            Column("under_reporting", "Under-reporting", "signed"),
            Column("under_reporting_ci", "CI", "interval"),
            Column("n_units", "Units", "int"),
            Column("n_reference_error_units", "Erroneous per experts", "int"),
            Column("insufficient_data", "Too few", "bool"),
            Column("reason", "Why no number"),
        ),
        tuple(rows),
        csv="versus_detection_by_tone.csv",
        flagged=tuple(flagged),
    )
    gap_table = Table(
        "Treated minus control tone",
        (
            Column("question", "Question"),
            Column("pool", "Pool"),
            Column("measure", "Difference in"),
            Column("estimate", "Estimate", "signed"),
            Column("ci", "CI", "interval"),
            Column("insufficient_data", "Insufficient data", "bool"),
        ),
        tuple(gaps),
        csv="versus_detection_gaps.csv",
    )
    return table, gap_table, text


INDICES = (
    ("tone_premium", "tone premium"),
    ("detection_gap", "detection gap by tone"),
    ("position_bias", "position bias"),
    ("length_bias", "length bias"),
    ("leniency_msd", "leniency vs experts (mean signed difference)"),
)


def _indices(versus: Mapping[str, Any]) -> tuple[Table, Table]:
    indices: list[tuple[Any, ...]] = []
    under: list[tuple[Any, ...]] = []
    flagged: list[bool] = []
    under_flagged: list[bool] = []
    for pool, section in mappings(get(versus, "bias_indices", "pools")):
        for key, label in INDICES:
            index = section.get(key)
            if isinstance(index, Mapping):
                indices.append(
                    (
                        pool,
                        label,
                        index.get("estimate"),
                        _ci(index),
                        index.get("p_value"),
                        index.get("flagged"),
                        index.get("reason"),
                    )
                )
                flagged.append(bool(index.get("flagged")))
        reporting = section.get("under_reporting")
        if isinstance(reporting, Mapping):
            if not reporting.get("defined"):
                under.append(
                    (pool, "—", None, None, None, None, None, None, str(reporting.get("reason")))
                )
                under_flagged.append(False)
            for tone, cell in mappings(reporting.get("by_tone")):
                under.append(
                    (
                        pool,
                        tone,
                        cell.get("expert_rate"),
                        cell.get("pool_rate"),
                        cell.get("estimate"),
                        _ci(cell),
                        cell.get("n_units"),
                        cell.get("flag_under_reporting"),
                        None,
                    )
                )
                under_flagged.append(bool(cell.get("flag_under_reporting")))
    return (
        Table(
            "Bias indices per pool",
            (
                Column("pool", "Pool"),
                Column("index", "Index"),
                Column("estimate", "Estimate", "signed"),
                Column("ci", "CI", "interval"),
                Column("p_value", "p", "p"),
                Column("flagged", "Flagged", "bool"),
                Column("reason", "Why no number"),
            ),
            tuple(indices),
            csv="versus_bias_indices.csv",
            flagged=tuple(flagged),
        ),
        Table(
            "Errors reported, pool minus expert reference, by tone",
            (
                Column("pool", "Pool"),
                Column("tone", "Tone"),
                Column("expert_rate", "Expert error rate", "number"),
                Column("pool_rate", "Pool error rate", "number"),
                Column("estimate", "Difference", "signed"),
                Column("ci", "CI", "interval"),
                Column("n_units", "Units", "int"),
                Column("flagged", "Under-reporting", "bool"),
                Column("reason", "Why no number"),
            ),
            tuple(under),
            csv="versus_under_reporting.csv",
            flagged=tuple(under_flagged),
        ),
    )


def _versus_parts(
    questions: list[tuple[str, Mapping[str, Any]]], versus: Mapping[str, Any]
) -> tuple[Section, ...]:
    """The subsections of expert versus crowd, in reading order."""
    crowd_size, crowd_text = _crowd_size(questions)
    accuracy, accuracy_text = _annotators(questions)
    dawid_skene, caveats = _dawid_skene(questions)
    indices, under = _indices(versus)
    reference, reference_text = _reference(questions)
    detection, gaps, detection_text = _detection(questions)
    return (
        Section(
            "versus-reference",
            "The expert reference",
            text=tuple(reference_text),
            tables=(reference,),
        ),
        Section("versus-agreement", "Agreement", tables=(_within(questions), _cross(questions))),
        Section(
            "versus-detection",
            "The crowd's error flags against the experts, by tone",
            text=tuple(detection_text),
            tables=(detection, gaps),
        ),
        Section(
            "versus-crowd-size",
            "How many crowd votes make one expert",
            text=tuple(crowd_text),
            tables=(crowd_size,),
            figures=(
                Figure(
                    "bias:crowd_size",
                    "Majority-of-k accuracy against the reference (band: CI; dashed: one expert)",
                ),
            ),
        ),
        Section(
            "versus-annotators",
            "Crowd annotators against the reference",
            text=tuple(accuracy_text),
            tables=(accuracy,),
            figures=(
                Figure(
                    "bias:annotator_accuracy",
                    "Each crowd annotator: hits by false "
                    "alarms against the reference (diagonal: chance; dark red: flagged)",
                ),
            ),
        ),
        Section(
            "versus-dawid-skene",
            "Annotator reliability (Dawid–Skene)",
            tables=(dawid_skene,),
            notes=tuple(caveats),
        ),
        Section(
            "versus-indices",
            "Bias of each pool, and errors under-reported",
            tables=(indices, under),
            figures=(
                Figure(
                    "bias:under_reporting",
                    "Share of outputs with an error, pool minus "
                    "expert reference, by tone (below 0: the pool reports fewer errors)",
                ),
            ),
        ),
    )


def versus_section(report: Mapping[str, Any]) -> Section:
    versus = report.get("expert_vs_crowd")
    if not isinstance(versus, Mapping) or not versus:
        return Section(
            "expert-vs-crowd", TITLE, reason="The report has no expert-vs-crowd section."
        )
    if "status" in versus:
        return Section(
            "expert-vs-crowd", TITLE, reason=str(versus.get("reason") or versus["status"])
        )
    if not versus.get("defined", True):
        return Section("expert-vs-crowd", TITLE, reason=str(versus.get("reason")))
    parameters = as_dict(versus.get("parameters"))
    parts = _versus_parts(_questions(versus), versus)
    caveats = next(p.notes for p in parts if p.key == "versus-dawid-skene")
    intro = (
        f"Expert pool {parameters.get('expert_pool')}, crowd pool {parameters.get('crowd_pool')}"
        + (
            f"; units need {parameters['min_expert_labels']} expert label(s) for the reference"
            if parameters.get("min_expert_labels") is not None
            else ""
        )
        + "."
    )
    return Section(
        "expert-vs-crowd",
        TITLE,
        text=(intro,),
        parts=parts,
        notes=tuple(
            note
            for note in [str(versus.get("caveat_dawid_skene") or "")]
            if note and note not in caveats
        ),
    )
