"""B5: bias indices per pool, side by side -- leniency, under-reporting, annotator
leniency intercepts, and the tone, detection, length and position indices of the bias
checks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.metrics.bias.bootstrap import (
    LinearStat,
    _bootstrap_counts,
    _cluster_ci,
    _Clusters,
    _group_sum_matrix,
)
from analysis.metrics.bias.common import (
    _f,
    _not_defined,
    _question_rows,
    stable_rng,
    to_jsonable,
)
from analysis.metrics.bias.report import bias_report
from analysis.metrics.bias.wording import _fmt_ci
from analysis.metrics.expert_vs_crowd.common import MIN_UNITS, _ci


def leniency_msd(
    table: pd.DataFrame,
    *,
    quality_question: str = "quality",
    pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    rng: np.random.Generator,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """Leniency: MSD = mean over shared units of (pool unit mean - expert unit mean).

    CI: two-way (prompt x annotator) cluster bootstrap over both pools' ratings
    (methods.md B5; ``two_way`` as in :func:`analysis.metrics.bias._cluster_ci`).
    """
    check = "leniency_msd"
    computed = f"mean over shared units of mean quality ({pool}) - mean quality ({expert_pool})"
    df, warn = _question_rows(table, quality_question, "numeric", [pool_column])
    df = df.loc[df[pool_column].isin([pool, expert_pool])]
    # observed=False, the pandas default so far, throughout: a dataset's categorical units
    # and pools keep their unused categories as empty groups, as the stored reports did.
    per = df.groupby("unit_id", observed=False)[pool_column].nunique()
    df = df.loc[df["unit_id"].map(per) == 2].copy()
    n_units = df["unit_id"].nunique()
    if n_units < MIN_UNITS:
        return _not_defined(check, computed, f"only {n_units} units rated by both pools")
    u_codes, _ = pd.factorize(df["unit_id"], sort=True)
    arm = (df[pool_column] == pool).to_numpy().astype(int)
    grp = 2 * u_codes + arm
    # Sums of answers and of ratings per (unit, pool) side by side: the statistic sees the
    # bootstrap weights only through them (a LinearStat, summed per cluster once).
    g_yn = sparse.hstack(
        [
            _group_sum_matrix(grp, df["y"].to_numpy(), 2 * n_units),
            _group_sum_matrix(grp, np.ones(len(df)), 2 * n_units),
        ]
    ).tocsr()
    clusters = _Clusters(df)
    unit_prompt = pd.Series(clusters.prompt_codes).groupby(u_codes).first().to_numpy()

    def finish(sums: np.ndarray, mp: np.ndarray) -> np.ndarray:
        mean = sums[:, : 2 * n_units] / sums[:, 2 * n_units :]
        d = mean[:, 1::2] - mean[:, 0::2]
        wp = mp[:, unit_prompt]
        ok = np.isfinite(d)
        return ((np.where(ok, d, 0) * wp * ok).sum(1) / (wp * ok).sum(1))[:, None]

    stat = LinearStat(g_yn, finish)
    obs = float(stat(np.ones((1, len(df))), np.ones((1, clusters.n_prompts)))[0, 0])
    ci = _cluster_ci(stat, np.array([obs]), clusters, rng, n_bootstrap, 1 - alpha, two_way)
    lo, hi = ci.pair(0)
    flagged = lo is not None and (lo > 0 or hi < 0)
    return to_jsonable(
        {
            "check": check,
            "computed": computed,
            "defined": True,
            "reason": None,
            "estimate": obs,
            "ci_low": lo,
            "ci_high": hi,
            "ci_level": 1 - alpha,
            "ci_method": ci.method,
            "p_value": None,
            "test": None,
            "null_value": 0.0,
            "n_units": n_units,
            "n_annotators": int(df["annotator_id"].nunique()),
            "n_ratings": len(df),
            "flagged": flagged,
            "flags": ["leniency"] if flagged else [],
            "verdict": f"{pool} raters rate {obs:+.2f} {_fmt_ci(lo, hi)} points relative to {expert_pool} raters on the same units",
            "warnings": warn + clusters.warnings,
        }
    )


def annotator_leniency_blups(
    table: pd.DataFrame,
    *,
    quality_question: str = "quality",
    pool: str = "crowd",
    pool_column: str = "pool",
) -> dict[str, Any]:
    """Empirical-Bayes annotator intercepts (leniency) within a pool; flags |u_a| > 2 sigma_a.

    For each rating, e_r = Q_r - mean of the *other* ratings of the same unit in the pool;
    d_a = mean_r e_r over annotator a's n_a ratings. With d_a ~ N(u_a, s^2 / n_a) and
    u_a ~ N(0, sigma_a^2), sigma_a^2 = max(0, var(d_a) - mean(s^2 / n_a)) (method of moments)
    and the posterior mean u_a = d_a sigma_a^2 / (sigma_a^2 + s^2 / n_a) -- the closed-form
    analogue of the MixedLM BLUPs in methods.md B5 (MixedLM with crossed unit effects took
    ~5 s per pool at 1,200 ratings; this is instant and gives the same ranking).
    """
    df, warn = _question_rows(table, quality_question, "numeric", [pool_column])
    df = df.loc[df[pool_column] == pool].copy()
    size = df.groupby("unit_id", observed=False)["y"].transform("size")
    df = df.loc[size >= 2]
    if len(df) < MIN_UNITS or df["annotator_id"].nunique() < 3:
        return {
            "defined": False,
            "reason": "too few multiply-rated units or annotators",
            "annotators": [],
        }
    tot = df.groupby("unit_id", observed=False)["y"].transform("sum")
    n_u = df.groupby("unit_id", observed=False)["y"].transform("size")
    df["e"] = df["y"] - (tot - df["y"]) / (n_u - 1)
    g = df.groupby("annotator_id", observed=False)["e"]
    d = g.mean()
    n = g.size().astype(float)
    resid = df["e"] - df["annotator_id"].map(d)
    dof = len(df) - len(d)
    s2 = float((resid**2).sum() / dof) if dof > 0 else float("nan")
    sigma2 = max(0.0, float(d.var(ddof=1) - np.mean(s2 / n))) if len(d) > 1 else 0.0
    shrink = sigma2 / (sigma2 + s2 / n) if sigma2 > 0 else n * 0.0
    u = d * shrink
    sigma = math.sqrt(sigma2)
    rows = [
        {
            "annotator_id": str(a),
            "n_ratings": int(n[a]),
            "raw_deviation": _f(d[a]),
            "blup": _f(u[a]),
            "flag_outlier": bool(sigma > 0 and abs(float(u[a])) > 2 * sigma),
        }
        for a in sorted(d.index, key=str)
    ]
    return to_jsonable(
        {
            "defined": True,
            "reason": None,
            "pool": pool,
            "computed": "empirical-Bayes annotator intercepts vs pool-mates on the same units; flag |u_a| > 2 sigma_a",
            "sigma_annotator": sigma,
            "residual_sd": math.sqrt(s2) if s2 == s2 else None,
            "n_flagged": sum(r["flag_outlier"] for r in rows),
            "warnings": warn,
            "annotators": rows,
        }
    )


def under_reporting(
    table: pd.DataFrame,
    *,
    error_flag_question: str = "has_factual_error",
    pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    treated: str = "assertive",
    control: str = "hedged",
    rng: np.random.Generator,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Hosking's delta: item error rate (majority rule) of the pool minus the expert's, by tone.

    ER = share of units whose labels are > 1/2 "error" (the same rule on both sides,
    methods.md A1); delta = ER_pool - ER_expert on units rated by both pools, with a
    prompt-cluster bootstrap CI; flag ``under_reporting`` when delta <= -0.10 and the CI
    excludes 0 (methods.md A5).
    """
    df, warn = _question_rows(table, error_flag_question, "binary", [pool_column])
    df = df.loc[df[pool_column].isin([pool, expert_pool])].copy()
    if "tone" not in df.columns:
        df["tone"] = None
    item = df.groupby(["unit_id", pool_column], observed=False).agg(
        share=("y", "mean"), prompt=("prompt_id", "first"), tone=("tone", "first")
    )
    wide = item["share"].unstack(pool_column)
    if pool not in wide.columns or expert_pool not in wide.columns:
        return {"defined": False, "reason": "both pools needed"}
    wide = wide.dropna()
    meta = item.reset_index().drop_duplicates("unit_id").set_index("unit_id").loc[wide.index]
    out: dict[str, Any] = {
        "defined": True,
        "reason": None,
        "n_units": len(wide),
        "n_annotators": int(df["annotator_id"].nunique()),
        "computed": f"item error rate (majority rule) {pool} - {expert_pool}, by tone",
        "rule": "unit flagged if share of flags > 1/2",
        "by_tone": {},
    }
    tones = [t for t in (treated, control) if "tone" in meta.columns and (meta["tone"] == t).any()]
    groups = {t: meta["tone"] == t for t in tones} or {"all": pd.Series(True, index=meta.index)}
    if tones:
        groups["all"] = pd.Series(True, index=meta.index)
    for name, mask in groups.items():
        w_sub = wide.loc[mask.to_numpy()]
        if len(w_sub) < MIN_UNITS:
            out["by_tone"][name] = {"estimate": None, "reason": f"only {len(w_sub)} shared units"}
            continue
        d = (w_sub[pool] > 0.5).astype(float).to_numpy() - (w_sub[expert_pool] > 0.5).astype(
            float
        ).to_numpy()
        prompts = pd.factorize(meta.loc[mask.to_numpy(), "prompt"].astype(str))[0]
        n_p = prompts.max() + 1
        mp = _bootstrap_counts(rng, n_p, n_bootstrap)[:, prompts]
        reps = (mp @ d) / mp.sum(1)
        lo, hi = _ci(reps, alpha)
        est = float(d.mean())
        out["by_tone"][name] = {
            "estimate": est,
            "ci_low": lo,
            "ci_high": hi,
            "pool_rate": _f((w_sub[pool] > 0.5).mean()),
            "expert_rate": _f((w_sub[expert_pool] > 0.5).mean()),
            "n_units": len(w_sub),
            "flag_under_reporting": bool(est <= -0.10 and hi is not None and hi < 0),
        }
    out["warnings"] = warn
    return to_jsonable(out)


