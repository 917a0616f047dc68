"""The expert reference: how it is made and how reliable it is, and the crowd's error
detection measured against it per tone -- hit rate, false alarms, d' and under-reporting.

References
----------
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR
    (under-reporting of factual errors by crowd raters, measured against experts).
Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide (2nd ed.).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.metrics.bias.bootstrap import (
    _CI,
    LinearStat,
    _cluster_ci,
    _Clusters,
    _group_sum_matrix,
    _invalid_warning,
)
from analysis.metrics.bias.common import (
    MIN_POSITIVE_OUTPUTS,
    MIN_POSITIVE_OUTPUTS_WARN,
    _f,
    to_jsonable,
)
from analysis.metrics.bias.detection import _loglinear_dprime
from analysis.metrics.expert_vs_crowd.common import PoolLabels, _plurality, encode_pool_labels

FIXED_REFERENCE = (
    "intervals treat the expert reference as fixed: they do not include the experts' own "
    "errors, and nothing is widened for them -- read them next to the reference's reliability"
)
# Under-reporting of this size or more, with an interval above 0, is flagged (methods.md A5
# uses the same 0.10 for Hosking's delta).
UNDER_REPORTING_FLAG = 0.10


def reference_summary(
    enc: PoolLabels,
    *,
    expert_pool: str,
    min_expert_labels: int,
    within_expert: Mapping[str, Any] | None,
    ceiling: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """How the expert reference of a question is made, and how far it can be trusted.

    The reference of a unit is its experts' unique most frequent label, given at least
    ``min_expert_labels`` expert labels. Its reliability is the experts' agreement with
    each other where units have two or more expert labels (Krippendorff's alpha, Gwet's
    AC1, percent agreement, and the leave-one-out single-expert accuracy with three or
    more); with one expert label per unit it is unknown, and the section says so instead
    of guessing.
    """
    e = enc.counts(expert_pool)
    n_e = e.sum(1)
    rated = int((n_e > 0).sum())
    multi = int((n_e >= 2).sum())
    ref = _plurality(e, min_expert_labels)
    if rated == 0:
        reliability = "no expert labels"
    elif multi == 0:
        reliability = "unknown, single expert: each unit has one expert label"
    elif multi < rated:
        reliability = (
            f"within-expert agreement on the {multi} of {rated} units with two or more "
            "expert labels; unknown on the others (a single expert label)"
        )
    else:
        reliability = "within-expert agreement (every unit has two or more expert labels)"
    summary: dict[str, Any] = {
        "source": "expert labels",
        "definition": (
            "a unit's reference is its experts' unique most frequent label, given at least "
            f"{min_expert_labels} expert label{'s' if min_expert_labels != 1 else ''}"
        ),
        "min_expert_labels": min_expert_labels,
        "n_units_with_reference": int((ref >= 0).sum()),
        "n_units_tied_or_too_few": int(((n_e > 0) & (ref < 0)).sum()),
        "expert_labels_per_unit": {
            "1": int((n_e == 1).sum()),
            "2": int((n_e == 2).sum()),
            "3 or more": int((n_e >= 3).sum()),
        },
        "reliability": reliability,
        "within_expert_agreement": None,
        "single_expert_accuracy": None,
        "intervals": FIXED_REFERENCE,
    }
    if multi and within_expert:
        summary["within_expert_agreement"] = {
            name: _coefficient(within_expert.get(name))
            for name in ("krippendorff_alpha", "gwet_ac1", "percent_agreement")
        }
    if ceiling and ceiling.get("single_expert_accuracy"):
        summary["single_expert_accuracy"] = ceiling["single_expert_accuracy"]
    return to_jsonable(summary)


def _coefficient(coef: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not coef:
        return None
    return {k: coef.get(k) for k in ("value", "ci_low", "ci_high", "reason")}


def _tone_order(tones: Sequence[str], treated: str, control: str) -> list[str]:
    head = [t for t in (treated, control) if t in tones]
    return head + sorted(set(tones) - set(head))


def detection_against_experts(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    rng: np.random.Generator,
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    min_expert_labels: int = 1,
    treated: str = "assertive",
    control: str = "hedged",
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """The crowd's error flags against the expert reference, per tone and over all tones.

    For the units with an expert reference (r = 1: the experts mark an error), per tone t:

    * hit rate HR_t = share of crowd ratings flagging a unit with r = 1, false alarms
      FA_t = share flagging a unit with r = 0, and d' (log-linear correction);
    * under-reporting UR_t = share of units the experts mark erroneous minus the share the
      crowd majority marks (a unit is marked when more than half of its crowd ratings
      flag it): positive = the crowd reports fewer errors than the experts find
      (Hosking et al. 2024), with the two shares beside it.

    With the treated and control tones present, the gaps HR_control - HR_treated and
    UR_treated - UR_control (both positive when the treated tone hides errors) are given.

    Intervals: the two-way (prompt x annotator) cluster bootstrap of the bias checks over
    the crowd's ratings (:func:`analysis.metrics.bias.bootstrap._cluster_ci`); a resampled
    annotator's ratings count with their multiplicity in the majority too. The reference is
    held fixed (see :data:`FIXED_REFERENCE`). A tone with fewer than 5 reference-error units
    has no rates (and no flag); with fewer than 30 its numbers carry ``insufficient_data``
    as a warning. The experts are not checked against their own reference: that would be
    circular, and the block says so.

    Returns
    -------
    dict
        defined/reason, reference, tones, by_tone{<tone>|all: {hit_rate(_ci),
        false_alarm_rate(_ci), d_prime(_ci), under_reporting{estimate, ci_low, ci_high,
        expert_rate, crowd_majority_rate, flag}, n_units, n_reference_error_units,
        n_ratings, insufficient_data}}, tone_gap, not_checked, ci_method, warnings.
    """
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    base = _against_experts_header(question, crowd_pool, expert_pool)
    if not set(enc.labels) <= {0, 1} or 1 not in enc.labels:
        return {**base, "defined": False, "reason": "the question is not a yes/no error flag"}
    pos = enc.labels.index(1)
    ref = _plurality(enc.counts(expert_pool), min_expert_labels)
    rows = (enc.pool == crowd_pool) & (ref[enc.unit_index] >= 0)
    if not rows.any():
        return {**base, "defined": False, "reason": "no crowd ratings of units with a reference"}
    tone_of = _unit_tones(table, question, enc)
    frame = _crowd_frame(enc, rows, ref, pos, tone_of)
    tones = _tone_order(sorted(set(frame["tone"]) - {""}), treated, control)
    groups = [*tones, "all"] if tones else ["all"]
    pair = (0, 1) if tones[:2] == [treated, control] else None
    stat, unit_ref, unit_group, clusters = _statistic(frame, groups, pair)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = stat(np.ones((1, len(frame))), np.ones((1, clusters.n_prompts)))[0]
    bounds = [(0.0, 1.0), (0.0, 1.0), None, (-1.0, 1.0), (0.0, 1.0), (0.0, 1.0)] * len(groups)
    bounds += [(-1.0, 1.0), (-1.0, 1.0)] if pair else []
    ci = _cluster_ci(stat, obs, clusters, rng, n_bootstrap, 1 - alpha, two_way, bounds)
    by_tone = {
        g: _group_block(frame, unit_ref, unit_group == i, obs, ci, i, g)
        for i, g in enumerate(groups)
    }
    warnings = [*clusters.warnings, *_invalid_warning(ci.invalid, "rates against the experts")]
    out = {
        **base,
        "defined": True,
        "reason": None,
        "reference": f"expert reference (at least {min_expert_labels} expert label(s))",
        "tones": tones,
        "by_tone": by_tone,
        "ci_method": ci.method,
        "warnings": warnings,
    }
    if pair:
        out["tone_gap"] = _tone_gap(by_tone, obs, ci, treated, control, 6 * len(groups))
    return to_jsonable(out)


def _unit_tones(table: pd.DataFrame, question: str, enc: PoolLabels) -> np.ndarray:
    """The tone of each unit of ``enc`` ("" when unknown)."""
    if "tone" not in table.columns:
        return np.full(enc.n_units, "", dtype=object)
    rows = table.loc[(table["question"] == question) & table["tone"].notna(), ["unit_id", "tone"]]
    first = rows.groupby(rows["unit_id"].astype(str), observed=True)["tone"].first()
    return pd.Series(enc.unit_ids.astype(str)).map(first.astype(str)).fillna("").to_numpy(object)


def _crowd_frame(
    enc: PoolLabels, rows: np.ndarray, ref: np.ndarray, pos: int, tone_of: np.ndarray
) -> pd.DataFrame:
    unit = enc.unit_index[rows]
    return pd.DataFrame(
        {
            "unit": unit,
            "unit_id": enc.unit_ids[unit],
            "annotator_id": enc.annotator[rows],
            "prompt_id": enc.prompt[rows],
            "y": (enc.codes[rows] == pos).astype(float),
            "r": (ref[unit] == pos).astype(float),
            "tone": tone_of[unit],
        }
    )


def _statistic(
    frame: pd.DataFrame, groups: Sequence[str], pair: tuple[int, int] | None
) -> tuple[Any, np.ndarray, np.ndarray, _Clusters]:
    """The bootstrap statistic: per group (tones, then "all") HR, FA, d', UR, the expert
    share and the crowd-majority share of erroneous units (6 columns per group); then, for
    the treated/control ``pair`` of groups, HR_control - HR_treated and UR_treated -
    UR_control."""
    units, local = np.unique(frame["unit"].to_numpy(), return_inverse=True)
    n_units = len(units)
    y, r = frame["y"].to_numpy(), frame["r"].to_numpy()
    tone = frame["tone"].to_numpy()
    unit_ref = pd.Series(r).groupby(local).first().to_numpy()
    unit_tone = pd.Series(tone).groupby(local).first().to_numpy()
    unit_group = np.array([groups.index(t) if t in groups else -1 for t in unit_tone])
    clusters = _Clusters(frame)
    unit_prompt = pd.Series(clusters.prompt_codes).groupby(local).first().to_numpy()
    cols = []
    masks = []
    for i, g in enumerate(groups):
        m = np.ones(len(frame), bool) if g == "all" else tone == g
        masks.append(np.ones(n_units, bool) if g == "all" else unit_group == i)
        cols += [y * m * r, m * r, y * m * (1 - r), m * (1 - r)]
    k = len(cols)
    # Rates per group, then each unit's flags and ratings: whole numbers, so the one-way
    # bootstraps sum them per cluster once (LinearStat).
    matrix = sparse.hstack(
        [
            sparse.csr_matrix(np.column_stack(cols)),
            _group_sum_matrix(local, y, n_units),
            _group_sum_matrix(local, np.ones(len(frame)), n_units),
        ]
    ).tocsr()

    def finish(sums: np.ndarray, mp: np.ndarray) -> np.ndarray:
        s = sums[:, :k]
        share = sums[:, k : k + n_units] / sums[:, k + n_units :]
        ok = np.isfinite(share)
        marked = np.where(ok, share > 0.5, False).astype(float)
        wp = mp[:, unit_prompt] * ok
        out = []
        for i, unit_mask in enumerate(masks):
            hit, n1, fa, n0 = s[:, 4 * i : 4 * i + 4].T
            d, _ = _loglinear_dprime(hit, n1, fa, n0)
            d = np.where((n1 == 0) | (n0 == 0), np.nan, d)
            wm = wp * unit_mask
            expert = (wm * unit_ref).sum(1) / wm.sum(1)
            crowd = (wm * marked).sum(1) / wm.sum(1)
            out += [hit / n1, fa / n0, d, expert - crowd, expert, crowd]
        if pair is not None:
            t, c = pair
            out += [out[6 * c] - out[6 * t], out[6 * t + 3] - out[6 * c + 3]]
        return np.column_stack(out)

    return LinearStat(matrix, finish), unit_ref, unit_group, clusters


def _group_block(
    frame: pd.DataFrame,
    unit_ref: np.ndarray,
    unit_mask: np.ndarray,
    obs: np.ndarray,
    ci: _CI,
    i: int,
    group: str,
) -> dict[str, Any]:
    """One tone's (or all tones') numbers, or why there are none."""
    sub = frame if group == "all" else frame.loc[frame["tone"] == group]
    n_pos = int((unit_ref[unit_mask] == 1).sum())
    counts = {
        "n_units": int(unit_mask.sum()),
        "n_reference_error_units": n_pos,
        "n_ratings": len(sub),
        "insufficient_data": n_pos < MIN_POSITIVE_OUTPUTS_WARN,
    }
    if n_pos < MIN_POSITIVE_OUTPUTS:
        return {
            **counts,
            "defined": False,
            "reason": (
                f"only {n_pos} units the experts mark erroneous "
                f"(need at least {MIN_POSITIVE_OUTPUTS})"
            ),
        }
    j = 6 * i

    def cell(k: int) -> dict[str, float | None]:
        return {"estimate": _f(obs[j + k]), "ci_low": ci.low[j + k], "ci_high": ci.high[j + k]}

    ur = cell(3)
    flag = (
        ur["estimate"] is not None
        and ur["estimate"] >= UNDER_REPORTING_FLAG
        and ur["ci_low"] is not None
        and ur["ci_low"] > 0
    )
    return {
        **counts,
        "defined": True,
        "hit_rate": cell(0),
        "false_alarm_rate": cell(1),
        "d_prime": cell(2),
        "under_reporting": {
            **ur,
            "expert_rate": _f(obs[j + 4]),
            "crowd_majority_rate": _f(obs[j + 5]),
            "flag": bool(flag),
        },
    }


def _tone_gap(
    by_tone: Mapping[str, Any], obs: np.ndarray, ci: _CI, treated: str, control: str, j: int
) -> dict[str, Any]:
    """HR_control - HR_treated and UR_treated - UR_control (columns ``j``, ``j + 1``),
    both positive when the treated tone hides errors; nothing is claimed on few units."""
    defined = by_tone[treated].get("defined") and by_tone[control].get("defined")
    insufficient = by_tone[treated]["insufficient_data"] or by_tone[control]["insufficient_data"]

    def gap(k: int) -> dict[str, float | None]:
        if not defined:
            return {"estimate": None, "ci_low": None, "ci_high": None}
        return {"estimate": _f(obs[k]), "ci_low": ci.low[k], "ci_high": ci.high[k]}

    return {
        "computed": (
            f"hit rate {control} minus {treated}, and under-reporting {treated} minus "
            f"{control} (both positive when the {treated} tone hides errors)"
        ),
        "hit_rate_gap": gap(j),
        "under_reporting_gap": gap(j + 1),
        "insufficient_data": bool(insufficient),
    }


def _against_experts_header(question: str, crowd_pool: str, expert_pool: str) -> dict[str, Any]:
    """What :func:`detection_against_experts` computes and on whom, whatever the data."""
    return {
        "question": question,
        "computed": (
            "crowd flags against the expert reference: hit rate, false alarms, d' and "
            "under-reporting (expert share minus crowd-majority share of erroneous units)"
        ),
        "checked_pool": crowd_pool,
        "not_checked": {
            expert_pool: (
                "the reference is made from these raters' own labels: checking them against "
                "it would be circular, not a finding"
            )
        },
        "majority_rule": "a unit is marked when more than half of its crowd ratings flag it",
        "intervals": FIXED_REFERENCE,
    }
