"""Tone-vs-factuality, position and length bias checks (methods.md, spec A and B5).

Pure numpy/pandas/scipy/statsmodels; no Django. Every public check takes the platform's
long-format annotation table (one row per annotation x question) and returns a
JSON-serialisable dict with the same core keys (see ``docs/bias-methods.md``)::

    check, computed, defined, reason, estimate, ci_low, ci_high, ci_level, ci_method,
    p_value, test, null_value, n_units, n_annotators, n_ratings, flagged, flags,
    verdict, warnings

Expected columns (extra columns are ignored):

=================  ======================================================================
unit_id            annotated unit (output for rubric questions, pair for preferences)
annotator_id       pseudonymous annotator id
pool               annotator pool ("crowd", "expert", ...), only for :func:`bias_report`
question           question key, e.g. "quality"
value              answer: Likert int for quality/assertiveness, 0/1 (or yes/no,
                   true/false) for error flags, "A"/"B"/"tie" for preferences
prompt_id          prompt; the first cluster dimension of the bootstrap (falls back to
                   unit_id when missing)
output_id          rated output (rubric rows)
system             generating system (rubric rows); part of the matched-variant key
tone               design tone condition, e.g. "assertive"/"hedged" (None if unknown)
n_known_errors     known/injected factual error count of the output (int)
output_length      output length in characters or tokens (> 0)
shown_order        pairwise rows: tuple of the ids shown in position A, B
=================  ======================================================================

Uncertainty is clustered two ways, by prompt and by annotator (methods.md A1). The default
combines prompt, annotator and rating bootstraps as V_p + V_a - V_r (the bootstrap form of
Cameron, Gelbach & Miller 2011); Owen's (2007) pigeonhole bootstrap with percentile
intervals is available as ``two_way="pigeonhole"`` (see :func:`_cluster_ci` for why it is
not the default). A prompt-cluster bootstrap is used when annotators rate fewer than two
items each. Tests are randomization tests within prompt
(matched variant) where tone was randomized.

References
----------
Owen, A. B. (2007). The pigeonhole bootstrap. Annals of Applied Statistics 1(2):386-411.
Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2011). Robust inference with multiway
    clustering. Journal of Business & Economic Statistics 29(2):238-249.
Hautus, M. J. (1995). Corrections for extreme proportions and their biasing effects on
    estimated values of d'. Behavior Research Methods 27:46-51.
Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide (2nd ed.).
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
Wu, M. & Aji, A. F. (2025). Style Over Substance. COLING.
Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena. NeurIPS.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J. Stat. 6.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

DEFAULT_QUESTIONS: dict[str, str] = {
    "quality": "quality",
    "error_flag": "has_factual_error",
    "assertiveness": "assertiveness",
    "preference": "preference",
}

# methods.md A5: fewer than 30 reference-positive outputs per tone arm is "insufficient_data".
MIN_POSITIVE_OUTPUTS_WARN = 30
# Below these the estimate is not reported at all (a CI over a handful of clusters is noise).
MIN_POSITIVE_OUTPUTS = 5
MIN_PAIRS = 5
MIN_PAIRS_WARN = 20
MIN_RATINGS = 10
FEW_ANNOTATORS = 10
# Share of bootstrap replicates that may be undefined (empty arm) before the CI is withheld.
MAX_INVALID_REPLICATES = 0.5

_BINARY_MAP: dict[Any, int] = {
    # True/False also match the ints 1/0 (equal hashes).
    True: 1,
    False: 0,
    "1": 1,
    "0": 0,
    "yes": 1,
    "no": 0,
    "y": 1,
    "n": 0,
    "true": 1,
    "false": 0,
}


# --------------------------------------------------------------------------------------
# JSON helpers and the common result shape
# --------------------------------------------------------------------------------------


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas scalars and containers to JSON-safe Python.

    NaN and infinities become None (callers add a "reason" where it matters).
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def _f(x: Any) -> float | None:
    """Float or None for NaN/inf/None."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _counts(df: pd.DataFrame) -> dict[str, int]:
    return {
        "n_units": int(df["unit_id"].nunique()) if len(df) else 0,
        "n_annotators": int(df["annotator_id"].nunique()) if len(df) else 0,
        "n_ratings": len(df),
    }


def _not_defined(check: str, computed: str, reason: str, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "check": check,
        "computed": computed,
        "defined": False,
        "reason": reason,
        "estimate": None,
        "ci_low": None,
        "ci_high": None,
        "ci_level": None,
        "ci_method": None,
        "p_value": None,
        "test": None,
        "null_value": None,
        "n_units": 0,
        "n_annotators": 0,
        "n_ratings": 0,
        "flagged": False,
        "flags": [],
        "verdict": f"not computed: {reason}",
        "warnings": [],
    }
    res.update(extra)
    return to_jsonable(res)


