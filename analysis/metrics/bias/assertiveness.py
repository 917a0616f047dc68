"""A3: perceived assertiveness -- the manipulation check, and quality's association with
how assertive raters found an answer (observational).

References
----------
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import regression, wording
from analysis.metrics.bias.bootstrap import _bootstrap_counts, _percentile_ci
from analysis.metrics.bias.checks import Check, CheckContext
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
from analysis.metrics.bias.regression import _coef_table

CHECK = "perceived_assertiveness"
MANIPULATION_COMPUTED = "Cohen's d of output-mean perceived assertiveness, treated vs control"

# The slope of the model, with its interval and test, when it was fitted.
_Slope = tuple[float | None, float | None, float | None, float | None, str | None]


def perceived_assertiveness_check(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    quality_question: str = "quality",
    assertiveness_question: str = "assertiveness",
    treated: str = "assertive",
    control: str = "hedged",
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    fit_model: bool = True,
    label: str = "raters",
) -> dict[str, Any]:
    """Manipulation check and quality-on-perceived-assertiveness association (methods.md A3).

    * Manipulation check: Cohen's d of the output-level mean perceived assertiveness,
      treated vs control (pooled SD), with a prompt-cluster bootstrap CI; flag
      ``manipulation_failed`` if d < 0.5.
    * Item-level Spearman r(mean assertiveness, mean quality).
    * Mixed model Q ~ z(A_i) + n_known_errors with crossed annotator/prompt/item effects,
      where A_i is the output's mean perceived assertiveness.

    This is observational: perceived assertiveness is confounded with content quality
    (Hosking et al. 2024 report r = 0.68), so the estimate is not a causal tone effect; the
    causal claim rests on :func:`paired_tone_premium`. The estimate reported is the mixed-model
    slope (quality points per SD of perceived assertiveness).

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with both questions.
    rng : numpy.random.Generator
    quality_question, assertiveness_question : str
    treated, control : str
    n_bootstrap : int
    alpha : float
    fit_model : bool
        Fit the mixed model (slower); if false only the manipulation check and Spearman r.
    label : str

    Returns
    -------
    dict
        Common check keys plus manipulation_check, spearman, confounded (always true).
    """
    computed = (
        "quality on standardized output-mean perceived assertiveness, controlling "
        "n_known_errors (observational, confounded)"
    )
    _validate_common(n_bootstrap, alpha, rng)
    try:
        q, a, a_out, warn, counts = _rated_outputs(table, quality_question, assertiveness_question)
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    manip = _manipulation_check(a, treated, control, rng, n_bootstrap, alpha)
    spearman = _spearman(q, a_out)
    est, lo, hi, p, method = (
        _assertiveness_slope(q, a_out, alpha, warn) if fit_model else (None,) * 5
    )
    res_dict = _result(
        CHECK,
        computed,
        estimate=est,
        ci=(lo, hi),
        level=1 - alpha,
        ci_method="Wald, REML MixedLM covariance" if method else "none",
        p_value=p,
        test="Wald z test of the assertiveness slope" if method else None,
        null_value=0.0,
        counts=counts,
        verdict=wording.assertiveness_verdict(manip, est, lo, hi, label),
        warnings_=warn,
        flags=["manipulation_failed"] if manip.get("manipulation_failed") else [],
        confounded=True,
        manipulation_check=manip,
        spearman=spearman,
    )
    if est is None:
        res_dict["reason"] = "mixed model not fitted" if fit_model else "model not requested"
    return res_dict


def _rated_outputs(
    table: pd.DataFrame, quality_question: str, assertiveness_question: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, list[str], dict[str, int]]:
    """Quality ratings of outputs rated for assertiveness, the assertiveness ratings, each
    output's mean assertiveness, warnings and counts."""
    q, warn = _question_rows(table, quality_question, "numeric", ["n_known_errors", "output_id"])
    a, warn_a = _question_rows(table, assertiveness_question, "numeric", ["output_id"])
    warn += warn_a
    if q.empty or a.empty:
        raise Undefined("no quality or assertiveness ratings")
    a_out = a.groupby("output_id")["y"].mean()
    shared = set(zip(q["output_id"], q["annotator_id"], strict=True)) & set(
        zip(a["output_id"], a["annotator_id"], strict=True)
    )
    warn.append(
        "perceived assertiveness is confounded with content quality (methods.md s8): "
        "this is an association, not a causal tone effect"
    )
    if shared:
        warn.append(
            f"{len(shared)} (output, annotator) pairs gave both quality and assertiveness; "
            "methods.md s2 asks for separate tasks with disjoint annotators"
        )
    q = q.loc[q["output_id"].isin(a_out.index) & q["n_known_errors"].notna()].copy()
    counts = _counts(q)
    if len(q) < MIN_RATINGS:
        raise Undefined("too few outputs rated on both questions", **counts)
    return q, a, a_out, warn, counts


