"""The report's ``"bias"`` section: every check of :data:`CHECKS`, per pool and over all
pools, with Holm-adjusted p-values across pools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.bias import (
    assertiveness,
    detection,
    length,
    position,
    tone_model,
    tone_premium,
)
from analysis.metrics.bias.checks import Check, CheckContext
from analysis.metrics.bias.common import (
    DEFAULT_QUESTIONS,
    _counts,
    _holm,
    _not_defined,
    _require_columns,
    _validate_common,
    say,
    to_jsonable,
)

# The checks in the order the report lists them (its "flagged" list follows this order).
CHECKS: tuple[Check, ...] = (
    tone_premium.SPEC,
    tone_model.SPEC,
    assertiveness.SPEC,
    detection.SPEC,
    position.SPEC,
    length.SPEC,
)
NOTES = [
    "per-rating rates are primary; item-level (majority) rates are descriptive "
    "(aggregating flags first hides tone effects, methods.md s8)",
    "the 'overall' block pools annotators from different pools and is descriptive",
    "reference for error detection: the design's known/injected error count",
]


def bias_report(
    table: pd.DataFrame,
    questions: Mapping[str, str] | None = None,
    *,
    pool_column: str = "pool",
    seed: int = 0,
    n_bootstrap: int = 1000,
    n_permutations: int = 5000,
    alpha: float = 0.05,
    treated: str = "assertive",
    control: str = "hedged",
    include_mixed_model: bool = True,
    include_overall: bool = True,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """The report's ``"bias"`` section: every bias check per pool and over all pools.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table (see module docstring) with a pool column.
    questions : mapping, optional
        Role -> question key; roles ``quality``, ``error_flag``, ``assertiveness``,
        ``preference`` (defaults in :data:`DEFAULT_QUESTIONS`). A role whose question has no
        rows is reported as not computed.
    pool_column : str
        Column naming the annotator pool.
    seed : int
        Seed; each (pool, check) gets its own stream via :func:`stable_rng`.
    n_bootstrap, n_permutations : int
        Bootstrap and randomization replicates.
    alpha : float
        1 - confidence level and the test level.
    treated, control : str
        Tone labels compared.
    include_mixed_model : bool
        Fit the MixedLM checks (the slowest part).
    include_overall : bool
        Also run every check on all pools together.
    two_way : {"cgm", "pigeonhole"}
        Two-way cluster interval method (see :func:`_cluster_ci`).

    Returns
    -------
    dict
        JSON-serialisable; structure documented in docs/bias-methods.md ("bias" schema).
    """
    _check_arguments(table, questions, pool_column, n_bootstrap, alpha, two_way)
    base = CheckContext(
        questions=dict(DEFAULT_QUESTIONS if questions is None else questions),
        pool="",
        label="",
        pool_column=pool_column,
        seed=seed,
        n_bootstrap=n_bootstrap,
        n_permutations=n_permutations,
        alpha=alpha,
        treated=treated,
        control=control,
        include_mixed_model=include_mixed_model,
        two_way=two_way,
    )
    sections = _pool_sections(table, base, include_overall)
    pool_names = [p for p in sections if p != "all"]
    _adjust_across_pools(sections, pool_names)
    report = {
        "section": "bias",
        "schema_version": 1,
        "parameters": _parameters(base),
        **_counts(table),
        "pools": {p: sections[p] for p in pool_names},
        "overall": sections.get("all"),
        "flagged": _flagged(sections),
        "notes": NOTES,
    }
    return to_jsonable(report)


def _pool_sections(
    table: pd.DataFrame, base: CheckContext, include_overall: bool
) -> dict[str, dict[str, Any]]:
    """Counts and checks per pool, then (with several pools) over all of them ("all")."""
    # observed=False keeps a categorical pool's unused categories as (empty) groups, as
    # pandas has always done here; stored reports depend on it.
    groups: list[tuple[str, pd.DataFrame]] = [
        (str(p), g) for p, g in table.groupby(base.pool_column, sort=True, observed=False)
    ]
    if include_overall and len(groups) > 1:
        groups.append(("all", table))
    present = set(table["question"].unique())
    sections: dict[str, dict[str, Any]] = {}
    for pool_name, g in groups:
        label = "all raters" if pool_name == "all" else f"{pool_name} raters"
        sections[pool_name] = {
            **_counts(g),
            "pooled_over_pools": pool_name == "all",
            "checks": run_checks(g, replace(base, pool=pool_name, label=label), present),
        }
    return sections


def _check_arguments(
    table: pd.DataFrame,
    questions: Mapping[str, str] | None,
    pool_column: str,
    n_bootstrap: int,
    alpha: float,
    two_way: str,
) -> None:
    unknown = set(questions or {}) - set(DEFAULT_QUESTIONS)
    if unknown:
        raise ValueError(
            f"unknown question roles {say(sorted(unknown))}; use {say(sorted(DEFAULT_QUESTIONS))}"
        )
    _require_columns(
        table, ["unit_id", "annotator_id", "question", "value", pool_column], "bias_report"
    )
    _validate_common(n_bootstrap, alpha, np.random.default_rng(0), two_way)


def _parameters(context: CheckContext) -> dict[str, Any]:
    return {
        "questions": context.questions,
        "pool_column": context.pool_column,
        "seed": context.seed,
        "n_bootstrap": context.n_bootstrap,
        "n_permutations": context.n_permutations,
        "alpha": context.alpha,
        "treated_tone": context.treated,
        "control_tone": context.control,
        "include_mixed_model": context.include_mixed_model,
        "two_way": context.two_way,
    }


def run_checks(group: pd.DataFrame, context: CheckContext, present: set[Any]) -> dict[str, Any]:
    """Every check of :data:`CHECKS` on one pool's rows: run where its questions and
    columns are there, else reported as not computed (or left out, as its spec says)."""
    checks: dict[str, Any] = {}
    columns = set(group.columns)
    for check in CHECKS:
        if check.mixed_model and not context.include_mixed_model:
            continue
        answered = all(
            r in context.questions and context.questions[r] in present for r in check.roles
        )
        if answered and set(check.columns) <= columns:
            checks[check.name] = check.run(group, context)
        elif check.absent is not None:
            checks[check.name] = _not_defined(check.name, *check.absent)
    return checks


def _adjust_across_pools(sections: dict[str, Any], pool_names: Sequence[str]) -> None:
    """Holm across pools within each check (methods.md A1 multiplicity), pools only."""
    check_names = sorted({c for p in pool_names for c in sections[p]["checks"]})
    for c in check_names:
        ps = [sections[p]["checks"].get(c, {}).get("p_value") for p in pool_names]
        for p, adj in zip(pool_names, _holm(ps), strict=True):
            if c in sections[p]["checks"]:
                sections[p]["checks"][c]["p_value_holm"] = adj


def _flagged(sections: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"pool": p, "check": c, "flags": r.get("flags", []), "verdict": r.get("verdict")}
        for p, sec in sections.items()
        for c, r in sec["checks"].items()
        if r.get("flagged") or r.get("flags")
    ]