def _result(
    check: str,
    computed: str,
    *,
    estimate: float | None,
    ci: tuple[float | None, float | None],
    level: float,
    ci_method: str,
    p_value: float | None,
    test: str | None,
    null_value: float,
    counts: Mapping[str, int],
    verdict: str,
    warnings_: Sequence[str],
    flags: Sequence[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    lo, hi = _f(ci[0]), _f(ci[1])
    ci_excludes = lo is not None and hi is not None and (lo > null_value or hi < null_value)
    res: dict[str, Any] = {
        "check": check,
        "computed": computed,
        "defined": _f(estimate) is not None,
        "reason": None if _f(estimate) is not None else "estimate undefined",
        "estimate": _f(estimate),
        "ci_low": lo,
        "ci_high": hi,
        "ci_level": level,
        "ci_method": ci_method,
        "p_value": _f(p_value),
        "test": test,
        "null_value": null_value,
        **counts,
        # methods.md A5 keys flags on the CI; the p-value is reported next to it.
        "flagged": bool(ci_excludes),
        "flags": list(flags),
        "verdict": verdict,
        "warnings": list(warnings_),
    }
    if lo is None and _f(estimate) is not None:
        res["ci_reason"] = "too many bootstrap replicates were undefined"
    res.update(extra)
    return to_jsonable(res)


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _fmt_ci(lo: float | None, hi: float | None, fmt: str = "{:+.2f}") -> str:
    if lo is None or hi is None:
        return "[CI n/a]"
    return "[" + fmt.format(lo) + ", " + fmt.format(hi) + "]"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _pct_ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "[CI n/a]"
    return f"[{100 * lo:.0f}–{100 * hi:.0f}]"


def stable_rng(seed: int, *names: str) -> np.random.Generator:
    """Generator seeded by ``seed`` and a stable hash of ``names`` (not Python's salted hash).

    Each check in a report gets its own stream, so adding a check or a pool does not change
    the numbers of the others.
    """
    keys = [int(seed)] + [zlib.crc32(n.encode()) for n in names]
    return np.random.default_rng(keys)


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------


def _require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError("table must be a pandas DataFrame")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} needs columns {missing} (have {list(table.columns)})")


def _coerce_binary(values: pd.Series, question: str) -> pd.Series:
    def conv(v: Any) -> int:
        key = v.strip().lower() if isinstance(v, str) else v
        if isinstance(key, (float, np.floating)) and float(key).is_integer():
            key = int(key)
        if isinstance(key, np.integer):
            key = int(key)
        if isinstance(key, np.bool_):
            key = bool(key)
        try:
            return _BINARY_MAP[key]
        except (KeyError, TypeError):
            raise ValueError(f"question {question!r}: value {v!r} is not a binary answer") from None

    return values.map(conv).astype(int)


def _question_rows(
    table: pd.DataFrame, question: str, kind: str, extra_required: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Rows of one question with a coerced float ``y`` column (or str for categorical).

    Missing answers are dropped and reported as a warning rather than silently imputed.
    """
    _require_columns(
        table, ["unit_id", "annotator_id", "question", "value", *extra_required], "this check"
    )
    df = table.loc[table["question"] == question].copy()
    warn: list[str] = []
    missing = df["value"].isna()
    if missing.any():
        warn.append(f"{int(missing.sum())} missing answers to {question!r} were dropped")
        df = df.loc[~missing]
    if kind == "numeric":
        try:
            df["y"] = pd.to_numeric(df["value"], errors="raise").astype(float)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"question {question!r}: non-numeric value ({exc})") from None
    elif kind == "binary":
        df["y"] = _coerce_binary(df["value"], question).astype(float)
    elif kind == "categorical":
        df["y"] = df["value"].astype(str)
    else:  # pragma: no cover - internal misuse
        raise ValueError(f"unknown kind {kind!r}")
    if "prompt_id" not in df.columns or df["prompt_id"].isna().all():
        # Without prompts the unit is the only content cluster we have.
        df["prompt_id"] = df["unit_id"]
        warn.append("prompt_id missing: units used as the content cluster")
    elif df["prompt_id"].isna().any():
        df["prompt_id"] = df["prompt_id"].where(df["prompt_id"].notna(), df["unit_id"])
    return df, warn


# --------------------------------------------------------------------------------------
# Two-way cluster bootstrap engine
# --------------------------------------------------------------------------------------


class _Clusters:
    """Integer cluster codes per row and the resampling mode."""

    def __init__(self, df: pd.DataFrame, prompt_col: str = "prompt_id") -> None:
        self.prompt_codes, self.prompts = pd.factorize(df[prompt_col].astype(str), sort=True)
        self.annot_codes, self.annotators = pd.factorize(df["annotator_id"].astype(str), sort=True)
        self.n_prompts = len(self.prompts)
        self.n_annotators = len(self.annotators)
        per_annot = np.bincount(self.annot_codes, minlength=self.n_annotators)
        self.warnings: list[str] = []
        if self.n_prompts < 2 and self.n_annotators < 2:
            self.mode = "none"
        elif self.n_annotators < 2 or np.median(per_annot) < 2:
            # methods.md A1 fallback: annotators with ~1 rating carry no annotator cluster.
            self.mode = "prompt"
            self.warnings.append(
                "annotators rate fewer than 2 items each (or only one annotator): "
                "prompt-cluster bootstrap only, annotator clustering ignored"
            )
        elif self.n_prompts < 2:
            self.mode = "annotator"
            self.warnings.append("a single prompt: annotator-cluster bootstrap only")
        else:
            self.mode = "two-way"
        if 2 <= self.n_annotators < FEW_ANNOTATORS and self.mode == "two-way":
            self.warnings.append(
                f"only {self.n_annotators} annotators: the annotator dimension of the "
                "bootstrap is coarse and intervals may be unstable"
            )

    def method(self, n_boot: int, two_way: str = "pigeonhole") -> str:
        if self.mode == "two-way" and two_way == "cgm":
            return (
                "two-way (prompt x annotator) cluster bootstrap, variance "
                "V_prompt + V_annotator - V_rating (Cameron-Gelbach-Miller form), "
                f"t(G-1) interval, B={n_boot} per scheme"
            )
        name = {
            "two-way": "two-way (prompt x annotator) pigeonhole bootstrap (Owen 2007)",
            "prompt": "prompt-cluster bootstrap",
            "annotator": "annotator-cluster bootstrap",
            "none": "no bootstrap (a single cluster)",
        }[self.mode]
        return f"{name}, percentile, B={n_boot}"


def _multiplicities(rng: np.random.Generator, n: int, n_boot: int, active: bool) -> np.ndarray:
    if not active:
        return np.ones((n_boot, n))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


TWO_WAY_METHODS: tuple[str, ...] = ("cgm", "pigeonhole")


def _replicates(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
    scheme: str,
) -> np.ndarray:
    """Bootstrap replicates (B x statistics) of ``stat(W, mp)`` under one weighting scheme.

    ``W`` (b x rows) are row weights; ``mp`` (b x prompts) the prompt multiplicities, for
    statistics that also weight prompt-level summaries. Schemes: ``"pigeonhole"`` weights a
    row by its prompt's times its annotator's multiplicity (Owen 2007); ``"prompt"`` and
    ``"annotator"`` resample one dimension; ``"rating"`` resamples rows i.i.d.
    """
    n_rows = len(clusters.prompt_codes)
    chunk = max(1, 2_000_000 // max(n_rows, 1))
    parts = []
    if scheme == "rating":
        for s in range(0, n_boot, chunk):
            b = min(chunk, n_boot - s)
            w = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=b).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                parts.append(np.atleast_2d(stat(w, np.ones((b, clusters.n_prompts)))))
        return np.vstack(parts)
    mp = _multiplicities(rng, clusters.n_prompts, n_boot, scheme in ("pigeonhole", "prompt"))
    ma = _multiplicities(rng, clusters.n_annotators, n_boot, scheme in ("pigeonhole", "annotator"))
    for s in range(0, n_boot, chunk):
        w = mp[s : s + chunk][:, clusters.prompt_codes] * ma[s : s + chunk][:, clusters.annot_codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(np.atleast_2d(stat(w, mp[s : s + chunk])))
    return np.vstack(parts)


def _bootstrap(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
) -> np.ndarray:
    """Pigeonhole replicates (or one-way ones when the design has one cluster dimension)."""
    if clusters.mode == "none" or n_boot < 1:
        return np.empty((0, 0))
    scheme = "pigeonhole" if clusters.mode == "two-way" else clusters.mode
    return _replicates(stat, clusters, rng, n_boot, scheme)


@dataclass
class _CI:
    """Per-statistic interval bounds, bootstrap SEs and the method used."""

    low: list[float | None]
    high: list[float | None]
    se: list[float | None]
    invalid: float
    method: str

    def pair(self, j: int) -> tuple[float | None, float | None]:
        return self.low[j], self.high[j]


def _cluster_ci(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    obs: np.ndarray,
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
    level: float,
    two_way: str = "cgm",
    bounds: Sequence[tuple[float, float] | None] | None = None,
) -> _CI:
    """Confidence intervals for each statistic of ``stat`` under the clustered design.

    Two-way designs (methods.md A1):

    * ``two_way="cgm"`` (default): Var = V_prompt + V_annotator - V_rating from three
      bootstraps (prompt clusters, annotator clusters, i.i.d. ratings) -- the bootstrap form
      of the Cameron, Gelbach & Miller (2011) two-way variance -- floored at
      max(V_prompt, V_annotator) as CGM advise, with a t(G - 1) interval (G = the smaller
      number of clusters). The pigeonhole
      bootstrap counts the rating-level noise three times (Owen 2007, s3): with rating
      noise dominating, its intervals were ~1.6x too wide in our simulations (100%
      coverage, little power), so it is kept only as an option.
    * ``two_way="pigeonhole"``: Owen's (2007) product-weight bootstrap, percentile interval
      (the literal methods.md recipe; conservative).

    One-way designs (few ratings per annotator, or one prompt) use the percentile interval
    of the one-way cluster bootstrap.
    """
    obs = np.atleast_1d(np.asarray(obs, dtype=float))
    m = obs.size
    empty = _CI([None] * m, [None] * m, [None] * m, 1.0, clusters.method(n_boot, two_way))
    if clusters.mode == "none" or n_boot < 1:
        return empty
    a = (1.0 - level) / 2.0
    lows: list[float | None] = []
    highs: list[float | None] = []
    ses: list[float | None] = []
    worst = 0.0
    if clusters.mode == "two-way" and two_way == "cgm":
        reps = {
            s: _replicates(stat, clusters, rng, n_boot, s)
            for s in ("prompt", "annotator", "rating")
        }
        # Few-cluster correction (Cameron, Gelbach & Miller 2008/2011): t quantile with
        # G - 1 degrees of freedom, G = the smaller cluster count.
        g = min(clusters.n_prompts, clusters.n_annotators)
        z = stats.t.ppf(1.0 - a, df=max(g - 1, 1))
        for j in range(m):
            var = {}
            bad = 0.0
            for s, r in reps.items():
                col = r[:, j]
                fin = col[np.isfinite(col)]
                bad = max(bad, 1.0 - fin.size / col.size)
                var[s] = float(fin.var(ddof=1)) if fin.size >= 20 else float("nan")
            worst = max(worst, bad)
            v = var["prompt"] + var["annotator"] - var["rating"]
            v = max(v, var["prompt"], var["annotator"])
            if bad > MAX_INVALID_REPLICATES or not math.isfinite(v) or not math.isfinite(obs[j]):
                lows.append(None)
                highs.append(None)
                ses.append(None)
                continue
            se = math.sqrt(v)
            lows.append(float(obs[j] - z * se))
            highs.append(float(obs[j] + z * se))
            ses.append(se)
    else:
        if two_way not in TWO_WAY_METHODS:
            raise ValueError(f"two_way must be one of {TWO_WAY_METHODS}")
        reps_one = _bootstrap(stat, clusters, rng, n_boot)
        for j in range(m):
            lo, hi, inv = _percentile_ci(reps_one[:, j], level)
            worst = max(worst, inv)
            fin = reps_one[:, j][np.isfinite(reps_one[:, j])]
            lows.append(lo)
            highs.append(hi)
            ses.append(float(fin.std(ddof=1)) if lo is not None else None)
    if bounds is not None:
        for j, bd in enumerate(bounds):
            if bd is not None and lows[j] is not None:
                lows[j] = max(lows[j], bd[0])
                highs[j] = min(highs[j], bd[1])
    return _CI(lows, highs, ses, worst, clusters.method(n_boot, two_way))


def _percentile_ci(reps: np.ndarray, level: float) -> tuple[float | None, float | None, float]:
    """Percentile interval of the finite replicates, and the share that were undefined."""
    if reps.size == 0:
        return None, None, 1.0
    finite = reps[np.isfinite(reps)]
    invalid = 1.0 - finite.size / reps.size
    if invalid > MAX_INVALID_REPLICATES or finite.size < 20:
        return None, None, invalid
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [a, 1.0 - a])
    return float(lo), float(hi), invalid


def _invalid_warning(invalid: float, what: str) -> list[str]:
    if invalid > 0.1:
        return [f"{100 * invalid:.0f}% of bootstrap replicates of {what} were undefined"]
    return []


def _group_sum_matrix(codes: np.ndarray, values: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    """Sparse (rows x groups) matrix with ``values`` at (row, code)."""
    n = len(codes)
    return sparse.csr_matrix((values, (np.arange(n), codes)), shape=(n, n_groups))


def _wsum(w: np.ndarray, m: sparse.csr_matrix | np.ndarray) -> np.ndarray:
    """W @ M for dense W (b x rows) and sparse or dense M (rows x g)."""
    if sparse.issparse(m):
        return np.asarray((m.T @ w.T).T)
    return w @ m


# --------------------------------------------------------------------------------------
# A2: tone premium on quality, matched variants
# --------------------------------------------------------------------------------------


def paired_tone_premium(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    quality_question: str = "quality",
    treated: str = "assertive",
    control: str = "hedged",
    match_on: Sequence[str] = ("prompt_id", "system"),
    n_bootstrap: int = 1000,
    n_permutations: int = 5000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Quality premium of the treated tone over matched control-tone variants.

    A pair is the set of outputs sharing ``match_on`` and the same ``n_known_errors``
    (so factual errors are held fixed); its difference is
    Delta_p = mean Q(treated outputs) - mean Q(control outputs), and the estimate is the mean
    of Delta_p over pairs (methods.md A2, matched design). Also reported: Delta by error
    status (with errors / error free) and the masking index M = Delta_{z=1} - Delta_{z=0}.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table (columns in the module docstring; needs tone, n_known_errors
        and the ``match_on`` columns).
    rng : numpy.random.Generator
        Randomness for the bootstrap and the randomization test.
    quality_question : str
        Question key of the Likert quality rating.
    treated, control : str
        Tone labels compared (treated minus control).
    match_on : sequence of str
        Columns that identify a content (variant group); ``n_known_errors`` is always added.
    n_bootstrap : int
        Two-way cluster bootstrap replicates (methods.md A1 uses 2000; 1000 is the report
        default).
    n_permutations : int
        Sign-flip randomization replicates.
    alpha : float
        1 - confidence level; also the test level.
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str
        Who rated, for the verdict ("crowd raters").

    Returns
    -------
    dict
        Common check keys plus n_pairs, by_error_status, masking_index, wilcoxon_p,
        t_test_p, effect_size_dz.

    Notes
    -----
    The CI is two-way clustered (:func:`_cluster_ci`): in each replicate ratings are
    reweighted by their cluster multiplicities and Delta-bar is recomputed, with pairs
    weighted by their prompt's multiplicity. The test flips the sign of each pair's Delta (the within-prompt
    randomization of tone labels in a matched design); p = (1 + #{|D*| >= |D|}) / (B + 1).
    The Wilcoxon signed-rank and paired t tests of methods.md A2 are reported alongside.
    """
    check = "tone_premium_paired"
    computed = (
        f"mean over matched pairs (same {', '.join(match_on)}, n_known_errors) of "
        f"mean quality({treated}) - mean quality({control}), in Likert points"
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    df, warn = _question_rows(
        table, quality_question, "numeric", ["tone", "n_known_errors", *match_on]
    )
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()]
    if df.empty:
        return _not_defined(
            check, computed, f"no {quality_question!r} ratings of {treated!r}/{control!r} outputs"
        )
    df = df.copy()
    df["_err"] = df["n_known_errors"].astype(float)
    keys = [*match_on, "_err"]
    df["_pair"] = df[keys].astype(str).groupby(keys, sort=True).ngroup().to_numpy()
    has_both = df.groupby("_pair")["tone"].nunique() == 2
    df = df.loc[df["_pair"].map(has_both)]
    if df.empty:
        return _not_defined(check, computed, f"no matched {treated}/{control} pairs", **_counts(df))
    df["_pair"], _ = pd.factorize(df["_pair"], sort=True)
    n_pairs = int(df["_pair"].max()) + 1
    if n_pairs < MIN_PAIRS:
        return _not_defined(
            check,
            computed,
            f"only {n_pairs} matched pairs (need >= {MIN_PAIRS})",
            n_pairs=n_pairs,
            **_counts(df),
        )
    clusters = _Clusters(df)
    warn += clusters.warnings
    if n_pairs < MIN_PAIRS_WARN:
        warn.append(f"only {n_pairs} matched pairs: the interval is rough")

    arm = (df["tone"] == treated).to_numpy().astype(int)
    pair = df["_pair"].to_numpy()
    grp = 2 * pair + arm
    y = df["y"].to_numpy()
    g_y = _group_sum_matrix(grp, y, 2 * n_pairs)
    g_n = _group_sum_matrix(grp, np.ones(len(df)), 2 * n_pairs)
    pair_prompt = pd.Series(clusters.prompt_codes).groupby(pair).first().to_numpy()
    pair_err = pd.Series(df["_err"].to_numpy() > 0).groupby(pair).first().to_numpy()

    def pair_deltas(w: np.ndarray) -> np.ndarray:
        s = _wsum(w, g_y)
        n = _wsum(w, g_n)
        mean = s / n
        return mean[:, 1::2] - mean[:, 0::2]

    def summarise(delta: np.ndarray, wp: np.ndarray) -> np.ndarray:
        ok = np.isfinite(delta) & (wp > 0)
        d = np.where(ok, delta, 0.0)
        ww = np.where(ok, wp, 0.0)
        out = []
        for mask in (np.ones(n_pairs, bool), pair_err, ~pair_err):
            num = (d[:, mask] * ww[:, mask]).sum(axis=1)
            den = ww[:, mask].sum(axis=1)
            out.append(num / den)
        out.append(out[1] - out[2])
        return np.column_stack(out)

    def stat(w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        return summarise(pair_deltas(w), mp[:, pair_prompt])

    obs_delta = pair_deltas(np.ones((1, len(df))))[0]
    obs = summarise(obs_delta[None, :], np.ones((1, n_pairs)))[0]
    level = 1.0 - alpha
    ci_res = _cluster_ci(stat, obs, clusters, rng, n_bootstrap, level, two_way)

    # Sign-flip randomization: under "tone has no effect" each pair's labels are exchangeable.
    subsets = (np.ones(n_pairs, bool), pair_err, ~pair_err)
    exceed = np.zeros(3)
    # Chunked so that memory stays bounded (permutations x pairs) on large studies.
    step = max(1, 2_000_000 // n_pairs)
    for s0 in range(0, n_permutations, step):
        flips = rng.choice(np.array([-1.0, 1.0]), size=(min(step, n_permutations - s0), n_pairs))
        for i, mask in enumerate(subsets):
            if mask.any():
                dm = obs_delta[mask]
                null = (flips[:, mask] * dm).mean(axis=1)
                exceed[i] += np.sum(np.abs(null) >= abs(dm.mean()) - 1e-12)
    p_values = [
        float((1 + exceed[i]) / (n_permutations + 1)) if mask.any() else None
        for i, mask in enumerate(subsets)
    ]

    cis = [ci_res.pair(j) for j in range(4)]
    warn += _invalid_warning(ci_res.invalid, "the tone premium")

    try:
        wilcoxon_p = float(stats.wilcoxon(obs_delta).pvalue)
    except ValueError:
        wilcoxon_p = None
    sd = float(np.std(obs_delta, ddof=1)) if n_pairs > 1 else float("nan")
    t_p = float(stats.ttest_1samp(obs_delta, 0.0).pvalue) if sd > 0 else None
    dz = obs[0] / sd if sd > 0 else None

    def sub(j: int, name: str, mask: np.ndarray, p: float | None) -> dict[str, Any]:
        n = int(mask.sum())
        if n < MIN_PAIRS:
            return {
                "estimate": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "n_pairs": n,
                "reason": f"only {n} {name} pairs (need >= {MIN_PAIRS})",
            }
        return {
            "estimate": _f(obs[j]),
            "ci_low": cis[j][0],
            "ci_high": cis[j][1],
            "p_value": p,
            "n_pairs": n,
            "reason": None,
        }

    by_status = {
        "with_errors": sub(1, "with-error", pair_err, p_values[1]),
        "error_free": sub(2, "error-free", ~pair_err, p_values[2]),
    }
    m_defined = pair_err.sum() >= MIN_PAIRS and (~pair_err).sum() >= MIN_PAIRS
    masking = {
        "computed": "Delta(with errors) - Delta(error free); > 0 means the assertive tone helps wrong answers more",
        "estimate": _f(obs[3]) if m_defined else None,
        "ci_low": cis[3][0] if m_defined else None,
        "ci_high": cis[3][1] if m_defined else None,
        "reason": None if m_defined else "needs >= 5 pairs in each error status",
    }
    lo, hi = cis[0]
    verdict = (
        f"{label} gave {treated} answers {obs[0]:+.2f} {_fmt_ci(lo, hi)} quality points "
        f"relative to {control} versions of the same content with the same errors "
        f"({n_pairs} pairs; sign-flip {_fmt_p(p_values[0])})"
    )
    w_err = by_status["with_errors"]
    w_ok = by_status["error_free"]
    if w_err["estimate"] is not None and w_ok["estimate"] is not None:
        verdict += (
            f"; {w_err['estimate']:+.2f} on answers with errors vs "
            f"{w_ok['estimate']:+.2f} on error-free ones"
        )
    flags = []
    if lo is not None and (lo > 0 or hi < 0):
        flags.append("tone_premium")
    if masking["estimate"] is not None and masking["ci_low"] is not None and masking["ci_low"] > 0:
        flags.append("tone_masks_errors")
    return _result(
        check,
        computed,
        estimate=obs[0],
        ci=(lo, hi),
        level=level,
        ci_method=ci_res.method,
        p_value=p_values[0],
        test=f"sign-flip randomization of matched-pair differences (within prompt), B={n_permutations}",
        null_value=0.0,
        counts=_counts(df),
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        n_pairs=n_pairs,
        by_error_status=by_status,
        masking_index=masking,
        wilcoxon_p=wilcoxon_p,
        t_test_p=t_p,
        effect_size_dz=dz,
    )


def _validate_common(n_bootstrap: int, alpha: float, rng: Any, two_way: str = "cgm") -> None:
    if two_way not in TWO_WAY_METHODS:
        raise ValueError(f"two_way must be one of {TWO_WAY_METHODS}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if int(n_bootstrap) < 0:
        raise ValueError("n_bootstrap must be >= 0")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")


# --------------------------------------------------------------------------------------
# A2 (general design): mixed model with crossed random effects
# --------------------------------------------------------------------------------------


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
                reasons.append(f"MixedLM failed ({method}): {exc}")
                continue
        messages = sorted(
            {
                str(w.message).split("\n")[0]
                for w in caught
                if issubclass(w.category, ConvergenceWarning)
            }
        )
        fe = np.asarray(res.fe_params)
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

    res = smf.ols(formula, data).fit()
    g1 = pd.factorize(data["prompt_id"].astype(str))[0]
    g2 = pd.factorize(data["annotator_id"].astype(str))[0]
    cov, _, _ = cov_cluster_2groups(res, g1, g2)
    note = "two-way cluster-robust (prompt x annotator)"
    if np.any(np.diag(cov) <= 0):
        # The additive two-way formula can be non-PSD in small samples; fall back one-way.
        cov = cov_cluster(res, g1)
        note = "prompt-cluster-robust (two-way covariance was not positive)"
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

    References
    ----------
    Baayen, Davidson & Bates (2008), Mixed-effects modeling with crossed random effects,
    J. Memory and Language 59:390-412. Cameron, Gelbach & Miller (2011), Robust inference with
    multiway clustering, J. Business & Economic Statistics 29:238-249.
    """
    check = "tone_premium_mixed_model"
    computed = (
        f"REML MixedLM quality ~ tone({treated} vs {control})"
        + (" * n_known_errors" if interaction else " + n_known_errors")
        + (" + z(log length)" if include_length else "")
        + " with crossed random intercepts for annotator, prompt and item"
    )
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    extra_cols = ["tone", "n_known_errors"] + (["output_length"] if include_length else [])
    df, warn = _question_rows(table, quality_question, "numeric", extra_cols)
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()].copy()
    if include_length:
        df = df.loc[pd.to_numeric(df["output_length"], errors="coerce") > 0]
    counts = _counts(df)
    if len(df) < MIN_RATINGS or df["tone"].nunique() < 2:
        return _not_defined(check, computed, "too few ratings in both tone conditions", **counts)
    if df["y"].nunique() < 2:
        # Every rating the same: nothing to model, and MixedLM would grind through all
        # four optimisers (minutes) before the OLS fallback divides by zero.
        return _not_defined(check, computed, "every quality rating is the same", **counts)
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
    formula = "y ~ " + rhs
    vc = {
        "annotator": "0 + C(_annot)",
        "prompt": "0 + C(_prompt)",
        "item": "0 + C(_item)",
    }
    names = {"intercept": "Intercept", "tone": "T", "n_known_errors": "E", "tone_x_errors": "T:E"}
    if include_length:
        names["log_length_z"] = "L"

    method = "mixedlm"
    res = None
    reason = None
    if len(df) > max_rows:
        reason = f"{len(df)} rows > max_rows={max_rows}: MixedLM skipped as too slow"
    else:
        res, notes, reason = _fit_crossed_mixedlm(df, formula, vc)
        warn += notes
    if res is not None:
        params = res.fe_params
        cov = res.cov_params().loc[params.index, params.index]
        vcomp = {
            name: _f(math.sqrt(max(float(v), 0.0)))
            for name, v in zip(res.model.exog_vc.names, np.asarray(res.vcomp), strict=True)
        }
        vcomp["residual"] = _f(math.sqrt(float(res.scale)))
        converged = True
    else:
        method = "ols_annotator_fe_two_way_cluster"
        fb_formula = formula + " + C(_annot)"
        try:
            params, cov, note = _ols_two_way(df, fb_formula)
        except (ValueError, np.linalg.LinAlgError) as exc:
            return _not_defined(
                check, computed, f"{reason}; OLS fallback failed too: {exc}", **counts
            )
        warn.append(f"fallback used: OLS with annotator fixed effects, {note} SEs ({reason})")
        vcomp = {}
        converged = False
    coefs = _coef_table(params, cov, names, alpha)
    if pool_terms:
        for idx in params.index:
            if idx.startswith("T:C(_pool)"):
                coefs["tone_x_" + idx.split("[T.")[-1].rstrip("]")] = _coef_table(
                    params, cov, {"x": idx}, alpha
                )["x"]
    tone = coefs.get("tone", {})
    est = tone.get("estimate")
    lo, hi = tone.get("ci_low"), tone.get("ci_high")

    # Exchange rate rho = b_T / |b_E| by the delta method.
    exchange: dict[str, Any] = {"estimate": None, "ci_low": None, "ci_high": None}
    if "E" in params.index and abs(float(params["E"])) > 1e-8:
        bt, be = float(params["T"]), float(params["E"])
        rho = bt / abs(be)
        grad = np.array([1 / abs(be), -bt * np.sign(be) / be**2])
        v = float(grad @ cov.loc[["T", "E"], ["T", "E"]].to_numpy() @ grad)
        z = stats.norm.ppf(1 - alpha / 2)
        se = math.sqrt(v) if v > 0 else float("nan")
        exchange = {"estimate": _f(rho), "ci_low": _f(rho - z * se), "ci_high": _f(rho + z * se)}
    exchange["computed"] = "rho = b_T / |b_E|: share of one error's penalty that the tone buys back"
    combo = {"T": 1.0, "E": 1.0}
    if "T:E" in params.index:
        combo["T:E"] = 1.0
    critical = _linear_combo(params, cov, combo, alpha) if "E" in params.index else {}
    critical["computed"] = (
        f"C = E[Q | {treated}, 1 error] - E[Q | {control}, 0 errors] = b_T + b_E (+ b_TE)"
    )
    flags = []
    if lo is not None and lo > 0 and (exchange.get("estimate") or 0) >= 0.5:
        flags.append("tone_premium")
    if critical.get("ci_low") is not None and critical["ci_low"] > 0:
        flags.append("tone_premium_critical")
    be_txt = coefs.get("n_known_errors", {}).get("estimate")
    verdict = (
        f"{label}: holding errors fixed, {treated} tone shifts quality by "
        f"{_fmt_num(est)} {_fmt_ci(lo, hi)} points"
        + (f" vs {_fmt_num(be_txt)} per known error" if be_txt is not None else "")
        + f" ({'mixed model' if method == 'mixedlm' else 'OLS fallback'}, {_fmt_p(tone.get('p_value'))})"
    )
    out = _result(
        check,
        computed,
        estimate=est,
        ci=(lo, hi),
        level=1 - alpha,
        ci_method="Wald, REML MixedLM covariance"
        if method == "mixedlm"
        else "Wald, two-way cluster-robust covariance",
        p_value=tone.get("p_value"),
        test="Wald z test of b_T",
        null_value=0.0,
        counts=counts,
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        method=method,
        converged=converged,
        mixedlm_failure=reason,
        coefficients=coefs,
        variance_components_sd=vcomp,
        exchange_rate=exchange,
        critical_contrast=critical,
    )
    if not converged:
        # Keep the fallback numbers but say plainly that the requested model did not fit.
        out["defined"] = out["estimate"] is not None
        out["reason"] = f"MixedLM not used: {reason}"
    return out


def _fmt_num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


# --------------------------------------------------------------------------------------
# A3: perceived assertiveness (observational)
# --------------------------------------------------------------------------------------


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
    check = "perceived_assertiveness"
    computed = (
        "quality on standardized output-mean perceived assertiveness, controlling "
        "n_known_errors (observational, confounded)"
    )
    _validate_common(n_bootstrap, alpha, rng)
    q, warn = _question_rows(table, quality_question, "numeric", ["n_known_errors", "output_id"])
    a, warn_a = _question_rows(table, assertiveness_question, "numeric", ["output_id"])
    warn += warn_a
    if q.empty or a.empty:
        return _not_defined(check, computed, "no quality or assertiveness ratings")
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
        return _not_defined(check, computed, "too few outputs rated on both questions", **counts)

    # Manipulation check on output-level means.
    manip: dict[str, Any] = {
        "computed": "Cohen's d of output-mean perceived assertiveness, treated vs control"
    }
    if "tone" in a.columns:
        out_tone = a.groupby("output_id").agg(
            A=("y", "mean"), tone=("tone", "first"), prompt_id=("prompt_id", "first")
        )
        out_tone = out_tone.loc[out_tone["tone"].isin([treated, control])]
        if out_tone["tone"].nunique() == 2 and len(out_tone) >= 4:
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
            mp = rng.multinomial(n_p, np.full(n_p, 1 / n_p), size=n_bootstrap).astype(float)
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
        else:
            manip.update({"estimate": None, "reason": "both tone conditions needed"})
    else:
        manip.update({"estimate": None, "reason": "no tone column"})

    item = q.groupby("output_id")["y"].mean().to_frame("Q").join(a_out.rename("A"))
    if len(item) >= 3 and item["A"].std() > 0 and item["Q"].std() > 0:
        sp = stats.spearmanr(item["A"], item["Q"])
        spearman = {"rho": _f(sp.statistic), "p_value": _f(sp.pvalue), "n_outputs": len(item)}
    else:
        spearman = {
            "rho": None,
            "p_value": None,
            "n_outputs": len(item),
            "reason": "constant or too few items",
        }

    est = lo = hi = p = None
    method = None
    if fit_model:
        q["A_z"] = q["output_id"].map(a_out)
        sd = q["A_z"].std()
        if sd > 0:
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
            res, notes, reason = _fit_crossed_mixedlm(
                q,
                formula,
                {"annotator": "0 + C(_annot)", "prompt": "0 + C(_prompt)", "item": "0 + C(_item)"},
            )
            warn += notes
            if res is not None:
                params = res.fe_params
                cov = res.cov_params().loc[params.index, params.index]
                c = _coef_table(params, cov, {"a": "A_z"}, alpha)["a"]
                est, lo, hi, p = c["estimate"], c["ci_low"], c["ci_high"], c["p_value"]
                method = "mixedlm"
            else:
                warn.append(f"mixed model not fitted: {reason}")
        else:
            warn.append("perceived assertiveness is constant: no model")
    flags = []
    if manip.get("manipulation_failed"):
        flags.append("manipulation_failed")
    verdict = (
        f"{label}: manipulation check d = {_fmt_num(manip.get('estimate'))} "
        f"{_fmt_ci(manip.get('ci_low'), manip.get('ci_high'))}"
    )
    if est is not None:
        verdict += (
            f"; +1 SD perceived assertiveness goes with {_fmt_num(est)} {_fmt_ci(lo, hi)} "
            "quality points at fixed error count (association only: perceived "
            "assertiveness is confounded with content)"
        )
    else:
        verdict += "; quality-on-assertiveness model not fitted"
    res_dict = _result(
        check,
        computed,
        estimate=est,
        ci=(lo, hi),
        level=1 - alpha,
        ci_method="Wald, REML MixedLM covariance" if method else "none",
        p_value=p,
        test="Wald z test of the assertiveness slope" if method else None,
        null_value=0.0,
        counts=counts,
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        confounded=True,
        manipulation_check=manip,
        spearman=spearman,
    )
    if est is None:
        res_dict["reason"] = "mixed model not fitted" if fit_model else "model not requested"
    return res_dict


# --------------------------------------------------------------------------------------
# A1: error detection by tone
# --------------------------------------------------------------------------------------


def _loglinear_dprime(
    hits: np.ndarray, n1: np.ndarray, fas: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """d' and criterion c with the Hautus (1995) log-linear correction.

    HR = (hits + 0.5)/(N1 + 1), FA = (fa + 0.5)/(N0 + 1); d' = z(HR) - z(FA),
    c = -(z(HR) + z(FA))/2 (Macmillan & Creelman 2005).
    """
    zh = stats.norm.ppf((hits + 0.5) / (n1 + 1.0))
    zf = stats.norm.ppf((fas + 0.5) / (n0 + 1.0))
    return zh - zf, -0.5 * (zh + zf)


def error_detection_by_tone(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    error_flag_question: str = "has_factual_error",
    treated: str = "assertive",
    control: str = "hedged",
    n_bootstrap: int = 1000,
    n_permutations: int = 5000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Per-rating hit rate on known-error outputs and false-alarm rate on clean ones, by tone.

    The reference is the design's ``n_known_errors`` (z = 1 if > 0). Per tone t:
    HR_t = sum_{r: z=1} y_r / N_{z=1}, FA_t = sum_{r: z=0} y_r / N_{z=0}, d' and c with the
    log-linear correction. The tone detection gap is Delta HR = HR_control - HR_treated
    (positive = the treated tone hides errors), with Delta d' and Delta c (methods.md A1).

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with tone and n_known_errors.
    rng : numpy.random.Generator
    error_flag_question : str
        Binary question key (1 = rater says the output has a factual error).
    treated, control : str
        Tone labels.
    n_bootstrap, n_permutations : int
    alpha : float
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str
        Who rated, e.g. "crowd raters", used in the verdict.

    Returns
    -------
    dict
        Common check keys (estimate = Delta HR) plus by_tone (HR, FA, miss rate, d', c
        with CIs, N1, N0, positive/negative outputs, item-level majority and any-flag recall,
        majority precision), d_prime_gap, criterion_gap, flags (methods.md A5).

    Notes
    -----
    CIs: two-way (prompt x annotator) clustered, see :func:`_cluster_ci`. Test of Delta HR:
    tone labels of known-error outputs are permuted within prompt and matched content
    (prompt x system x error count when those columns exist) -- the randomization of
    methods.md A1 -- and p = (1 + #{|D*| >= |D|}) / (B + 1).
    Per-rating rates are primary; aggregating flags by majority first hides the effect
    (methods.md s8), so item-level rates are descriptive only and name their rule.
    """
    check = "error_detection_by_tone"
    computed = (
        f"per-rating hit rate on known-error outputs, {control} minus {treated} "
        "(positive = errors in the treated tone are missed more)"
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    df, warn = _question_rows(table, error_flag_question, "binary", ["tone", "n_known_errors"])
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()].copy()
    if df.empty:
        return _not_defined(
            check, computed, f"no {error_flag_question!r} ratings with tone and known errors"
        )
    df["_z"] = df["n_known_errors"].astype(float) > 0
    out_col = "output_id" if "output_id" in df.columns else "unit_id"
    pos_out = {
        t: df.loc[df["_z"] & (df["tone"] == t), out_col].nunique() for t in (treated, control)
    }
    neg_out = {
        t: df.loc[~df["_z"] & (df["tone"] == t), out_col].nunique() for t in (treated, control)
    }
    counts = _counts(df)
    if min(pos_out.values()) < MIN_POSITIVE_OUTPUTS:
        return _not_defined(
            check,
            computed,
            f"too few known-error outputs per tone ({pos_out}; need >= {MIN_POSITIVE_OUTPUTS})",
            flags=["insufficient_data"],
            **counts,
        )
    flags: list[str] = []
    if min(pos_out.values()) < MIN_POSITIVE_OUTPUTS_WARN:
        flags.append("insufficient_data")
        warn.append(
            f"fewer than {MIN_POSITIVE_OUTPUTS_WARN} known-error outputs per tone arm ({pos_out}); "
            "methods.md A5: detecting HR 0.25 vs 0.13 needs ~167 per arm"
        )
    ratings_per_output = df.groupby(out_col).size()
    if ratings_per_output.median() < 2:
        warn.append("fewer than 2 ratings per output: item-level rates are degenerate")
    clusters = _Clusters(df)
    warn += clusters.warnings

    y = df["y"].to_numpy()
    z = df["_z"].to_numpy()
    is_t = (df["tone"] == treated).to_numpy()
    cols = []
    for tone_mask in (is_t, ~is_t):
        cols += [
            y * (z & tone_mask),
            1.0 * (z & tone_mask),
            y * (~z & tone_mask),
            1.0 * (~z & tone_mask),
        ]
    x = np.column_stack(cols)

    def derive(s: np.ndarray) -> np.ndarray:
        # s: b x 8 -> HR_t, FA_t, d'_t, c_t, HR_c, FA_c, d'_c, c_c, gapHR, gapd', gapc, FA gap
        hit_t, n1_t, fa_t, n0_t, hit_c, n1_c, fa_c, n0_c = s.T
        hr_t, far_t = hit_t / n1_t, fa_t / n0_t
        hr_c, far_c = hit_c / n1_c, fa_c / n0_c
        d_t, c_t = _loglinear_dprime(hit_t, n1_t, fa_t, n0_t)
        d_c, c_c = _loglinear_dprime(hit_c, n1_c, fa_c, n0_c)
        return np.column_stack(
            [
                hr_t,
                far_t,
                d_t,
                c_t,
                hr_c,
                far_c,
                d_c,
                c_c,
                hr_c - hr_t,
                d_c - d_t,
                c_c - c_t,
                far_c - far_t,
            ]
        )

    with np.errstate(divide="ignore", invalid="ignore"):
        obs = derive(x.sum(axis=0)[None, :])[0]
    level = 1 - alpha
    unit, signed = (0.0, 1.0), (-1.0, 1.0)
    ci_res = _cluster_ci(
        lambda w, mp: derive(w @ x),
        obs,
        clusters,
        rng,
        n_bootstrap,
        level,
        two_way,
        bounds=[unit, unit, None, None, unit, unit, None, None, signed, None, None, signed],
    )
    ci = {j: ci_res.pair(j) for j in range(obs.size)}
    warn += _invalid_warning(ci_res.invalid, "detection rates")

    # Randomization test of Delta HR among known-error outputs.
    pos = df.loc[df["_z"]]
    strata_cols = [c for c in ("prompt_id", "system", "n_known_errors") if c in pos.columns]
    per_out = pos.groupby(out_col).agg(
        hits=("y", "sum"),
        n=("y", "size"),
        treated=("tone", lambda s: s.iloc[0] == treated),
        **{f"_s{i}": (c, "first") for i, c in enumerate(strata_cols)},
    )
    s_cols = [f"_s{i}" for i in range(len(strata_cols))]
    strata = (
        per_out[s_cols].astype(str).groupby(s_cols, sort=True).ngroup().to_numpy()
        if s_cols
        else np.zeros(len(per_out), dtype=int)
    )
    order = np.argsort(strata, kind="stable")
    hits_o = per_out["hits"].to_numpy()[order]
    n_o = per_out["n"].to_numpy()[order].astype(float)
    lab_o = per_out["treated"].to_numpy()[order].astype(bool)
    strata_o = strata[order]
    gap_parts = []
    step = max(1, 2_000_000 // max(len(strata_o), 1))
    for s0 in range(0, n_permutations, step):
        b = min(step, n_permutations - s0)
        keys = strata_o[None, :] * 2.0 + rng.random((b, len(strata_o)))
        perm = np.argsort(keys, axis=1)
        # perm[b, j] is the output receiving the j-th label of the stratum-sorted labels.
        new_lab = np.empty_like(perm, dtype=bool)
        np.put_along_axis(new_lab, perm, np.broadcast_to(lab_o, perm.shape), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            hr_t_null = (new_lab * hits_o).sum(1) / (new_lab * n_o).sum(1)
            hr_c_null = (~new_lab * hits_o).sum(1) / (~new_lab * n_o).sum(1)
        gap_parts.append(hr_c_null - hr_t_null)
    gap_null = np.concatenate(gap_parts) if gap_parts else np.empty(0)
    gap_obs = obs[8]
    n_strata_mixed = pd.Series(lab_o).groupby(strata_o).nunique().gt(1).sum()
    if n_strata_mixed == 0:
        p_gap = None
        warn.append("no stratum holds both tones: no randomization test")
    else:
        p_gap = float((1 + np.sum(np.abs(gap_null) >= abs(gap_obs) - 1e-12)) / (n_permutations + 1))

    # Item-level (aggregated) rates: descriptive, with their rule named.
    item = df.groupby(out_col).agg(
        share=("y", "mean"), any=("y", "max"), z=("_z", "first"), tone=("tone", "first")
    )
    item["majority"] = item["share"] > 0.5

    def item_stats(t: str) -> dict[str, Any]:
        it = item.loc[item["tone"] == t]
        posi = it.loc[it["z"]]
        flagged = it.loc[it["majority"]]
        return {
            "majority_recall": _f(posi["majority"].mean()) if len(posi) else None,
            "any_flag_recall": _f(posi["any"].mean()) if len(posi) else None,
            "majority_precision": _f(flagged["z"].mean()) if len(flagged) else None,
            "majority_flag_rate": _f(it["majority"].mean()) if len(it) else None,
            "reference_error_rate": _f(it["z"].mean()) if len(it) else None,
            "rule": "item flagged if share of flags > 1/2",
        }

    def tone_block(t: str, j0: int) -> dict[str, Any]:
        mask = is_t if t == treated else ~is_t
        hr, fa, dp, c = obs[j0 : j0 + 4]
        return {
            "hit_rate": _f(hr),
            "hit_rate_ci": [ci[j0][0], ci[j0][1]],
            "miss_rate": _f(1 - hr),
            "miss_rate_ci": [
                None if ci[j0][1] is None else 1 - ci[j0][1],
                None if ci[j0][0] is None else 1 - ci[j0][0],
            ],
            "false_alarm_rate": _f(fa),
            "false_alarm_rate_ci": [ci[j0 + 1][0], ci[j0 + 1][1]],
            "d_prime": _f(dp),
            "d_prime_ci": [ci[j0 + 2][0], ci[j0 + 2][1]],
            "criterion_c": _f(c),
            "criterion_c_ci": [ci[j0 + 3][0], ci[j0 + 3][1]],
            "n_ratings_known_error": int((mask & z).sum()),
            "n_ratings_clean": int((mask & ~z).sum()),
            "n_known_error_outputs": int(pos_out[t]),
            "n_clean_outputs": int(neg_out[t]),
            "flags_uninformative": bool(
                ci[j0 + 2][0] is not None and ci[j0 + 2][0] <= 0 <= ci[j0 + 2][1]
            ),
            "item_level": item_stats(t),
        }

    by_tone = {treated: tone_block(treated, 0), control: tone_block(control, 4)}
    lo, hi = ci[8]
    if lo is not None and lo > 0:
        flags.append("tone_masks_errors")
    elif gap_obs >= 0.10:
        flags.append("tone_masks_errors_warning")
    if any(b["flags_uninformative"] for b in by_tone.values()):
        flags.append("flags_uninformative")
    bt, bc = by_tone[treated], by_tone[control]
    verdict = (
        f"{label} missed {_pct(bt['miss_rate'])} {_pct_ci(*bt['miss_rate_ci'])} of errors in "
        f"{treated} answers vs {_pct(bc['miss_rate'])} {_pct_ci(*bc['miss_rate_ci'])} in "
        f"{control} ones (hit-rate gap {control} - {treated} {gap_obs:+.2f} {_fmt_ci(lo, hi)}, "
        f"{_fmt_p(p_gap)}); false alarms on clean answers {_pct(bt['false_alarm_rate'])} "
        f"{_pct_ci(*bt['false_alarm_rate_ci'])} ({treated}) vs {_pct(bc['false_alarm_rate'])} "
        f"{_pct_ci(*bc['false_alarm_rate_ci'])} ({control}); d' {bt['d_prime']:.2f} vs {bc['d_prime']:.2f}"
    )
    return _result(
        check,
        computed,
        estimate=gap_obs,
        ci=(lo, hi),
        level=level,
        ci_method=ci_res.method,
        p_value=p_gap,
        test=(
            "randomization test: tone labels of known-error outputs permuted within "
            f"{' x '.join(strata_cols) or 'all outputs'}, B={n_permutations}"
        ),
        null_value=0.0,
        counts=counts,
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        reference="design n_known_errors > 0 (injected/known errors)",
        by_tone=by_tone,
        d_prime_gap={"estimate": _f(obs[9]), "ci_low": ci[9][0], "ci_high": ci[9][1]},
        criterion_gap={"estimate": _f(obs[10]), "ci_low": ci[10][0], "ci_high": ci[10][1]},
        false_alarm_gap={"estimate": _f(obs[11]), "ci_low": ci[11][0], "ci_high": ci[11][1]},
    )


# --------------------------------------------------------------------------------------
# B5: position bias (pairwise)
# --------------------------------------------------------------------------------------


def position_bias(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    preference_question: str = "preference",
    first_label: str = "A",
    second_label: str = "B",
    tie_labels: Sequence[str] = ("tie", "both_bad"),
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Share of non-tie pairwise judgements won by the first-shown output; tie rate.

    PB = P(first position wins | no tie) - 1/2 (methods.md B5). With counterbalanced or
    randomized order, merit differences cancel and the share is 1/2 without position bias.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table with the preference question ("A" = shown first).
    rng : numpy.random.Generator
    preference_question : str
    first_label, second_label : str
        Labels meaning "the output in position 1 / 2 won".
    tie_labels : sequence of str
        Labels counted as ties (excluded from the share, reported as tie rate).
    n_bootstrap : int
    alpha : float
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str

    Returns
    -------
    dict
        Common check keys (estimate = share of first-position wins, null 0.5) plus
        position_bias (share - 1/2), tie_rate with CI, binomial test, Wilson interval,
        order_balance.

    Notes
    -----
    The CI is a two-way (prompt x annotator) cluster bootstrap, because one annotator's
    judgements are not independent (Hosking's busiest rater did 173 pairs); the exact
    binomial test (``scipy.stats.binomtest``) and Wilson interval assume independent
    judgements and are reported for reference. ``flagged`` uses the clustered CI.
    """
    check = "position_bias"
    computed = "share of non-tie judgements won by the first-shown output (0.5 = no bias)"
    _validate_common(n_bootstrap, alpha, rng, two_way)
    df, warn = _question_rows(table, preference_question, "categorical")
    if df.empty:
        return _not_defined(check, computed, f"no {preference_question!r} judgements")
    known = {first_label, second_label, *tie_labels}
    bad = set(df["y"]) - known
    if bad:
        raise ValueError(f"question {preference_question!r}: unexpected labels {sorted(bad)}")
    first = (df["y"] == first_label).to_numpy().astype(float)
    second = (df["y"] == second_label).to_numpy().astype(float)
    tie = 1.0 - first - second
    counts = _counts(df)
    n_first, n_nontie = int(first.sum()), int(first.sum() + second.sum())
    if n_nontie < MIN_RATINGS:
        return _not_defined(check, computed, f"only {n_nontie} non-tie judgements", **counts)
    clusters = _Clusters(df)
    warn += clusters.warnings
    x = np.column_stack([first, first + second, tie])

    def derive(s: np.ndarray) -> np.ndarray:
        return np.column_stack([s[:, 0] / s[:, 1], s[:, 2] / (s[:, 1] + s[:, 2])])

    obs = derive(x.sum(0)[None, :])[0]
    level = 1 - alpha
    ci_res = _cluster_ci(
        lambda w, mp: derive(w @ x),
        obs,
        clusters,
        rng,
        n_bootstrap,
        level,
        two_way,
        bounds=[(0.0, 1.0), (0.0, 1.0)],
    )
    (lo, hi), (tlo, thi) = ci_res.pair(0), ci_res.pair(1)
    warn += _invalid_warning(ci_res.invalid, "the first-position share")
    bt = stats.binomtest(n_first, n_nontie, 0.5)
    wilson = bt.proportion_ci(confidence_level=level, method="wilson")

    balance: dict[str, Any] = {"checked": False}
    if "shown_order" in df.columns and df["shown_order"].notna().all():
        try:
            orders = df["shown_order"].map(lambda s: tuple(map(str, s)))
            canonical = orders.map(lambda s: s == tuple(sorted(s)))
            n_can = int(canonical.sum())
            bal_p = float(stats.binomtest(n_can, len(df), 0.5).pvalue)
            balance = {
                "checked": True,
                "share_canonical_order": _f(n_can / len(df)),
                "p_value": bal_p,
            }
            if bal_p < 0.01:
                warn.append(
                    "shown order is not balanced across judgements: merit differences may "
                    "masquerade as position bias"
                )
        except TypeError:
            warn.append("shown_order is not a sequence: order balance not checked")
    else:
        warn.append("shown_order missing: counterbalancing could not be checked")
    flags = []
    if lo is not None and (lo > 0.5 or hi < 0.5):
        flags.append("position_bias")
    if (lo is not None and (lo > 0.5 or hi < 0.5)) != (bt.pvalue < alpha):
        warn.append(
            "the clustered CI and the (independence-assuming) binomial test disagree; "
            "trust the clustered CI"
        )
    verdict = (
        f"{label} chose the first-shown answer in {_pct(obs[0])} {_pct_ci(lo, hi)} of "
        f"{n_nontie} non-tie judgements (50% = no position bias; binomial {_fmt_p(bt.pvalue)}); "
        f"ties {_pct(obs[1])}"
    )
    return _result(
        check,
        computed,
        estimate=obs[0],
        ci=(lo, hi),
        level=level,
        ci_method=ci_res.method,
        p_value=float(bt.pvalue),
        test="exact binomial test vs 0.5 (scipy.stats.binomtest; assumes independent judgements)",
        null_value=0.5,
        counts=counts,
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        position_bias=_f(obs[0] - 0.5),
        n_first_wins=n_first,
        n_non_tie=n_nontie,
        tie_rate={"estimate": _f(obs[1]), "ci_low": tlo, "ci_high": thi},
        wilson_ci=[_f(wilson.low), _f(wilson.high)],
        order_balance=balance,
        tie_policy="ties excluded from the share; reported as tie rate",
    )


# --------------------------------------------------------------------------------------
# A2/B5: length bias
# --------------------------------------------------------------------------------------


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
    rng : numpy.random.Generator
    quality_question, length_column : str
    adjust_for_tone : bool
        Add tone dummies when a tone column exists.
    n_bootstrap : int
    alpha : float
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str

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
    ``cluster_robust``, over-rejected in our few-cluster simulations). Length is observational: it can
    carry content (longer answers may be better), so "length bias" means association at
    fixed error count, not a causal effect, unless lengths were manipulated.
    """
    check = "length_bias"
    computed = (
        "OLS slope of quality on standardized log output length (per SD), "
        "controlling n_known_errors" + (" and tone" if adjust_for_tone else "")
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    df, warn = _question_rows(table, quality_question, "numeric", [length_column, "n_known_errors"])
    df = df.loc[df["n_known_errors"].notna()].copy()
    df["_len"] = pd.to_numeric(df[length_column], errors="coerce")
    bad = df["_len"].isna() | (df["_len"] <= 0)
    if bad.any():
        warn.append(f"{int(bad.sum())} ratings without a positive length were dropped")
        df = df.loc[~bad]
    counts = _counts(df)
    if len(df) < MIN_RATINGS:
        return _not_defined(check, computed, "too few rated outputs with a length", **counts)
    # Standardise over the rated population (ratings); the bootstrap recomputes the SD in
    # every replicate so that the uncertainty of the scale is in the interval too (without
    # it, coverage of a planted slope was ~91% instead of 95% in our simulations).
    log_len = np.log(df["_len"].to_numpy(dtype=float))
    sd = float(log_len.std())
    if not sd > 1e-12:
        return _not_defined(check, computed, "all outputs have the same length", **counts)
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
    y = df["y"].to_numpy()
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return _not_defined(
            check, computed, "collinear design (length constant within covariates)", **counts
        )
    clusters = _Clusters(df)
    warn += clusters.warnings

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

    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    est = float(beta[1]) * sd
    ci_res = _cluster_ci(slope, np.array([est]), clusters, rng, n_bootstrap, 1 - alpha, two_way)
    lo, hi = ci_res.pair(0)
    boot_se = ci_res.se[0]
    warn += _invalid_warning(ci_res.invalid, "the length slope")

    # The test uses the same clustered SE as the interval; the analytic two-way
    # cluster-robust Wald test is reported too but over-rejected (~10% at alpha = .05 in our
    # null simulations with 30 prompts), as few-cluster sandwich estimators do.
    p = float(2 * stats.norm.sf(abs(est) / boot_se)) if boot_se else None
    robust: dict[str, Any] = {}
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
        robust = {
            "se": _f(se),
            "p_value": float(2 * stats.norm.sf(abs(est / se))),
            "clusters": kind,
        }
    except (ValueError, np.linalg.LinAlgError) as exc:
        robust = {"se": None, "p_value": None, "reason": str(exc)}
    factor = math.exp(sd)
    warn.append("length is observational: the slope is an association at fixed error count")
    verdict = (
        f"{label}: an output {factor:.2f}x longer (+1 SD of log length) got "
        f"{est:+.2f} {_fmt_ci(lo, hi)} quality points at the same known-error count "
        f"({_fmt_p(p)})"
    )
    flags = ["length_bias"] if lo is not None and (lo > 0 or hi < 0) else []
    return _result(
        check,
        computed,
        estimate=est,
        ci=(lo, hi),
        level=1 - alpha,
        ci_method=ci_res.method,
        p_value=p,
        test="z test with the clustered bootstrap SE",
        null_value=0.0,
        counts=counts,
        verdict=verdict,
        warnings_=warn,
        flags=flags,
        log_length_sd=sd,
        length_ratio_per_sd=factor,
        covariates=names[2:],
        cluster_robust=robust,
    )


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _holm(pvals: Sequence[float | None]) -> list[float | None]:
    """Holm (1979) step-down adjusted p-values; None entries are skipped."""
    idx = [i for i, p in enumerate(pvals) if p is not None]
    if not idx:
        return [None] * len(pvals)
    from statsmodels.stats.multitest import multipletests

    adj = multipletests([pvals[i] for i in idx], method="holm")[1]
    out: list[float | None] = [None] * len(pvals)
    for i, a in zip(idx, adj, strict=True):
        out[i] = float(a)
    return out


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
    if questions is None:
        questions = DEFAULT_QUESTIONS
    unknown = set(questions) - set(DEFAULT_QUESTIONS)
    if unknown:
        raise ValueError(
            f"unknown question roles {sorted(unknown)}; use {sorted(DEFAULT_QUESTIONS)}"
        )
    _require_columns(
        table, ["unit_id", "annotator_id", "question", "value", pool_column], "bias_report"
    )
    _validate_common(n_bootstrap, alpha, np.random.default_rng(0), two_way)
    q = dict(questions)
    groups: list[tuple[str, pd.DataFrame]] = [
        (str(p), g) for p, g in table.groupby(pool_column, sort=True)
    ]
    if include_overall and len(groups) > 1:
        groups.append(("all", table))
    present = set(table["question"].unique())

    def has(role: str) -> bool:
        return role in q and q[role] in present

    sections: dict[str, Any] = {}
    for pool_name, g in groups:
        lab = "all raters" if pool_name == "all" else f"{pool_name} raters"
        checks: dict[str, Any] = {}

        def rng_for(check: str, _p: str = pool_name) -> np.random.Generator:
            return stable_rng(seed, _p, check)

        if has("quality") and {"tone", "n_known_errors"} <= set(g.columns):
            checks["tone_premium_paired"] = paired_tone_premium(
                g,
                rng=rng_for("tone_premium_paired"),
                quality_question=q["quality"],
                treated=treated,
                control=control,
                match_on=[c for c in ("prompt_id", "system") if c in g.columns],
                n_bootstrap=n_bootstrap,
                n_permutations=n_permutations,
                alpha=alpha,
                two_way=two_way,
                label=lab,
            )
            if include_mixed_model:
                checks["tone_premium_mixed_model"] = tone_mixed_model(
                    g,
                    quality_question=q["quality"],
                    treated=treated,
                    control=control,
                    pool_column=pool_column if pool_name == "all" else None,
                    alpha=alpha,
                    label=lab,
                )
        else:
            checks["tone_premium_paired"] = _not_defined(
                "tone_premium_paired", "tone premium", "no quality question or tone/error columns"
            )
        if has("quality") and has("assertiveness") and "output_id" in g.columns:
            checks["perceived_assertiveness"] = perceived_assertiveness_check(
                g,
                rng=rng_for("perceived_assertiveness"),
                quality_question=q["quality"],
                assertiveness_question=q["assertiveness"],
                treated=treated,
                control=control,
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                fit_model=include_mixed_model,
                label=lab,
            )
        if has("error_flag") and {"tone", "n_known_errors"} <= set(g.columns):
            checks["error_detection_by_tone"] = error_detection_by_tone(
                g,
                rng=rng_for("error_detection_by_tone"),
                error_flag_question=q["error_flag"],
                treated=treated,
                control=control,
                n_bootstrap=n_bootstrap,
                n_permutations=n_permutations,
                alpha=alpha,
                two_way=two_way,
                label=lab,
            )
        else:
            checks["error_detection_by_tone"] = _not_defined(
                "error_detection_by_tone",
                "detection by tone",
                "no error-flag question or tone/error columns",
            )
        if has("preference"):
            checks["position_bias"] = position_bias(
                g,
                rng=rng_for("position_bias"),
                preference_question=q["preference"],
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                two_way=two_way,
                label=lab,
            )
        else:
            checks["position_bias"] = _not_defined(
                "position_bias", "position bias", "no preference question"
            )
        if has("quality") and {"output_length", "n_known_errors"} <= set(g.columns):
            checks["length_bias"] = length_bias(
                g,
                rng=rng_for("length_bias"),
                quality_question=q["quality"],
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                two_way=two_way,
                label=lab,
            )
        else:
            checks["length_bias"] = _not_defined(
                "length_bias", "length bias", "no quality question or length column"
            )
        sections[pool_name] = {
            **_counts(g),
            "pooled_over_pools": pool_name == "all",
            "checks": checks,
        }

    # Holm across pools within each check (methods.md A1 multiplicity), pools only.
    pool_names = [p for p, _ in groups if p != "all"]
    check_names = sorted({c for p in pool_names for c in sections[p]["checks"]})
    for c in check_names:
        ps = [sections[p]["checks"].get(c, {}).get("p_value") for p in pool_names]
        for p, adj in zip(pool_names, _holm(ps), strict=True):
            if c in sections[p]["checks"]:
                sections[p]["checks"][c]["p_value_holm"] = adj

    flagged = [
        {"pool": p, "check": c, "flags": r.get("flags", []), "verdict": r.get("verdict")}
        for p, sec in sections.items()
        for c, r in sec["checks"].items()
        if r.get("flagged") or r.get("flags")
    ]
    report = {
        "section": "bias",
        "schema_version": 1,
        "parameters": {
            "questions": q,
            "pool_column": pool_column,
            "seed": seed,
            "n_bootstrap": n_bootstrap,
            "n_permutations": n_permutations,
            "alpha": alpha,
            "treated_tone": treated,
            "control_tone": control,
            "include_mixed_model": include_mixed_model,
            "two_way": two_way,
        },
        **_counts(table),
        "pools": {p: sections[p] for p in pool_names},
        "overall": sections.get("all"),
        "flagged": flagged,
        "notes": [
            "per-rating rates are primary; item-level (majority) rates are descriptive "
            "(aggregating flags first hides tone effects, methods.md s8)",
            "the 'overall' block pools annotators from different pools and is descriptive",
            "reference for error detection: the design's known/injected error count",
        ],
    }
    return to_jsonable(report)