def _manipulation_check(
    a: pd.DataFrame,
    treated: str,
    control: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
) -> dict[str, Any]:
    """Cohen's d of output-mean perceived assertiveness, with a prompt-cluster bootstrap."""
    manip: dict[str, Any] = {"computed": MANIPULATION_COMPUTED}
    if "tone" not in a.columns:
        manip.update({"estimate": None, "reason": "no tone column"})
        return manip
    out_tone = a.groupby("output_id").agg(
        A=("y", "mean"), tone=("tone", "first"), prompt_id=("prompt_id", "first")
    )
    out_tone = out_tone.loc[out_tone["tone"].isin([treated, control])]
    if out_tone["tone"].nunique() != 2 or len(out_tone) < 4:
        manip.update({"estimate": None, "reason": "both tone conditions needed"})
        return manip
    prompts = pd.factorize(out_tone["prompt_id"].astype(str))[0]
    is_t = (out_tone["tone"] == treated).to_numpy()
    vals = out_tone["A"].to_numpy()

    def cohen(w: np.ndarray) -> np.ndarray:
        wt, wc = w * is_t, w * ~is_t
        mt = (wt * vals).sum(1) / wt.sum(1)
        mc = (wc * vals).sum(1) / wc.sum(1)
        vt = (wt * (vals - mt[:, None]) ** 2).sum(1) / (wt.sum(1) - 1)
        vc_ = (wc * (vals - mc[:, None]) ** 2).sum(1) / (wc.sum(1) - 1)
        pooled = np.sqrt(((wt.sum(1) - 1) * vt + (wc.sum(1) - 1) * vc_) / (w.sum(1) - 2))
        return (mt - mc) / pooled

    d_obs = float(cohen(np.ones((1, len(vals))))[0])
    n_p = prompts.max() + 1
    mp = _bootstrap_counts(rng, n_p, n_bootstrap)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = cohen(mp[:, prompts]) if n_bootstrap else np.empty(0)
    lo, hi, _ = _percentile_ci(reps, 1 - alpha)
    manip.update(
        {
            "estimate": _f(d_obs),
            "ci_low": lo,
            "ci_high": hi,
            "mean_treated": _f(vals[is_t].mean()),
            "mean_control": _f(vals[~is_t].mean()),
            "n_outputs": len(vals),
            "manipulation_failed": bool(d_obs < 0.5),
            "reason": None,
        }
    )
    return manip


def _spearman(q: pd.DataFrame, a_out: pd.Series) -> dict[str, Any]:
    """Item-level Spearman r between mean assertiveness and mean quality."""
    item = q.groupby("output_id")["y"].mean().to_frame("Q").join(a_out.rename("A"))
    if len(item) >= 3 and item["A"].std() > 0 and item["Q"].std() > 0:
        sp = stats.spearmanr(item["A"], item["Q"])
        return {"rho": _f(sp.statistic), "p_value": _f(sp.pvalue), "n_outputs": len(item)}
    return {
        "rho": None,
        "p_value": None,
        "n_outputs": len(item),
        "reason": "constant or too few items",
    }


def _assertiveness_slope(
    q: pd.DataFrame, a_out: pd.Series, alpha: float, warn: list[str]
) -> _Slope:
    """Mixed-model slope of quality per SD of perceived assertiveness at a fixed error
    count: (estimate, CI low, CI high, p-value, method); appends to ``warn``."""
    q["A_z"] = q["output_id"].map(a_out)
    sd = q["A_z"].std()
    if not sd > 0:
        warn.append("perceived assertiveness is constant: no model")
        return None, None, None, None, None
    q["A_z"] = (q["A_z"] - q["A_z"].mean()) / sd
    q["E"] = q["n_known_errors"].astype(float)
    q["_annot"] = q["annotator_id"].astype(str)
    q["_prompt"] = q["prompt_id"].astype(str)
    # Same crossed structure as tone_mixed_model: the item is the matched content
    # (both tone variants) when system is known, else the output.
    if "system" in q.columns and q["system"].notna().all():
        q["_item"] = q["prompt_id"].astype(str) + "|" + q["system"].astype(str)
    else:
        q["_item"] = q["output_id"].astype(str)
    formula = "y ~ A_z + E" if q["E"].nunique() > 1 else "y ~ A_z"
    res, notes, reason = regression._fit_crossed_mixedlm(
        q,
        formula,
        {"annotator": "0 + C(_annot)", "prompt": "0 + C(_prompt)", "item": "0 + C(_item)"},
    )
    warn += notes
    if res is None:
        warn.append(f"mixed model not fitted: {reason}")
        return None, None, None, None, None
    params = res.fe_params
    cov = res.cov_params().loc[params.index, params.index]
    c = _coef_table(params, cov, {"a": "A_z"}, alpha)["a"]
    return c["estimate"], c["ci_low"], c["ci_high"], c["p_value"], "mixedlm"


def _fit_model(group: pd.DataFrame, ctx: CheckContext) -> dict[str, Any]:
    return {"fit_model": ctx.include_mixed_model}


SPEC = Check(
    name=CHECK,
    estimate=perceived_assertiveness_check,
    questions={"quality_question": "quality", "assertiveness_question": "assertiveness"},
    columns=("output_id",),
    settings=("rng", "treated", "control", "n_bootstrap", "alpha", "label"),
    derived=_fit_model,
)
