"""What every bias check shares: question roles, thresholds, input handling and the
common result shape (``docs/bias-methods.md``).

Every check returns a JSON-serialisable dict with the same core keys::

    check, computed, defined, reason, estimate, ci_low, ci_high, ci_level, ci_method,
    p_value, test, null_value, n_units, n_annotators, n_ratings, flagged, flags,
    verdict, warnings
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.say import say, say_failure

__all__ = ["say", "say_failure"]  # re-exported: the bias modules import them from here

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


TWO_WAY_METHODS: tuple[str, ...] = ("cgm", "pigeonhole")


# --------------------------------------------------------------------------------------
# JSON helpers and the common result shape
# --------------------------------------------------------------------------------------


class Undefined(Exception):
    """Raised by an estimator when the data cannot define its estimate.

    The check reports it as not computed, with this reason and whatever counts the
    estimator had reached (``extra``).
    """

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.extra = extra


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
        raise ValueError(
            f"{what} needs the columns {say(missing)}; the table has {say(list(table.columns))}"
        )


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
            raise ValueError(
                f"question “{question}”: the answer {say(v)} is not a yes/no answer"
            ) from None

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
        warn.append(f"{int(missing.sum())} missing answers to “{question}” were dropped")
        df = df.loc[~missing]
    if kind == "numeric":
        try:
            df["y"] = pd.to_numeric(df["value"], errors="raise").astype(float)
        except (ValueError, TypeError) as exc:
            bad = pd.to_numeric(df["value"], errors="coerce").isna()
            raise ValueError(
                f"question “{question}”: the answer {say(df['value'][bad].iloc[0])} is not a number"
            ) from exc
    elif kind == "binary":
        df["y"] = _coerce_binary(df["value"], question).astype(float)
    elif kind == "categorical":
        df["y"] = df["value"].astype(str)
    else:  # pragma: no cover - internal misuse
        raise ValueError(f"unknown kind {say(kind)}")
    if "prompt_id" not in df.columns or df["prompt_id"].isna().all():
        # Without prompts the unit is the only content cluster we have.
        df["prompt_id"] = df["unit_id"]
        warn.append("prompt_id missing: units used as the content cluster")
    elif df["prompt_id"].isna().any():
        df["prompt_id"] = df["prompt_id"].where(df["prompt_id"].notna(), df["unit_id"])
    return df, warn


def _validate_common(n_bootstrap: int, alpha: float, rng: Any, two_way: str = "cgm") -> None:
    if two_way not in TWO_WAY_METHODS:
        raise ValueError(f"two_way must be one of {say(TWO_WAY_METHODS)}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if int(n_bootstrap) < 0:
        raise ValueError("n_bootstrap must be >= 0")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
