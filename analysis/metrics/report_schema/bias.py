"""The bias part of the report description: one subsection per check (tone premium on
matched variants, tone premium in the mixed model, perceived assertiveness, error
detection by tone, position, length), each with a row per pool — all raters pooled
first, then each pool — and the check's own detail table and figures.

Fields follow docs/bias-methods.md; a check absent from the data is left out, a check
that could not be computed shows its reason in place of a number.
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
)

# (check key, title, what the estimate measures: the x axis of its figure)
CHECKS = (
    (
        "tone_premium_paired",
        "Tone premium on matched variants",
        "quality points, treated minus control tone (same content, same errors)",
    ),
    (
        "tone_premium_mixed_model",
        "Tone premium, mixed model (errors held fixed)",
        "quality points for the treated tone, errors held fixed",
    ),
    (
        "perceived_assertiveness",
        "Perceived assertiveness and quality",
        "quality points per SD of perceived assertiveness",
    ),
    (
        "error_detection_by_tone",
        "Error detection by tone",
        "hit rate on known errors, control minus treated tone",
    ),
    (
        "position_bias",
        "Position bias (pairwise)",
        "share of non-tie choices won by the first-shown answer",
    ),
    ("length_bias", "Length bias", "quality points per SD of log output length"),
)
TITLES = {key: title for key, title, _ in CHECKS}
ALL_RATERS = "all raters"


def pools(bias: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, pool section): all raters pooled (when computed), then each pool."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(bias.get("overall"), Mapping):
        out.append((ALL_RATERS, bias["overall"]))
    return out + [(str(name), section) for name, section in mappings(bias.get("pools"))]


def _check(section: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    check = get(section, "checks", key)
    return check if isinstance(check, Mapping) else None


CHECK_COLUMNS = (
    Column("check"),
    Column("pool", "Raters"),
    Column("defined"),
    Column("estimate", "Estimate", "signed"),
    Column("ci", "CI", "interval"),
    Column("ci_level"),
    Column("null_value"),
    Column("p_value", "p", "p"),
    Column("p_value_holm", "p (Holm)", "p"),
    Column("n_units", "Units", "int"),
    Column("n_annotators", "Annotators", "int"),
    Column("n_ratings", "Ratings", "int"),
    Column("flagged", "Flagged", "bool"),
    Column("flags"),
    Column("verdict", "Verdict, or why there is no number"),
    Column("reason"),
    Column("computed"),
    Column("test"),
    Column("ci_method"),
    Column("warnings"),
)


def _check_row(key: str, pool: str, check: Mapping[str, Any]) -> tuple[Any, ...]:
    defined = bool(check.get("defined"))
    return (
        key,
        pool,
        check.get("defined"),
        check.get("estimate") if defined else None,
        (check.get("ci_low"), check.get("ci_high")) if defined else None,
        check.get("ci_level"),
        check.get("null_value"),
        check.get("p_value") if defined else None,
        check.get("p_value_holm") if defined else None,
        check.get("n_units"),
        check.get("n_annotators"),
        check.get("n_ratings"),
        check.get("flagged"),
        "; ".join(str(f) for f in as_list(check.get("flags"))) or None,
        check.get("verdict") if defined else f"not computed: {check.get('reason')}",
        check.get("reason"),
        check.get("computed"),
        check.get("test"),
        check.get("ci_method"),
        "; ".join(str(w) for w in as_list(check.get("warnings"))) or None,
    )


def _paired_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    out: list[tuple[Any, ...]] = []
    for pool, check in rows:
        for subset, cell in mappings(check.get("by_error_status")):
            out.append(
                (
                    pool,
                    subset.replace("_", " "),
                    cell.get("estimate"),
                    (cell.get("ci_low"), cell.get("ci_high")),
                    cell.get("n_pairs"),
                    cell.get("p_value"),
                    cell.get("reason"),
                )
            )
        masking = as_dict(check.get("masking_index"))
        if masking:
            out.append(
                (
                    pool,
                    "masking index (with errors minus error free)",
                    masking.get("estimate"),
                    (masking.get("ci_low"), masking.get("ci_high")),
                    None,
                    None,
                    masking.get("reason"),
                )
            )
    return Table(
        "By error status",
        (
            Column("pool", "Raters"),
            Column("subset", "Outputs"),
            Column("estimate", "Tone premium", "signed"),
            Column("ci", "CI", "interval"),
            Column("n_pairs", "Pairs", "int"),
            Column("p_value", "p", "p"),
            Column("reason", "Why no number"),
        ),
        tuple(out),
        csv="bias_tone_premium_by_errors.csv",
    )


MODEL_TERMS = (
    ("intercept", "intercept"),
    ("tone", "tone (treated vs control)"),
    ("n_known_errors", "per known error"),
    ("tone_x_errors", "tone × errors"),
)


def _model_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    out: list[tuple[Any, ...]] = []
    for pool, check in rows:
        coefficients = as_dict(check.get("coefficients"))
        for key, label in MODEL_TERMS:
            c = coefficients.get(key)
            if isinstance(c, Mapping):
                out.append(
                    (
                        pool,
                        label,
                        c.get("estimate"),
                        c.get("se"),
                        (c.get("ci_low"), c.get("ci_high")),
                        c.get("p_value"),
                    )
                )
        for key, label in (
            ("critical_contrast", "assertive with 1 error minus hedged without"),
            ("exchange_rate", "exchange rate (tone / error penalty)"),
        ):
            c = check.get(key)
            if isinstance(c, Mapping):
                out.append(
                    (
                        pool,
                        label,
                        c.get("estimate"),
                        None,
                        (c.get("ci_low"), c.get("ci_high")),
                        c.get("p_value"),
                    )
                )
        for part, sd in items(check.get("variance_components_sd")):
            out.append((pool, f"SD of {part} effects", sd, None, None, None))
    return Table(
        "Model terms",
        (
            Column("pool", "Raters"),
            Column("term", "Term"),
            Column("estimate", "Estimate", "signed"),
            Column("se", "SE", "number"),
            Column("ci", "CI", "interval"),
            Column("p_value", "p", "p"),
        ),
        tuple(out),
        csv="bias_mixed_model.csv",
    )


def _assertiveness_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    out: list[tuple[Any, ...]] = []
    for pool, check in rows:
        m = as_dict(check.get("manipulation_check"))
        s = as_dict(check.get("spearman"))
        out.append(
            (
                pool,
                m.get("estimate"),
                (m.get("ci_low"), m.get("ci_high")),
                m.get("mean_treated"),
                m.get("mean_control"),
                m.get("n_outputs"),
                m.get("manipulation_failed"),
                s.get("rho"),
                s.get("p_value"),
                check.get("confounded"),
            )
        )
    return Table(
        "Manipulation check and rank correlation",
        (
            Column("pool", "Raters"),
            Column("manipulation_d", "Cohen's d, treated vs control", "signed", 2),
            Column("manipulation_d_ci", "CI", "interval", 2),
            Column("mean_treated", "Mean treated", "number", 2),
            Column("mean_control", "Mean control", "number", 2),
            Column("n_outputs", "Outputs", "int"),
            Column("manipulation_failed", "Manipulation failed", "bool"),
            Column("spearman_rho", "Spearman ρ with quality", "number"),
            Column("spearman_p", "p", "p"),
            Column("confounded", "Confounded with tone", "bool"),
        ),
        tuple(out),
        csv="bias_assertiveness.csv",
    )


RATES = ("hit_rate", "false_alarm_rate", "miss_rate", "d_prime", "criterion_c")


def _detection_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> list[Table]:
    by_tone, gaps = [], []
    for pool, check in rows:
        for tone, cell in mappings(check.get("by_tone")):
            values: list[Any] = [pool, tone]
            for rate in RATES:
                values += [cell.get(rate), cell.get(f"{rate}_ci")]
            values += [
                cell.get(k)
                for k in (
                    "n_known_error_outputs",
                    "n_clean_outputs",
                    "n_ratings_known_error",
                    "n_ratings_clean",
                )
            ]
            by_tone.append(tuple(values))
        for key, label in (
            ("estimate", "hit rate"),
            ("false_alarm_gap", "false-alarm rate"),
            ("d_prime_gap", "d′"),
            ("criterion_gap", "criterion c"),
        ):
            gap = check if key == "estimate" else check.get(key)
            if isinstance(gap, Mapping) and gap.get("estimate") is not None:
                gaps.append(
                    (pool, label, gap.get("estimate"), (gap.get("ci_low"), gap.get("ci_high")))
                )
    rate_columns: list[Column] = []
    for rate, label, digits in (
        ("hit_rate", "Hit rate", 3),
        ("false_alarm_rate", "False alarms", 3),
        ("miss_rate", "Missed", 3),
        ("d_prime", "d′", 2),
        ("criterion_c", "Criterion c", 2),
    ):
        rate_columns += [
            Column(rate, label, "number", digits),
            Column(f"{rate}_ci", "CI", "interval", digits),
        ]
    return [
        Table(
            "By tone",
            (
                Column("pool", "Raters"),
                Column("tone", "Tone"),
                *rate_columns,
                Column("n_known_error_outputs", "Outputs with errors", "int"),
                Column("n_clean_outputs", "Clean outputs", "int"),
                Column("n_ratings_known_error"),
                Column("n_ratings_clean"),
            ),
            tuple(by_tone),
            csv="bias_detection_by_tone.csv",
        ),
        Table(
            "Control minus treated tone",
            (
                Column("pool", "Raters"),
                Column("measure", "Difference in"),
                Column("estimate", "Estimate", "signed"),
                Column("ci", "CI", "interval"),
            ),
            tuple(gaps),
            csv="bias_detection_gaps.csv",
        ),
    ]


def _position_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    out: list[tuple[Any, ...]] = []
    for pool, check in rows:
        tie = as_dict(check.get("tie_rate"))
        balance = as_dict(check.get("order_balance"))
        out.append(
            (
                pool,
                check.get("n_first_wins"),
                check.get("n_non_tie"),
                check.get("wilson_ci"),
                tie.get("estimate"),
                (tie.get("ci_low"), tie.get("ci_high")),
                balance.get("share_canonical_order"),
                balance.get("p_value"),
            )
        )
    return Table(
        "Choices",
        (
            Column("pool", "Raters"),
            Column("n_first_wins", "First-shown wins", "int"),
            Column("n_non_tie", "Non-tie choices", "int"),
            Column("wilson_ci", "Wilson CI", "interval"),
            Column("tie_rate", "Tie rate", "number"),
            Column("tie_rate_ci", "CI", "interval"),
            Column("share_canonical_order", "Shown in stored order", "number"),
            Column("order_balance_p", "Order balance p", "p"),
        ),
        tuple(out),
        csv="bias_position.csv",
    )


def _length_detail(rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    out = [
        (
            pool,
            check.get("length_ratio_per_sd"),
            check.get("log_length_sd"),
            get(check, "cluster_robust", "se"),
            get(check, "cluster_robust", "p_value"),
        )
        for pool, check in rows
    ]
    return Table(
        "Lengths",
        (
            Column("pool", "Raters"),
            Column("length_ratio_per_sd", "Length ratio per SD", "number", 2),
            Column("log_length_sd", "SD of log length", "number"),
            Column("cluster_robust_se", "Cluster-robust SE", "number"),
            Column("cluster_robust_p", "Cluster-robust p", "p"),
        ),
        tuple(out),
        csv="bias_length.csv",
    )


def _details(key: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[Table]:
    defined = [(pool, check) for pool, check in rows if check.get("defined")]
    if not defined:
        return []
    if key == "tone_premium_paired":
        return [_paired_detail(defined)]
    if key == "tone_premium_mixed_model":
        return [_model_detail(defined)]
    if key == "perceived_assertiveness":
        return [_assertiveness_detail(defined)]
    if key == "error_detection_by_tone":
        return _detection_detail(defined)
    if key == "position_bias":
        return [_position_detail(defined)]
    if key == "length_bias":
        return [_length_detail(defined)]
    return []


FIGURES = {
    "tone_premium_mixed_model": (
        ("bias:tone_interaction", "Predicted quality by tone and known errors (mixed model)"),
    ),
    "error_detection_by_tone": (
        (
            "bias:detection_recall",
            "Outputs flagged as erroneous, by tone and raters: known errors (hits) and clean "
            "outputs (false alarms); whiskers: CI",
        ),
    ),
    "position_bias": (("bias:position_bias", "First-position wins in pairwise choices"),),
}


def check_keys(bias: Mapping[str, Any]) -> list[str]:
    """The checks the section carries: the known ones in reading order, then any other."""
    present = {key for _, section in pools(bias) for key in as_dict(section.get("checks"))}
    known = [key for key, _, _ in CHECKS if key in present]
    return known + sorted(present - set(known))


def bias_section(report: Mapping[str, Any]) -> Section:
    bias = report.get("bias")
    title = "Can these judgements be trusted? Bias checks"
    if not isinstance(bias, Mapping) or not bias:
        return Section("bias", title, reason="The report has no bias section.")
    if "status" in bias:
        return Section("bias", title, reason=str(bias.get("reason") or bias["status"]))
    checks, parts = [], []
    for key in check_keys(bias):
        rows = [
            (pool, check)
            for pool, section in pools(bias)
            if (check := _check(section, key)) is not None
        ]
        table = Table(
            "",
            CHECK_COLUMNS,
            tuple(_check_row(key, pool, check) for pool, check in rows),
            flagged=tuple(bool(check.get("flagged")) for _, check in rows),
        )
        checks.append(table)
        computed = next((c.get("computed") for _, c in rows if c.get("computed")), None)
        figures = [
            Figure(
                f"bias:forest:{key}",
                f"{TITLES.get(key, key)}: estimate and CI per raters (dashed: no effect)",
            )
        ]
        figures += [Figure(fid, caption) for fid, caption in FIGURES.get(key, ())]
        parts.append(
            Section(
                f"bias-{key}",
                TITLES.get(key, key.replace("_", " ").capitalize()),
                text=(str(computed),) if computed else (),
                tables=(table, *_details(key, rows)),
                figures=tuple(figures),
            )
        )
    flagged = [
        # The verdict names the raters already.
        f"{TITLES.get(str(f.get('check')), f.get('check'))}: {f.get('verdict')}"
        for f in as_list(bias.get("flagged"))
        if isinstance(f, Mapping)
    ]
    all_checks = Table(
        "",
        CHECK_COLUMNS,
        tuple(r for t in checks for r in t.rows),
        csv="bias_checks.csv",
        shown=False,
    )
    return Section(
        "bias",
        title,
        text=(
            f"{bias.get('n_ratings')} ratings of {bias.get('n_units')} units by "
            f"{bias.get('n_annotators')} annotators. Intervals are two-way (prompt × "
            "annotator) cluster bootstraps; tests are randomisation tests where the design "
            "randomised tone (docs/bias-methods.md).",
        ),
        warning="Flagged" if flagged else "No bias check was flagged.",
        items=tuple(flagged),
        notes=tuple(str(n) for n in as_list(bias.get("notes"))),
        tables=(all_checks,),
        parts=tuple(parts),
    )