def _pick(check: Mapping[str, Any] | None, *keys: str) -> dict[str, Any]:
    if not check:
        return {"estimate": None, "reason": "not computed"}
    return {
        k: check.get(k)
        for k in ("estimate", "ci_low", "ci_high", "p_value", "flagged", "reason", *keys)
    }


def bias_indices(
    table: pd.DataFrame,
    questions: Mapping[str, str],
    *,
    rng_seed: int = 0,
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    bias_section: Mapping[str, Any] | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    treated: str = "assertive",
    control: str = "hedged",
    include_blups: bool = True,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """B5 bias indices per pool, side by side: leniency, under-reporting, tone premium,
    detection gap, length and position bias.

    Tone premium, detection gap, length and position indices are read from ``bias_section``
    (the output of :func:`analysis.metrics.bias.bias_report`) when given, else computed.
    """
    if bias_section is None:
        bias_section = bias_report(
            table,
            questions,
            pool_column=pool_column,
            seed=rng_seed,
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            treated=treated,
            control=control,
            include_mixed_model=False,
            include_overall=False,
            two_way=two_way,
        )
    settings = {
        "expert_pool": expert_pool,
        "pool_column": pool_column,
        "rng_seed": rng_seed,
        "n_bootstrap": n_bootstrap,
        "alpha": alpha,
        "treated": treated,
        "control": control,
        "include_blups": include_blups,
        "two_way": two_way,
    }
    idx = {
        p: _pool_indices(table, questions, p, bias_section["pools"][p]["checks"], **settings)
        for p in sorted(bias_section.get("pools", {}))
    }
    return to_jsonable(
        {
            "computed": "methods.md B5 indices per pool (each with its CI)",
            "pools": idx,
        }
    )


def _pool_indices(
    table: pd.DataFrame,
    questions: Mapping[str, str],
    p: str,
    checks: Mapping[str, Any],
    *,
    expert_pool: str,
    pool_column: str,
    rng_seed: int,
    n_bootstrap: int,
    alpha: float,
    treated: str,
    control: str,
    include_blups: bool,
    two_way: str,
) -> dict[str, Any]:
    """One pool's indices: the bias checks' estimates, then its comparison with the
    experts (leniency, under-reporting) and its annotators' leniency intercepts."""
    entry: dict[str, Any] = {
        "tone_premium": _pick(checks.get("tone_premium_paired")),
        "detection_gap": _pick(checks.get("error_detection_by_tone")),
        "length_bias": _pick(checks.get("length_bias")),
        "position_bias": _pick(checks.get("position_bias"), "tie_rate"),
    }
    if "quality" in questions and p != expert_pool:
        entry["leniency_msd"] = _pick(
            leniency_msd(
                table,
                quality_question=questions["quality"],
                pool=p,
                expert_pool=expert_pool,
                pool_column=pool_column,
                rng=stable_rng(rng_seed, p, "leniency"),
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                two_way=two_way,
            )
        )
    elif p == expert_pool:
        entry["leniency_msd"] = {"estimate": None, "reason": "reference pool"}
    if "error_flag" in questions and p != expert_pool:
        entry["under_reporting"] = under_reporting(
            table,
            error_flag_question=questions["error_flag"],
            pool=p,
            expert_pool=expert_pool,
            pool_column=pool_column,
            treated=treated,
            control=control,
            rng=stable_rng(rng_seed, p, "under_reporting"),
            n_bootstrap=n_bootstrap,
            alpha=alpha,
        )
    if include_blups and "quality" in questions:
        entry["annotator_leniency_blups"] = annotator_leniency_blups(
            table, quality_question=questions["quality"], pool=p, pool_column=pool_column
        )
    return entry
