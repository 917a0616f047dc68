"""Regression machinery of the model-based checks: REML MixedLM with crossed random
effects, OLS with two-way cluster-robust covariance, and Wald summaries of coefficients.

References
----------
Baayen, Davidson & Bates (2008), Mixed-effects modeling with crossed random effects,
J. Memory and Language 59:390-412. Cameron, Gelbach & Miller (2011), Robust inference with
multiway clustering, J. Business & Economic Statistics 29:238-249.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias.common import _f, say_failure


def _fit_crossed_mixedlm(
    data: pd.DataFrame,
    formula: str,
    vc: Mapping[str, str],
) -> tuple[Any | None, list[str], str | None]:
    """Fit MixedLM with crossed variance components over one constant group.

    Returns (result or None, warnings, failure reason). Optimisers are tried in turn because
    MixedLM's default sometimes stalls on boundary variance components.
    """
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = data.assign(_one=1)
    notes: list[str] = []
    reasons: list[str] = []
    fits: list[tuple[float, Any, list[str]]] = []
    # L-BFGS is fast but can stop at a saddle with a non-positive-definite Hessian (seen on
    # simulated crossed designs: log-lik -1603 vs -1579); conjugate gradient is then
    # tried and the higher REML log-likelihood wins. The slower derivative-free
    # Nelder-Mead and Powell are tried only when neither gradient method converged (on
    # small designs that rescues the fit).
    for method in ("lbfgs", "cg", "nm", "powell"):
        if method in ("nm", "powell") and fits:
            break
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = smf.mixedlm(formula, data, groups="_one", vc_formula=dict(vc))
                res = model.fit(reml=True, method=method)
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
                reasons.append(f"MixedLM failed ({method}): {say_failure(exc)}")
                continue
        messages = sorted(
            {
                str(w.message).split("\n")[0]
                for w in caught
                if issubclass(w.category, ConvergenceWarning)
            }
        )
        fe = np.asarray(res.fe_params)
        # A covariance that is not positive definite gives NaN standard errors (the
        # square root of a negative variance): checked just below, not printed.
        with np.errstate(invalid="ignore"):
            bse = np.asarray(res.bse_fe)
        if not res.converged:
            reasons.append(f"MixedLM did not converge with {method}")
            continue
        if not (np.all(np.isfinite(fe)) and np.all(np.isfinite(bse))):
            reasons.append(f"MixedLM ({method}) gave non-finite estimates or standard errors")
            continue
        fits.append((float(res.llf), res, [f"{method}: {m}" for m in messages]))
        if not any("Hessian" in m for m in messages):
            break
    if not fits:
        return None, notes, "; ".join(reasons) or "MixedLM failed"
    _, best, msgs = max(fits, key=lambda f: f[0])
    if msgs:
        notes.append("MixedLM convergence notes: " + "; ".join(msgs))
    return best, notes, None


def _ols_two_way(data: pd.DataFrame, formula: str) -> tuple[pd.Series, pd.DataFrame, str]:
    """OLS with two-way (prompt x annotator) cluster-robust covariance (Cameron et al. 2011)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.sandwich_covariance import cov_cluster, cov_cluster_2groups

    with warnings.catch_warnings(record=True) as caught:
        # statsmodels warns of a rank-deficient design (an annotator effect confounded with
        # the others): the coefficients reported are still identified, and the note says so
        # instead of a warning printed on the console.
        warnings.simplefilter("always")
        res = smf.ols(formula, data).fit()
    rank_deficient = any("rank-deficient" in str(w.message) for w in caught)
    for w in caught:
        if "rank-deficient" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    g1 = pd.factorize(data["prompt_id"].astype(str))[0]
    g2 = pd.factorize(data["annotator_id"].astype(str))[0]
    cov, _, _ = cov_cluster_2groups(res, g1, g2)
    note = "two-way cluster-robust (prompt x annotator)"
    if np.any(np.diag(cov) <= 0):
        # The additive two-way formula can be non-PSD in small samples; fall back one-way.
        cov = cov_cluster(res, g1)
        note = "prompt-cluster-robust (two-way covariance was not positive)"
    if rank_deficient:
        note += "; the design is rank-deficient (some annotator effects are not identified)"
    names = list(res.params.index)
    return res.params, pd.DataFrame(cov, index=names, columns=names), note


def _coef_table(
    params: pd.Series, cov: pd.DataFrame, names: Mapping[str, str], alpha: float
) -> dict[str, dict[str, float | None]]:
    z = stats.norm.ppf(1 - alpha / 2)
    out = {}
    for public, internal in names.items():
        if internal not in params.index:
            continue
        est = float(params[internal])
        se = float(np.sqrt(cov.loc[internal, internal]))
        p = 2 * stats.norm.sf(abs(est / se)) if se > 0 else None
        out[public] = {
            "estimate": _f(est),
            "se": _f(se),
            "ci_low": _f(est - z * se),
            "ci_high": _f(est + z * se),
            "p_value": _f(p),
        }
    return out


def _linear_combo(
    params: pd.Series, cov: pd.DataFrame, weights: Mapping[str, float], alpha: float
) -> dict[str, float | None]:
    names = [n for n in weights if n in params.index]
    if len(names) != len(weights):
        return {"estimate": None, "ci_low": None, "ci_high": None, "p_value": None}
    w = np.array([weights[n] for n in names])
    est = float(w @ params[names].to_numpy())
    var = float(w @ cov.loc[names, names].to_numpy() @ w)
    se = math.sqrt(var) if var > 0 else float("nan")
    z = stats.norm.ppf(1 - alpha / 2)
    return {
        "estimate": _f(est),
        "ci_low": _f(est - z * se),
        "ci_high": _f(est + z * se),
        "p_value": _f(2 * stats.norm.sf(abs(est / se))) if se > 0 else None,
    }
