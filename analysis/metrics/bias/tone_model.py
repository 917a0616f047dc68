"""A2 (general design): the tone premium from a mixed model with crossed random effects.

References
----------
Baayen, Davidson & Bates (2008), Mixed-effects modeling with crossed random effects,
J. Memory and Language 59:390-412. Cameron, Gelbach & Miller (2011), Robust inference with
multiway clustering, J. Business & Economic Statistics 29:238-249.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import regression, wording
from analysis.metrics.bias.checks import Check, CheckContext
from analysis.metrics.bias.common import (
    MIN_RATINGS,
    Undefined,
    _counts,
    _f,
    _not_defined,
    _question_rows,
    _result,
    say_failure,
)
from analysis.metrics.bias.regression import _coef_table, _linear_combo, _ols_two_way

CHECK = "tone_premium_mixed_model"
EXCHANGE_COMPUTED = "rho = b_T / |b_E|: share of one error's penalty that the tone buys back"
CROSSED_EFFECTS = {
    "annotator": "0 + C(_annot)",
    "prompt": "0 + C(_prompt)",
    "item": "0 + C(_item)",
}


@dataclass(frozen=True)
class ModelFit:
    """Fixed effects and their covariance, from MixedLM or (failing that) the OLS fallback."""

    params: pd.Series
    cov: pd.DataFrame
    variance_components_sd: dict[str, float | None]
    method: str
    converged: bool
    mixedlm_failure: str | None


def tone_mixed_model(
    table: pd.DataFrame,
    *,
    quality_question: str = "quality",
    treated: str = "assertive",
    control: str = "hedged",
    interaction: bool = True,
    include_length: bool = False,
    pool_column: str | None = None,
    alpha: float = 0.05,
    max_rows: int = 20_000,
    label: str = "raters",
) -> dict[str, Any]:
    """Mixed model Q ~ tone * n_known_errors with crossed annotator, prompt and item effects.

    Fits ``Q_r = b0 + b_T tone_r + b_E E_r (+ b_TE tone_r E_r) (+ g z_loglen) + u_a + v_p
    + w_i + e_r`` by REML with statsmodels MixedLM, the crossed effects expressed as variance
    components over one constant group (methods.md A2). ``tone`` is 1 for ``treated`` and 0
    for ``control``; E is the known error count; the item effect w_i is per matched content
    (prompt x system) when ``system`` exists, else per output.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table.
    quality_question, treated, control : str
        Question key and tone labels.
    interaction : bool
        Include tone x n_known_errors.
    include_length : bool
        Add standardized log output length as a covariate.
    pool_column : str, optional
        When given and the table has several pools, add pool main effects and pool x tone
        terms (H0: equal tone premium across pools).
    alpha : float
        1 - confidence level.
    max_rows : int
        Above this MixedLM is too slow (methods.md A2); OLS with annotator fixed effects and
        two-way cluster-robust SEs is used instead.
    label : str
        Who rated, for the verdict.

    Returns
    -------
    dict
        Common check keys (estimate = b_T) plus method, converged, coefficients,
        variance_components, exchange_rate (rho = b_T/|b_E|), critical_contrast
        (C = E[Q|treated, 1 error] - E[Q|control, 0 errors] = b_T + b_E + b_TE), and
        fallback details. If MixedLM fails or does not converge, the result says so
        (``defined`` false with a reason) and, where possible, gives the OLS fallback.
    """
    computed = (
        f"REML MixedLM quality ~ tone({treated} vs {control})"
        + (" * n_known_errors" if interaction else " + n_known_errors")
        + (" + z(log length)" if include_length else "")
        + " with crossed random intercepts for annotator, prompt and item"
    )
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    try:
        df, warn, counts = _model_rows(table, quality_question, treated, control, include_length)
        formula, names, pool_terms = _design(
            df, warn, treated, interaction, include_length, pool_column
        )
        fit = _fit(df, formula, max_rows, warn)
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    coefs = _coefficients(fit, names, pool_terms, alpha)
    return _shaped(fit, coefs, computed, counts, warn, alpha, (label, treated, control))


def _shaped(
    fit: ModelFit,
    coefs: dict[str, dict[str, float | None]],
    computed: str,
    counts: dict[str, int],
    warn: list[str],
    alpha: float,
    verdict: tuple[str, str, str],
) -> dict[str, Any]:
    """The check's result: b_T and the derived contrasts, flags and the verdict (who
    rated, treated, control)."""
    label, treated, control = verdict
    tone = coefs.get("tone", {})
    exchange = _exchange_rate(fit, alpha)
    critical = _critical_contrast(fit, alpha, treated, control)
    out = _result(
        CHECK,
        computed,
        estimate=tone.get("estimate"),
        ci=(tone.get("ci_low"), tone.get("ci_high")),
        level=1 - alpha,
        ci_method="Wald, REML MixedLM covariance"
        if fit.method == "mixedlm"
        else "Wald, two-way cluster-robust covariance",
        p_value=tone.get("p_value"),
        test="Wald z test of b_T",
        null_value=0.0,
        counts=counts,
        verdict=wording.tone_model_verdict(coefs, fit.method, label, treated),
        warnings_=warn,
        flags=_flags(tone, exchange, critical),
        method=fit.method,
        converged=fit.converged,
        mixedlm_failure=fit.mixedlm_failure,
        coefficients=coefs,
        variance_components_sd=fit.variance_components_sd,
        exchange_rate=exchange,
        critical_contrast=critical,
    )
    if not fit.converged:
        # Keep the fallback numbers but say plainly that the requested model did not fit.
        out["defined"] = out["estimate"] is not None
        out["reason"] = f"MixedLM not used: {fit.mixedlm_failure}"
    return out


def _model_rows(
    table: pd.DataFrame, quality_question: str, treated: str, control: str, include_length: bool
) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    extra_cols = ["tone", "n_known_errors"] + (["output_length"] if include_length else [])
    df, warn = _question_rows(table, quality_question, "numeric", extra_cols)
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()].copy()
    if include_length:
        df = df.loc[pd.to_numeric(df["output_length"], errors="coerce") > 0]
    counts = _counts(df)
    if len(df) < MIN_RATINGS or df["tone"].nunique() < 2:
        raise Undefined("too few ratings in both tone conditions", **counts)
    if df["y"].nunique() < 2:
        # Every rating the same: nothing to model, and MixedLM would grind through all
        # four optimisers (minutes) before the OLS fallback divides by zero.
        raise Undefined("every quality rating is the same", **counts)
    return df, warn, counts


def _design(
    df: pd.DataFrame,
    warn: list[str],
    treated: str,
    interaction: bool,
    include_length: bool,
    pool_column: str | None,
) -> tuple[str, dict[str, str], list[str]]:
    """Adds the model's columns to ``df``; returns the formula, the public names of the
    fixed effects, and whether pool terms were added."""
    df["T"] = (df["tone"] == treated).astype(float)
    df["E"] = df["n_known_errors"].astype(float)
    if "system" in df.columns and df["system"].notna().all():
        df["_item"] = df["prompt_id"].astype(str) + "|" + df["system"].astype(str)
    else:
        df["_item"] = (
            df["output_id"].astype(str) if "output_id" in df.columns else df["unit_id"].astype(str)
        )
    df["_annot"] = df["annotator_id"].astype(str)
    df["_prompt"] = df["prompt_id"].astype(str)
    rhs = "T * E" if interaction else "T + E"
    if df["E"].nunique() < 2:
        rhs = "T"
        warn.append("n_known_errors is constant: the error terms were dropped")
    if include_length:
        ll = np.log(df["output_length"].astype(float))
        sd = ll.std()
        df["L"] = (ll - ll.mean()) / sd if sd > 0 else 0.0
        rhs += " + L"
    pool_terms: list[str] = []
    if pool_column and pool_column in df.columns and df[pool_column].nunique() > 1:
        df["_pool"] = df[pool_column].astype(str)
        rhs += " + C(_pool) + T:C(_pool)"
        pool_terms = ["pool"]
    names = {"intercept": "Intercept", "tone": "T", "n_known_errors": "E", "tone_x_errors": "T:E"}
    if include_length:
        names["log_length_z"] = "L"
    return "y ~ " + rhs, names, pool_terms


def _fit(df: pd.DataFrame, formula: str, max_rows: int, warn: list[str]) -> ModelFit:
    """MixedLM when the data are small enough and it converges, else OLS with annotator
    fixed effects and two-way cluster-robust covariance; appends to ``warn``."""
    res = None
    if len(df) > max_rows:
        reason = f"{len(df)} rows > max_rows={max_rows}: MixedLM skipped as too slow"
    else:
        res, notes, reason = regression._fit_crossed_mixedlm(df, formula, CROSSED_EFFECTS)
        warn += notes
    if res is not None:
        params = res.fe_params
        cov = res.cov_params().loc[params.index, params.index]
        vcomp = {
            name: _f(math.sqrt(max(float(v), 0.0)))
            for name, v in zip(res.model.exog_vc.names, np.asarray(res.vcomp), strict=True)
        }
        vcomp["residual"] = _f(math.sqrt(float(res.scale)))
        return ModelFit(params, cov, vcomp, "mixedlm", True, reason)
    try:
        params, cov, note = _ols_two_way(df, formula + " + C(_annot)")
    except (ValueError, np.linalg.LinAlgError) as exc:
        counts = _counts(df)
        raise Undefined(
            f"{reason}; OLS fallback failed too: {say_failure(exc)}", **counts
        ) from None
    warn.append(f"fallback used: OLS with annotator fixed effects, {note} SEs ({reason})")
    return ModelFit(params, cov, {}, "ols_annotator_fe_two_way_cluster", False, reason)


def _coefficients(
    fit: ModelFit, names: dict[str, str], pool_terms: list[str], alpha: float
) -> dict[str, dict[str, float | None]]:
    coefs = _coef_table(fit.params, fit.cov, names, alpha)
    if pool_terms:
        for idx in fit.params.index:
            if idx.startswith("T:C(_pool)"):
                coefs["tone_x_" + idx.split("[T.")[-1].rstrip("]")] = _coef_table(
                    fit.params, fit.cov, {"x": idx}, alpha
                )["x"]
    return coefs


def _exchange_rate(fit: ModelFit, alpha: float) -> dict[str, Any]:
    """rho = b_T / |b_E| with a delta-method interval."""
    params, cov = fit.params, fit.cov
    exchange: dict[str, Any] = {"estimate": None, "ci_low": None, "ci_high": None}
    if "E" in params.index and abs(float(params["E"])) > 1e-8:
        bt, be = float(params["T"]), float(params["E"])
        rho = bt / abs(be)
        grad = np.array([1 / abs(be), -bt * np.sign(be) / be**2])
        v = float(grad @ cov.loc[["T", "E"], ["T", "E"]].to_numpy() @ grad)
        z = stats.norm.ppf(1 - alpha / 2)
        se = math.sqrt(v) if v > 0 else float("nan")
        exchange = {"estimate": _f(rho), "ci_low": _f(rho - z * se), "ci_high": _f(rho + z * se)}
    exchange["computed"] = EXCHANGE_COMPUTED
    return exchange


def _critical_contrast(fit: ModelFit, alpha: float, treated: str, control: str) -> dict[str, Any]:
    """C = E[Q | treated, 1 error] - E[Q | control, 0 errors]."""
    params, cov = fit.params, fit.cov
    combo = {"T": 1.0, "E": 1.0}
    if "T:E" in params.index:
        combo["T:E"] = 1.0
    critical = _linear_combo(params, cov, combo, alpha) if "E" in params.index else {}
    critical["computed"] = (
        f"C = E[Q | {treated}, 1 error] - E[Q | {control}, 0 errors] = b_T + b_E (+ b_TE)"
    )
    return critical


def _flags(
    tone: dict[str, float | None], exchange: dict[str, Any], critical: dict[str, Any]
) -> list[str]:
    """``tone_premium`` when b_T's CI lies above 0 and the tone buys back at least half an
    error; ``tone_premium_critical`` when the critical contrast's CI lies above 0."""
    lo = tone.get("ci_low")
    flags = []
    if lo is not None and lo > 0 and (exchange.get("estimate") or 0) >= 0.5:
        flags.append("tone_premium")
    if critical.get("ci_low") is not None and critical["ci_low"] > 0:
        flags.append("tone_premium_critical")
    return flags


def _pool_terms(group: pd.DataFrame, ctx: CheckContext) -> dict[str, Any]:
    # Pool x tone terms only in the model over all pools.
    return {"pool_column": ctx.pool_column if ctx.pool == "all" else None}


SPEC = Check(
    name=CHECK,
    estimate=tone_mixed_model,
    questions={"quality_question": "quality"},
    columns=("tone", "n_known_errors"),
    settings=("treated", "control", "alpha", "label"),
    derived=_pool_terms,
    mixed_model=True,
)
