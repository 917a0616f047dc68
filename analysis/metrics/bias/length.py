"""A2/B5: length bias -- quality's slope on standardized log output length at a fixed
known-error count (observational)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import wording
from analysis.metrics.bias.bootstrap import _cluster_ci, _Clusters, _invalid_warning
from analysis.metrics.bias.checks import CLUSTERED, Check
from analysis.metrics.bias.common import (
    MIN_RATINGS,
    Undefined,
    _counts,
    _f,
    _not_defined,
    _question_rows,
    _result,
    _validate_common,
)

CHECK = "length_bias"


@dataclass(frozen=True)
class LengthSlope:
    """The slope per SD of log length, its clustered interval and the test with the
    bootstrap SE; the analytic cluster-robust test for reference."""

    estimate: float
    ci: tuple[float | None, float | None]
    ci_method: str
    p_value: float | None
    log_length_sd: float
    cluster_robust: dict[str, Any]

    @property
    def length_ratio_per_sd(self) -> float:
        return math.exp(self.log_length_sd)


def length_bias(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    quality_question: str = "quality",
    length_column: str = "output_length",
    adjust_for_tone: bool = True,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Slope of quality on standardized log output length at a fixed known-error count.

    OLS of Q_r on z(log len_i), n_known_errors_i and (optionally) tone dummies; the slope is
    in quality points per SD of log length across the distinct outputs (methods.md A2's
    gamma log(len); B5 "length bias").

    Parameters
    ----------
    table : pandas.DataFrame
        Long table with output_length (> 0) and n_known_errors.
    quality_question, length_column : str
    adjust_for_tone : bool
        Add tone dummies when a tone column exists.
    rng, n_bootstrap, alpha, two_way, label
        As in :func:`~analysis.metrics.bias.tone_premium.paired_tone_premium`.

    Returns
    -------
    dict
        Common check keys (estimate = slope) plus log_length_sd, length_ratio_per_sd,
        cluster_robust (Wald SE and p-value from two-way cluster-robust covariance), covariates.

    Notes
    -----
    CI: two-way clustered bootstrap (:func:`_cluster_ci`) of the weighted least-squares
    slope, re-standardising log length in every replicate; the p-value is a z test with that
    bootstrap SE (the analytic two-way cluster-robust Wald test, reported as
    ``cluster_robust``, over-rejected in our few-cluster simulations). Length is
    observational: it can carry content (longer answers may be better), so "length bias"
    means association at fixed error count, not a causal effect, unless lengths were
    manipulated.
    """
    computed = (
        "OLS slope of quality on standardized log output length (per SD), "
        "controlling n_known_errors" + (" and tone" if adjust_for_tone else "")
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    try:
        df, warn, counts = _length_rows(table, quality_question, length_column)
        x, y, names, sd = _design(df, adjust_for_tone, counts)
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    est = _estimate(df, warn, x, y, sd, rng, n_bootstrap, 1 - alpha, two_way)
    warn.append("length is observational: the slope is an association at fixed error count")
    lo, hi = est.ci
    return _result(
        CHECK,
        computed,
        estimate=est.estimate,
        ci=est.ci,
        level=1 - alpha,
        ci_method=est.ci_method,
        p_value=est.p_value,
        test="z test with the clustered bootstrap SE",
        null_value=0.0,
        counts=counts,
        verdict=wording.length_verdict(est, label),
        warnings_=warn,
        flags=["length_bias"] if lo is not None and (lo > 0 or hi < 0) else [],
        log_length_sd=sd,
        length_ratio_per_sd=est.length_ratio_per_sd,
        covariates=names[2:],
        cluster_robust=est.cluster_robust,
    )


def _length_rows(
    table: pd.DataFrame, quality_question: str, length_column: str
) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    df, warn = _question_rows(table, quality_question, "numeric", [length_column, "n_known_errors"])
    df = df.loc[df["n_known_errors"].notna()].copy()
    df["_len"] = pd.to_numeric(df[length_column], errors="coerce")
    bad = df["_len"].isna() | (df["_len"] <= 0)
    if bad.any():
        warn.append(f"{int(bad.sum())} ratings without a positive length were dropped")
        df = df.loc[~bad]
    counts = _counts(df)
    if len(df) < MIN_RATINGS:
        raise Undefined("too few rated outputs with a length", **counts)
    return df, warn, counts


def _design(
    df: pd.DataFrame, adjust_for_tone: bool, counts: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, list[str], float]:
    """Design matrix (intercept, centred log length, errors, tone dummies), the quality
    ratings, the column names and the SD of log length."""
    # Standardise over the rated population (ratings); the bootstrap recomputes the SD in
    # every replicate so that the uncertainty of the scale is in the interval too (without
    # it, coverage of a planted slope was ~91% instead of 95% in our simulations).
    log_len = np.log(df["_len"].to_numpy(dtype=float))
    sd = float(log_len.std())
    if not sd > 1e-12:
        raise Undefined("all outputs have the same length", **counts)
    df["L"] = log_len - float(log_len.mean())
    design = [np.ones(len(df)), df["L"].to_numpy(), df["n_known_errors"].astype(float).to_numpy()]
    names = ["intercept", "log_length_z", "n_known_errors"]
    if df["n_known_errors"].nunique() < 2:
        design.pop()
        names.pop()
    if adjust_for_tone and "tone" in df.columns and df["tone"].notna().any():
        tones = df["tone"].fillna("(none)").astype(str)
        levels = sorted(tones.unique())
        for lev in levels[1:]:
            design.append((tones == lev).to_numpy().astype(float))
            names.append(f"tone[{lev}]")
    x = np.column_stack(design)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise Undefined("collinear design (length constant within covariates)", **counts)
    return x, df["y"].to_numpy(), names, sd


def _slope_statistic(
    x: np.ndarray, y: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The weighted least-squares slope per SD of log length, for many replicates at once."""
    p_dim = x.shape[1]
    xx = (x[:, :, None] * x[:, None, :]).reshape(len(x), p_dim * p_dim)
    xy = x * y[:, None]

    lcol = x[:, 1]

    def slope(w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        # Weighted normal equations for all replicates at once (matmuls, not a loop).
        sw = w.sum(axis=1)
        mean_l = (w @ lcol) / sw
        sd_w = np.sqrt(np.maximum((w @ lcol**2) / sw - mean_l**2, 0.0))
        xtwx = (w @ xx).reshape(-1, p_dim, p_dim)
        xtwy = w @ xy
        out = np.full(w.shape[0], np.nan)
        try:
            out[:] = np.linalg.solve(xtwx, xtwy[..., None])[:, 1, 0]
        except np.linalg.LinAlgError:
            # A replicate that drew no variation in a covariate; leave it undefined.
            for b in range(w.shape[0]):
                with contextlib.suppress(np.linalg.LinAlgError):
                    out[b] = np.linalg.solve(xtwx[b], xtwy[b])[1]
        return (out * sd_w)[:, None]

    return slope


def _estimate(
    df: pd.DataFrame,
    warn: list[str],
    x: np.ndarray,
    y: np.ndarray,
    sd: float,
    rng: np.random.Generator,
    n_bootstrap: int,
    level: float,
    two_way: str,
) -> LengthSlope:
    """The slope, its clustered interval and test; appends to ``warn``."""
    clusters = _Clusters(df)
    warn += clusters.warnings
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    est = float(beta[1]) * sd
    ci_res = _cluster_ci(
        _slope_statistic(x, y), np.array([est]), clusters, rng, n_bootstrap, level, two_way
    )
    boot_se = ci_res.se[0]
    warn += _invalid_warning(ci_res.invalid, "the length slope")
    # The test uses the same clustered SE as the interval; the analytic two-way
    # cluster-robust Wald test is reported too but over-rejected (~10% at alpha = .05 in our
    # null simulations with 30 prompts), as few-cluster sandwich estimators do.
    return LengthSlope(
        estimate=est,
        ci=ci_res.pair(0),
        ci_method=ci_res.method,
        p_value=float(2 * stats.norm.sf(abs(est) / boot_se)) if boot_se else None,
        log_length_sd=sd,
        cluster_robust=_cluster_robust(x, y, clusters, est, sd),
    )


def _cluster_robust(
    x: np.ndarray, y: np.ndarray, clusters: _Clusters, est: float, sd: float
) -> dict[str, Any]:
    """Wald SE and p-value of the slope from the analytic cluster-robust covariance."""
    try:
        import statsmodels.api as sm
        from statsmodels.stats.sandwich_covariance import cov_cluster, cov_cluster_2groups

        ols = sm.OLS(y, x).fit()
        g1, g2 = clusters.prompt_codes, clusters.annot_codes
        if clusters.mode == "two-way":
            cov, _, _ = cov_cluster_2groups(ols, g1, g2)
            kind = "two-way"
            if cov[1, 1] <= 0:
                cov, kind = cov_cluster(ols, g1), "prompt"
        else:
            cov, kind = cov_cluster(ols, g1), "prompt"
        se = math.sqrt(cov[1, 1]) * sd  # per SD of log length, like est
        return {
            "se": _f(se),
            "p_value": float(2 * stats.norm.sf(abs(est / se))),
            "clusters": kind,
        }
    except (ValueError, np.linalg.LinAlgError) as exc:
        return {"se": None, "p_value": None, "reason": str(exc)}


SPEC = Check(
    name=CHECK,
    estimate=length_bias,
    questions={"quality_question": "quality"},
    columns=("output_length", "n_known_errors"),
    settings=CLUSTERED,
    absent=("length bias", "no quality question or length column"),
)
