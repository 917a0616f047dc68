"""Every sentence a bias check writes: number formats and the one-line verdicts.

The estimators hand over their numbers; nothing here computes a statistic, and nothing
outside this module writes a verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.metrics.bias.detection import Detection
    from analysis.metrics.bias.length import LengthSlope
    from analysis.metrics.bias.position import Position
    from analysis.metrics.bias.tone_premium import PairedPremium


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _fmt_ci(lo: float | None, hi: float | None, fmt: str = "{:+.2f}") -> str:
    if lo is None or hi is None:
        return "[CI n/a]"
    return "[" + fmt.format(lo) + ", " + fmt.format(hi) + "]"


def _fmt_num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _pct_ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "[CI n/a]"
    return f"[{100 * lo:.0f}–{100 * hi:.0f}]"


def paired_premium_verdict(
    est: PairedPremium,
    by_status: dict[str, dict[str, Any]],
    label: str,
    treated: str,
    control: str,
) -> str:
    lo, hi = est.cis[0]
    verdict = (
        f"{label} gave {treated} answers {est.obs[0]:+.2f} {_fmt_ci(lo, hi)} quality points "
        f"relative to {control} versions of the same content with the same errors "
        f"({est.n_pairs} pairs; sign-flip {_fmt_p(est.p_values[0])})"
    )
    w_err = by_status["with_errors"]
    w_ok = by_status["error_free"]
    if w_err["estimate"] is not None and w_ok["estimate"] is not None:
        verdict += (
            f"; {w_err['estimate']:+.2f} on answers with errors vs "
            f"{w_ok['estimate']:+.2f} on error-free ones"
        )
    return verdict


def tone_model_verdict(
    coefs: dict[str, dict[str, float | None]], method: str, label: str, treated: str
) -> str:
    tone = coefs.get("tone", {})
    per_error = coefs.get("n_known_errors", {}).get("estimate")
    return (
        f"{label}: holding errors fixed, {treated} tone shifts quality by "
        f"{_fmt_num(tone.get('estimate'))} {_fmt_ci(tone.get('ci_low'), tone.get('ci_high'))} "
        "points"
        + (f" vs {_fmt_num(per_error)} per known error" if per_error is not None else "")
        + f" ({'mixed model' if method == 'mixedlm' else 'OLS fallback'}, "
        f"{_fmt_p(tone.get('p_value'))})"
    )


def assertiveness_verdict(
    manip: dict[str, Any], est: float | None, lo: float | None, hi: float | None, label: str
) -> str:
    verdict = (
        f"{label}: manipulation check d = {_fmt_num(manip.get('estimate'))} "
        f"{_fmt_ci(manip.get('ci_low'), manip.get('ci_high'))}"
    )
    if est is not None:
        return verdict + (
            f"; +1 SD perceived assertiveness goes with {_fmt_num(est)} {_fmt_ci(lo, hi)} "
            "quality points at fixed error count (association only: perceived "
            "assertiveness is confounded with content)"
        )
    return verdict + "; quality-on-assertiveness model not fitted"


def detection_verdict(est: Detection, label: str, treated: str, control: str) -> str:
    bt, bc = est.by_tone[treated], est.by_tone[control]
    head = est.pair_col(0, 1, 0)
    lo, hi = est.ci[head]
    verdict = (
        f"{label} missed {_pct(bt['miss_rate'])} {_pct_ci(*bt['miss_rate_ci'])} of errors in "
        f"{treated} answers vs {_pct(bc['miss_rate'])} {_pct_ci(*bc['miss_rate_ci'])} in "
        f"{control} ones (hit-rate gap {control} - {treated} {est.obs[head]:+.2f} "
        f"{_fmt_ci(lo, hi)}, {_fmt_p(est.p_gap)}); false alarms on clean answers "
        f"{_pct(bt['false_alarm_rate'])} {_pct_ci(*bt['false_alarm_rate_ci'])} ({treated}) vs "
        f"{_pct(bc['false_alarm_rate'])} {_pct_ci(*bc['false_alarm_rate_ci'])} ({control}); "
        f"d' {_num(bt['d_prime'])} vs {_num(bc['d_prime'])}"
    )
    if est.circular:
        verdict = f"not a finding (the reference is made from these raters' labels): {verdict}"
    if len(est.tones) > 2:
        differ = sum(c["hit_rate_differs"] for c in est.contrasts)
        verdict += (
            f"; across the {len(est.tones)} tones, {differ} of {len(est.contrasts)} pairwise "
            "hit-rate gaps differ from 0 after Holm's correction"
        )
    return verdict


def position_verdict(est: Position, label: str) -> str:
    lo, hi = est.ci
    return (
        f"{label} chose the first-shown answer in {_pct(est.obs[0])} {_pct_ci(lo, hi)} of "
        f"{est.n_nontie} non-tie judgements (50% = no position bias; binomial "
        f"{_fmt_p(est.binomial_p)}); ties {_pct(est.obs[1])}"
    )


def length_verdict(est: LengthSlope, label: str) -> str:
    lo, hi = est.ci
    return (
        f"{label}: an output {est.length_ratio_per_sd:.2f}x longer (+1 SD of log length) got "
        f"{est.estimate:+.2f} {_fmt_ci(lo, hi)} quality points at the same known-error count "
        f"({_fmt_p(est.p_value)})"
    )
