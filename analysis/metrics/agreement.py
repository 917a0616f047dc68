"""Inter-annotator agreement coefficients computed from long-format annotation tables.

Everything here is pure numpy/pandas/scipy (plus the ``krippendorff`` package for the
reference point estimate of alpha). Randomness is only ever drawn from an
:class:`numpy.random.Generator` passed in by the caller.

Notation used throughout (after Krippendorff 2011 and Gwet 2014):

* a *unit* is one item that was annotated (an LLM output, or a pair of outputs);
* ``value_counts`` is a ``units x categories`` array: ``value_counts[u, c]`` is the number
  of annotators who gave unit ``u`` the value ``c`` (``n_uc``); ``m_u`` is its row sum;
* a unit is *pairable* when ``m_u >= 2``: only pairable units carry information about
  agreement;
* ``value_domain`` gives each category's numeric position, used by the distance functions
  (ranks for ordinal data, the numbers themselves for interval and ratio data).

Coefficients that are not defined for the data at hand (no pairable unit, no variation,
...) are returned as a :class:`Coefficient` whose ``value`` is ``None`` and whose
``reason`` says why; nothing here returns NaN or a silent zero.

References
----------
.. [K2011] Krippendorff, K. (2011). *Computing Krippendorff's Alpha-Reliability*.
   Annenberg School for Communication, University of Pennsylvania.
.. [K2019] Krippendorff, K. (2019). *Content Analysis: An Introduction to Its Methodology*,
   4th ed., ch. 12. SAGE.
.. [F1971] Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
   *Psychological Bulletin*, 76(5), 378-382.
.. [G2008] Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the
   presence of high agreement. *British Journal of Mathematical and Statistical
   Psychology*, 61(1), 29-48.
.. [G2014] Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2-4.
   Advanced Analytics. (Formulas as implemented in the irrCAC R package.)
.. [C1960] Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational
   and Psychological Measurement*, 20(1), 37-46.
.. [C1968] Cohen, J. (1968). Weighted kappa. *Psychological Bulletin*, 70(4), 213-220.
.. [L1971] Light, R. J. (1971). Measures of response agreement for qualitative data.
   *Psychological Bulletin*, 76(5), 365-377.
.. [Z2016] Zapf, A., Castell, S., Morawietz, L., & Karch, A. (2016). Measuring inter-rater
   reliability for nominal data - which coefficients and confidence intervals are
   appropriate? *BMC Medical Research Methodology*, 16, 93.
.. [Z2023] Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot
   Arena. *NeurIPS Datasets and Benchmarks* (agreement setups S1 and S2).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import krippendorff
import numpy as np
import pandas as pd
from scipy import sparse

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")

TIE_LABEL = "tie"
PREFERENCE_ANSWERS = {"a": "first", "b": "second", "tie": TIE_LABEL}

# Memory guards, in float64 cells (8 bytes each). They keep the worst case well inside
# the 2 GB budget: the krippendorff package materialises about three units x V x V arrays,
# and a units x categories count table must fit comfortably too.
_PACKAGE_MAX_CELLS = 4_000_000
_MAX_COUNT_CELLS = 25_000_000
_DENSE_COINCIDENCE_MAX_CELLS = 20_000_000
_BOOTSTRAP_CHUNK_CELLS = 4_000_000

# Below this relative size an expected-disagreement sum is floating-point noise from the
# moment formula (all values equal); see _alpha_sums.
_RELATIVE_ZERO = 1e-12


# ---------------------------------------------------------------------------------------
# Result type
# ---------------------------------------------------------------------------------------


def _finite_or_none(value: float | None, field_name: str) -> float | None:
    if value is None:
        return None
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{field_name} must be finite or None, got {value!r}")
    return as_float


@dataclass(frozen=True)
class Coefficient:
    """One agreement coefficient, or an explicit statement that it is not defined.

    Parameters
    ----------
    name : str
        Coefficient name, e.g. ``"krippendorff_alpha"``.
    value : float or None
        The estimate; ``None`` when the coefficient is not defined for the data.
    reason : str or None
        Why ``value`` is ``None`` (required then, and ``None`` otherwise).
    n_units : int
        Units with at least one rating.
    n_pairable_units : int
        Units with at least two ratings.
    n_ratings : int
        Ratings that entered the computation.
    n_annotators : int or None
        Distinct annotators, when the caller knows them (value counts do not).
    method : str or None
        How the value was computed (estimator, generalisation used, ...).
    components : tuple of (str, float or None)
        Intermediate quantities, e.g. observed and chance agreement.
    ci_low, ci_high : float or None
        Percentile bootstrap confidence interval bounds.
    confidence_level : float or None
        Nominal coverage of the interval.
    ci_reason : str or None
        Why there is no interval although a bootstrap was requested (or that none was).
    n_bootstrap : int
        Bootstrap resamples drawn.
    n_bootstrap_defined : int
        Resamples on which the coefficient was defined (the others had no variation).
    bootstrap_se : float or None
        Standard deviation of the defined bootstrap replicates.
    p_below : tuple of (float, float)
        ``(threshold, share of defined replicates strictly below threshold)``.

    Raises
    ------
    ValueError
        If a float field is NaN or infinite, or ``value``/``reason`` are inconsistent.
    """

    name: str
    value: float | None
    reason: str | None = None
    n_units: int = 0
    n_pairable_units: int = 0
    n_ratings: int = 0
    n_annotators: int | None = None
    method: str | None = None
    components: tuple[tuple[str, float | None], ...] = ()
    ci_low: float | None = None
    ci_high: float | None = None
    confidence_level: float | None = None
    ci_reason: str | None = None
    n_bootstrap: int = 0
    n_bootstrap_defined: int = 0
    bootstrap_se: float | None = None
    p_below: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        # Validating here means no NaN can ever reach the JSON report unnoticed.
        for field_name in ("value", "ci_low", "ci_high", "confidence_level", "bootstrap_se"):
            object.__setattr__(
                self, field_name, _finite_or_none(getattr(self, field_name), field_name)
            )
        object.__setattr__(
            self,
            "components",
            tuple((str(k), _finite_or_none(v, k)) for k, v in self.components),
        )
        object.__setattr__(
            self,
            "p_below",
            tuple(
                (float(_finite_or_none(t, "threshold")), float(_finite_or_none(p, "p_below")))
                for t, p in self.p_below
            ),
        )
        if self.value is None and not self.reason:
            raise ValueError(f"{self.name}: an undefined coefficient needs a reason")
        if self.value is not None and self.reason is not None:
            raise ValueError(f"{self.name}: a defined coefficient cannot carry a reason")

    @property
    def defined(self) -> bool:
        """Whether the coefficient has a value."""
        return self.value is not None

    @classmethod
    def undefined(cls, name: str, reason: str, **counts: Any) -> Coefficient:
        """Build a not-defined result carrying ``reason`` and whatever counts are known."""
        return cls(name=name, value=None, reason=reason, **counts)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (plain ``int``/``float``/``str``/``None`` only)."""
        return {
            "name": self.name,
            "value": self.value,
            "defined": self.defined,
            "reason": self.reason,
            "method": self.method,
            "n_units": int(self.n_units),
            "n_pairable_units": int(self.n_pairable_units),
            "n_ratings": int(self.n_ratings),
            "n_annotators": None if self.n_annotators is None else int(self.n_annotators),
            "components": {k: v for k, v in self.components},
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence_level": self.confidence_level,
            "ci_method": "percentile bootstrap over units" if self.n_bootstrap else None,
            "ci_reason": self.ci_reason,
            "n_bootstrap": int(self.n_bootstrap),
            "n_bootstrap_defined": int(self.n_bootstrap_defined),
            "bootstrap_se": self.bootstrap_se,
            "p_below": [{"threshold": t, "probability": p} for t, p in self.p_below],
        }


# ---------------------------------------------------------------------------------------
# Label encoding and reliability data
# ---------------------------------------------------------------------------------------


def label_key(label: Any) -> tuple[str, Any]:
    """Identity of a label across representations: 3, 3.0 and np.int64(3) are one label."""
    if isinstance(label, bool | np.bool_):
        return ("bool", bool(label))
    if isinstance(label, numbers.Real):
        as_float = float(label)
        if not math.isfinite(as_float):
            raise ValueError(f"non-finite numeric answer {label!r}")
        return ("number", as_float)
    if isinstance(label, str):
        return ("text", label)
    raise ValueError(
        f"unsupported answer value {label!r} of type {type(label).__name__}; "
        "expected a number, a bool or a string label"
    )


def json_label(label: Any) -> Any:
    """Convert a label to a plain JSON value (integral numbers become ``int``)."""
    kind, key = label_key(label)
    if kind == "number":
        return int(key) if key.is_integer() else key
    return key


@dataclass(frozen=True)
class EncodedValues:
    """Answers mapped to category codes.

    Attributes
    ----------
    codes : numpy.ndarray
        ``int64`` code per answer, ``-1`` where the answer is missing.
    labels : tuple
        JSON-safe label of each category, in domain order.
    positions : numpy.ndarray
        Numeric position of each category used by the distance functions.
    """

    codes: np.ndarray
    labels: tuple[Any, ...]
    positions: np.ndarray


def encode_values(
    values: Sequence[Any] | pd.Series,
    level: str,
    order: Sequence[Any] | None = None,
) -> EncodedValues:
    """Map raw answers to category codes and numeric positions.

    Parameters
    ----------
    values : sequence or pandas.Series
        Raw answers; ``None``/NaN mean "no answer".
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement (Stevens 1946), which decides how labels become positions.
    order : sequence, optional
        All admissible labels in scale order. Required for ordinal, interval or ratio
        questions answered with word labels; when given, it is also the category set
        (unused categories count, e.g. for Gwet's ``q``).

    Returns
    -------
    EncodedValues
        Codes, labels and positions. Ordinal positions are ranks ``0..V-1`` (only the
        order matters to Krippendorff's ordinal metric); interval and ratio positions are
        the numbers themselves, or ranks for interval word labels given with ``order``.

    Raises
    ------
    ValueError
        Unknown level, answers outside ``order``, duplicated ``order`` entries, word
        labels without ``order`` on a non-nominal question, ratio data that is not
        numeric and non-negative, or unsupported value types.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; expected one of {LEVELS}")
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    series = series.reset_index(drop=True)
    missing = series.isna().to_numpy()
    codes = np.full(len(series), -1, dtype=np.int64)
    present_codes, uniques = pd.factorize(series[~missing], sort=False)
    unique_keys = [label_key(u) for u in uniques]

    if order is not None:
        order_list = list(order)
        domain_keys = [label_key(label) for label in order_list]
        if len(set(domain_keys)) != len(domain_keys):
            raise ValueError(f"'order' contains duplicate labels: {order_list!r}")
        listed = set(domain_keys)
        unknown = [u for u, key in zip(uniques, unique_keys, strict=True) if key not in listed]
        if unknown:
            raise ValueError(f"answers not listed in 'order': {unknown[:5]!r}")
    else:
        kinds = {kind for kind, _ in unique_keys}
        if kinds - {"number", "bool"} and level != "nominal":
            raise ValueError(
                f"{level} questions answered with word labels need an 'order' list in the spec"
            )
        # Sorting by (kind, value) keeps mixed nominal label sets deterministic.
        domain_keys = sorted(set(unique_keys), key=lambda key: (key[0], key[1]))

    numeric_domain = all(kind in ("number", "bool") for kind, _ in domain_keys)
    if level in ("interval", "ratio") and numeric_domain:
        # Numbers carry their own order; a spec listing them high-to-low changes nothing.
        domain_keys = sorted(domain_keys, key=lambda key: float(key[1]))
    position_of = {key: i for i, key in enumerate(domain_keys)}

    code_of_unique = np.array([position_of[key] for key in unique_keys], dtype=np.int64)
    if len(code_of_unique):
        codes[~missing] = code_of_unique[present_codes]
    labels = tuple(int(v) if kind == "number" and v.is_integer() else v for kind, v in domain_keys)
    if level in ("interval", "ratio") and numeric_domain:
        positions = np.array([float(v) for _, v in domain_keys], dtype=np.float64)
    elif level == "ratio":
        raise ValueError("ratio questions need numeric answers (a ratio scale has a true zero)")
    else:
        positions = np.arange(len(domain_keys), dtype=np.float64)
    if level == "ratio" and (positions < 0).any():
        raise ValueError("ratio questions need non-negative answers")
    return EncodedValues(codes=codes, labels=labels, positions=positions)


@dataclass(frozen=True)
class PreferenceVotes:
    """Pairwise-preference votes mapped back from display positions to systems.

    Attributes
    ----------
    winner : numpy.ndarray
        Object array: the preferred system's name, ``"tie"``, or ``None`` (no answer).
    position : numpy.ndarray
        Object array: ``"first"``/``"second"`` (display position voted for), ``"tie"``, or
        ``None``; used to report position bias.
    pair : numpy.ndarray
        Object array: ``"sysA | sysB"`` with the two names sorted, ``None`` if unknown.
    """

    winner: np.ndarray
    position: np.ndarray
    pair: np.ndarray


def canonical_preferences(
    values: Sequence[Any] | pd.Series, shown_order: Sequence[Any] | pd.Series
) -> PreferenceVotes:
    """Turn position-relative votes ("A"/"B"/"tie") into votes for systems.

    An "A" vote by an annotator who saw ``("s2", "s1")`` is a vote for ``"s2"``: answers
    are relative to what that annotator was shown, so agreement must be computed after
    undoing the display order, otherwise counterbalanced orders look like disagreement.

    Parameters
    ----------
    values : sequence or pandas.Series
        ``"A"``, ``"B"`` or ``"tie"`` (case-insensitive); ``None``/NaN for no answer.
    shown_order : sequence or pandas.Series
        Per vote, the two system names in display order (position A first).

    Returns
    -------
    PreferenceVotes
        Winner, display position and system pair of each vote.

    Raises
    ------
    ValueError
        On answers other than A/B/tie, on an A/B vote without a two-system
        ``shown_order``, on a system named "tie", or on mismatched lengths.
    """
    answers = pd.Series(values, dtype=object).reset_index(drop=True)
    orders = pd.Series(shown_order, dtype=object).reset_index(drop=True)
    if len(answers) != len(orders):
        raise ValueError("values and shown_order must have the same length")
    missing = answers.isna()
    normalised = answers.astype(str).str.strip().str.lower().where(~missing, None)
    position = normalised.map(PREFERENCE_ANSWERS)
    bad = ~missing & position.isna()
    if bad.any():
        raise ValueError(
            f"pairwise answers must be 'A', 'B' or 'tie', got {answers[bad].unique()[:5]!r}"
        )
    first = orders.str[0]
    second = orders.str[1]
    length = orders.str.len()
    voted_position = position.isin(["first", "second"])
    has_pair = length.eq(2) & first.notna() & second.notna()
    if (voted_position & ~has_pair).any():
        raise ValueError("an 'A'/'B' vote needs shown_order with exactly two system names")
    first_name = first.where(has_pair).astype(object)
    second_name = second.where(has_pair).astype(object)
    if (first_name.astype(str).eq(TIE_LABEL) & has_pair).any() or (
        second_name.astype(str).eq(TIE_LABEL) & has_pair
    ).any():
        raise ValueError(f"a system may not be named {TIE_LABEL!r}: it is the tie label")
    if (has_pair & first_name.astype(str).eq(second_name.astype(str))).any():
        raise ValueError("shown_order must name two different systems")
    winner = np.where(
        position.eq("first"),
        first_name.astype(str),
        np.where(position.eq("second"), second_name.astype(str), TIE_LABEL),
    ).astype(object)
    winner[missing.to_numpy()] = None
    first_text, second_text = first_name.astype(str), second_name.astype(str)
    in_order = first_text <= second_text
    low = first_text.where(in_order, second_text)
    high = second_text.where(in_order, first_text)
    pair = (low + " | " + high).where(has_pair, None).to_numpy(dtype=object)
    position_out = position.to_numpy(dtype=object)
    position_out[missing.to_numpy()] = None
    return PreferenceVotes(winner=winner, position=position_out, pair=pair)


@dataclass(frozen=True)
class ReliabilityData:
    """Ratings of one question in sparse long form, plus the category domain.

    Krippendorff's *reliability data matrix* (annotators x units) is available through
    :meth:`matrix`; the computations below work on the sparse triples
    ``(unit_index, annotator_index, codes)`` so that a large, sparsely covered matrix is
    never materialised.

    Attributes
    ----------
    level : str
        Level of measurement.
    labels : tuple
        Category labels in domain order.
    positions : numpy.ndarray
        Numeric position of each category.
    ordered : bool
        Whether the categories have a meaningful order (weighted kappas need one).
    unit_ids, annotator_ids : numpy.ndarray
        Sorted distinct ids (as ``str``); indices below point into them.
    unit_index, annotator_index, codes : numpy.ndarray
        One entry per non-missing rating.
    source_rows : numpy.ndarray
        Positional index (``iloc``) of each rating's row in the table it was built from.
    """

    level: str
    labels: tuple[Any, ...]
    positions: np.ndarray
    ordered: bool
    unit_ids: np.ndarray
    annotator_ids: np.ndarray
    unit_index: np.ndarray
    annotator_index: np.ndarray
    codes: np.ndarray
    source_rows: np.ndarray

    @property
    def n_units(self) -> int:
        """Number of distinct units with at least one rating."""
        return len(self.unit_ids)

    @property
    def n_annotators(self) -> int:
        """Number of distinct annotators with at least one rating."""
        return len(self.annotator_ids)

    @property
    def n_categories(self) -> int:
        """Number of categories in the domain (including unused ones from ``order``)."""
        return len(self.labels)

    def value_counts(self) -> np.ndarray:
        """Return the ``units x categories`` count table ``n_uc`` as float64."""
        return value_counts_table(self.unit_index, self.codes, self.n_units, self.n_categories)

    def matrix(self) -> np.ndarray:
        """Return the dense annotators x units matrix of positions (NaN = no rating)."""
        dense = np.full((self.n_annotators, self.n_units), np.nan)
        dense[self.annotator_index, self.unit_index] = self.positions[self.codes]
        return dense

    def subset(self, mask: np.ndarray) -> ReliabilityData:
        """Restrict to the ratings where ``mask`` is true, re-indexing units and annotators."""
        unit_keep, unit_index = np.unique(self.unit_index[mask], return_inverse=True)
        annotator_keep, annotator_index = np.unique(self.annotator_index[mask], return_inverse=True)
        return ReliabilityData(
            level=self.level,
            labels=self.labels,
            positions=self.positions,
            ordered=self.ordered,
            unit_ids=self.unit_ids[unit_keep],
            annotator_ids=self.annotator_ids[annotator_keep],
            unit_index=unit_index.astype(np.int64),
            annotator_index=annotator_index.astype(np.int64),
            codes=self.codes[mask],
            source_rows=self.source_rows[mask],
        )


def value_counts_table(
    unit_index: np.ndarray, codes: np.ndarray, n_units: int, n_categories: int
) -> np.ndarray:
    """Count ratings per unit and category.

    Parameters
    ----------
    unit_index, codes : numpy.ndarray
        Integer unit index and category code of each rating.
    n_units, n_categories : int
        Table shape.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(n_units, n_categories)``.

    Raises
    ------
    ValueError
        When the table would exceed the memory guard (too many distinct numeric values:
        round or bin them first).
    """
    if n_units * n_categories > _MAX_COUNT_CELLS:
        raise ValueError(
            f"{n_units} units x {n_categories} distinct values is too large a count table; "
            "round or bin numeric answers"
        )
    flat = np.bincount(
        np.asarray(unit_index, dtype=np.int64) * n_categories + np.asarray(codes, dtype=np.int64),
        minlength=n_units * n_categories,
    )
    return flat.reshape(n_units, n_categories).astype(np.float64)


def value_counts_from_matrix(
    reliability_matrix: Any, value_domain: Sequence[Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Convert a dense annotators x units reliability matrix to value counts.

    Parameters
    ----------
    reliability_matrix : array_like, shape (annotators, units)
        Ratings; NaN/None means "no rating".
    value_domain : sequence, optional
        Categories in order. Defaults to the sorted distinct ratings.

    Returns
    -------
    value_counts : numpy.ndarray
        ``units x categories`` counts.
    value_domain : numpy.ndarray
        The domain the columns refer to.

    Raises
    ------
    ValueError
        If the matrix is not two-dimensional or holds values outside ``value_domain``.
    """
    matrix = np.asarray(reliability_matrix, dtype=object)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError("reliability_matrix must be a non-empty 2-D annotators x units array")
    frame = pd.DataFrame(matrix)
    long = frame.T.stack(future_stack=True)
    long = long[long.notna()]
    units = long.index.get_level_values(0).to_numpy(dtype=np.int64)
    if value_domain is None:
        domain = np.array(sorted(set(long.tolist())), dtype=object)
    else:
        domain = np.asarray(list(value_domain), dtype=object)
    position = {value: i for i, value in enumerate(domain.tolist())}
    try:
        codes = np.array([position[v] for v in long.tolist()], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"rating {error.args[0]!r} is not in value_domain") from None
    counts = value_counts_table(units, codes, frame.shape[1], len(domain))
    try:
        return counts, domain.astype(np.float64)
    except (TypeError, ValueError):
        return counts, domain


def reliability_data(
    table: pd.DataFrame, question: str, spec: Mapping[str, Any]
) -> ReliabilityData:
    """Build the reliability data of one question from the long annotation table.

    Parameters
    ----------
    table : pandas.DataFrame
        Long format, one row per (annotation, question), with at least ``unit_id``,
        ``annotator_id``, ``question``, ``value``; pairwise questions also need
        ``shown_order``.
    question : str
        Question key.
    spec : mapping
        The question's spec: ``level``, optional ``order``, optional ``type``.

    Returns
    -------
    ReliabilityData
        Non-missing ratings of the question, encoded. Pairwise questions (``type ==
        "pairwise"``) are first mapped to system-level votes with
        :func:`canonical_preferences`; their labels are the systems (sorted) then "tie".

    Raises
    ------
    ValueError
        On missing columns, an annotator rating the same unit twice for the question, a
        pairwise unit whose annotators saw different system pairs, or invalid answers.
    """
    required = {"unit_id", "annotator_id", "question", "value"}
    missing_columns = required - set(table.columns)
    if missing_columns:
        raise ValueError(f"table lacks required columns: {sorted(missing_columns)}")
    level = spec.get("level")
    if level not in LEVELS:
        raise ValueError(f"question {question!r}: unknown level {level!r}")
    source_rows = np.flatnonzero(table["question"].astype(str).to_numpy() == str(question))
    rows = table.iloc[source_rows]
    values = rows["value"].reset_index(drop=True)
    order = spec.get("order")

    if spec.get("type") == "pairwise":
        if level != "nominal":
            raise ValueError(f"pairwise question {question!r} must have level 'nominal'")
        if "shown_order" not in rows.columns:
            raise ValueError(f"pairwise question {question!r} needs a shown_order column")
        votes = canonical_preferences(values, rows["shown_order"])
        pair_frame = pd.DataFrame(
            {"unit": rows["unit_id"].astype(str).to_numpy(), "pair": votes.pair}
        )
        pairs_per_unit = pair_frame.dropna().groupby("unit")["pair"].nunique()
        if (pairs_per_unit > 1).any():
            raise ValueError(
                f"pairwise question {question!r}: units shown with different system pairs: "
                f"{pairs_per_unit[pairs_per_unit > 1].index[:5].tolist()!r}"
            )
        values = pd.Series(votes.winner, dtype=object)
        systems = sorted({w for w in votes.winner if w is not None and w != TIE_LABEL})
        order = [*systems, TIE_LABEL]

    encoded = encode_values(values, level, order)
    present = encoded.codes >= 0
    unit_index, unit_ids = pd.factorize(rows["unit_id"].astype(str).to_numpy()[present], sort=True)
    annotator_index, annotator_ids = pd.factorize(
        rows["annotator_id"].astype(str).to_numpy()[present], sort=True
    )
    pair_keys = unit_index.astype(np.int64) * max(len(annotator_ids), 1) + annotator_index
    # A canonical rating order makes every floating-point sum independent of row order.
    canonical = np.argsort(pair_keys, kind="stable")
    if (np.diff(pair_keys[canonical]) == 0).any():
        raise ValueError(
            f"question {question!r}: an annotator answered the same unit more than once"
        )
    return ReliabilityData(
        level=level,
        labels=encoded.labels,
        positions=encoded.positions,
        ordered=level != "nominal",
        unit_ids=np.asarray(unit_ids, dtype=object),
        annotator_ids=np.asarray(annotator_ids, dtype=object),
        unit_index=unit_index.astype(np.int64)[canonical],
        annotator_index=annotator_index.astype(np.int64)[canonical],
        codes=encoded.codes[present][canonical],
        source_rows=source_rows[present][canonical],
    )


# ---------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------


def _validated_counts(value_counts: Any) -> np.ndarray:
    counts = np.asarray(value_counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("value_counts must be a 2-D units x categories array")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("value_counts must hold non-negative finite counts")
    if not np.array_equal(counts, np.round(counts)):
        raise ValueError("value_counts must hold whole numbers")
    return counts


def _validated_positions(value_domain: Any, n_categories: int, level: str) -> np.ndarray:
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; expected one of {LEVELS}")
    if value_domain is None:
        positions = np.arange(n_categories, dtype=np.float64)
    else:
        try:
            positions = np.asarray(value_domain, dtype=np.float64)
        except (TypeError, ValueError):
            if level != "nominal":
                raise ValueError(f"{level} alpha needs a numeric value_domain") from None
            positions = np.arange(n_categories, dtype=np.float64)
    if positions.shape != (n_categories,):
        raise ValueError("value_domain must have one entry per value_counts column")
    if level != "nominal" and len(np.unique(positions)) != n_categories:
        raise ValueError("value_domain entries must be distinct")
    if level != "nominal" and n_categories > 1 and (np.diff(positions) <= 0).any():
        raise ValueError(f"{level} alpha needs value_domain in increasing order")
    if level == "ratio" and (positions < 0).any():
        raise ValueError("ratio alpha needs non-negative values")
    return positions


def distance_matrix(positions: np.ndarray, level: str, marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference function between every pair of categories.

    Parameters
    ----------
    positions : numpy.ndarray
        Numeric position of each category.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric to use.
    marginals : numpy.ndarray
        Pairable values per category ``n_c`` (the ordinal metric depends on them).

    Returns
    -------
    numpy.ndarray
        ``V x V`` matrix ``delta^2_ck``, per [K2011]_ pp. 4-6: nominal ``[c != k]``;
        ordinal ``(sum_{g=c..k} n_g - (n_c + n_k)/2)^2``; interval ``(c - k)^2``; ratio
        ``((c - k)/(c + k))^2``.

    Notes
    -----
    The ordinal metric is computed as ``(mid_k - mid_c)^2`` with mid-ranks
    ``mid_v = cumsum(n)_v - n_v / 2``, which equals the summation form for ``c <= k``.
    """
    if level == "nominal":
        return 1.0 - np.eye(len(positions))
    if level == "ordinal":
        mid_ranks = np.cumsum(marginals) - marginals / 2.0
        return (mid_ranks[:, None] - mid_ranks[None, :]) ** 2
    difference = positions[:, None] - positions[None, :]
    if level == "interval":
        return difference**2
    total = positions[:, None] + positions[None, :]
    ratio = np.divide(difference, total, out=np.zeros_like(difference), where=total != 0)
    return ratio**2


def coincidence_matrix(value_counts: Any) -> np.ndarray:
    """Krippendorff's coincidence matrix ``o_ck``.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.

    Returns
    -------
    numpy.ndarray
        ``o_ck = sum_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)`` over pairable units
        ([K2011]_ p. 3, [K2019]_ §12.2.3).
    """
    counts = _validated_counts(value_counts)
    counts = counts[counts.sum(axis=1) >= 2]
    scaled = counts / (counts.sum(axis=1, keepdims=True) - 1.0)
    return scaled.T @ counts - np.diag(scaled.sum(axis=0))


@dataclass(frozen=True)
class _AlphaPlan:
    """Per-unit sufficient statistics for alpha, summed with weights to resample units.

    For every level, ``alpha = 1 - (n - 1) * observed / expected`` where ``observed =
    sum_ck o_ck delta_ck``, ``expected = sum_ck n_c n_k delta_ck`` and ``n`` is the number
    of pairable values ([K2011]_ eq. for alpha with coincidences). Every one of these is a
    sum over units of a per-unit quantity, except that ``expected`` (and, for ordinal data,
    ``delta``) is a fixed function of the summed marginals. So a bootstrap resample of
    units is a weighted sum of per-unit features -- one matrix product per batch.

    Feature columns per level:

    * nominal, ratio: ``[observed_u, n_u1 .. n_uV]`` (``delta`` fixed);
    * interval: ``[observed_u, m_u, sum x, sum x^2]`` with centred positions, so the cost
      does not grow with the number of distinct values;
    * ordinal: the unit's full coincidence contribution ``o_u`` flattened to ``V^2``
      columns, because ``delta`` depends on the resampled marginals.
    """

    level: str
    features: np.ndarray | sparse.csr_matrix
    positions: np.ndarray
    distance: np.ndarray | None


def _alpha_plan(pairable_counts: np.ndarray, positions: np.ndarray, level: str) -> _AlphaPlan:
    m = pairable_counts.sum(axis=1)
    if level == "interval":
        marginals = pairable_counts.sum(axis=0)
        # Centring keeps the moment formulas free of catastrophic cancellation.
        centred = positions - (marginals @ positions) / marginals.sum()
        sum_x = pairable_counts @ centred
        sum_x2 = pairable_counts @ centred**2
        within = np.clip(sum_x2 - sum_x**2 / m, 0.0, None)
        observed = 2.0 * m * within / (m - 1.0)
        features = np.column_stack([observed, m, sum_x, sum_x2])
        return _AlphaPlan(level, features, centred, None)
    if level in ("nominal", "ratio"):
        distance = distance_matrix(positions, level, np.zeros(len(positions)))
        if level == "nominal":
            raw = m**2 - (pairable_counts**2).sum(axis=1)
        else:
            raw = ((pairable_counts @ distance) * pairable_counts).sum(axis=1)
        observed = raw / (m - 1.0)
        return _AlphaPlan(level, np.column_stack([observed, pairable_counts]), positions, distance)
    return _AlphaPlan(level, _unit_coincidences(pairable_counts), positions, None)


def _unit_coincidences(pairable_counts: np.ndarray) -> np.ndarray | sparse.csr_matrix:
    """Each unit's coincidence contribution ``o_u`` flattened to ``V*V`` columns."""
    n_units, n_values = pairable_counts.shape
    m = pairable_counts.sum(axis=1)
    if n_units * n_values * n_values <= _DENSE_COINCIDENCE_MAX_CELLS:
        products = pairable_counts[:, :, None] * pairable_counts[:, None, :]
        diagonal = np.arange(n_values)
        products[:, diagonal, diagonal] -= pairable_counts
        return (products / (m - 1.0)[:, None, None]).reshape(n_units, n_values * n_values)
    # Sparse: a unit only has entries for the categories it actually received.
    unit, category = np.nonzero(pairable_counts)
    per_unit = np.bincount(unit, minlength=n_units)
    first_of_unit = np.cumsum(per_unit) - per_unit
    repeats = per_unit[unit]
    left = np.repeat(np.arange(len(unit)), repeats)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    right = first_of_unit[unit[left]] + offset
    u = unit[left]
    c_left, c_right = category[left], category[right]
    n_left = pairable_counts[u, c_left]
    data = (n_left * pairable_counts[u, c_right] - (c_left == c_right) * n_left) / (m[u] - 1.0)
    return sparse.csr_matrix(
        (data, (u, c_left * n_values + c_right)), shape=(n_units, n_values * n_values)
    )


def _alpha_sums(plan: _AlphaPlan, summed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(n, observed, expected)`` per row of summed features; ``expected`` is 0
    where the (re)sample has no variation."""
    if plan.level == "interval":
        observed, n, sum_x, sum_x2 = summed.T
        expected = 2.0 * (n * sum_x2 - sum_x**2)
        noise = expected <= _RELATIVE_ZERO * 2.0 * n * sum_x2
        return n, observed, np.where(noise, 0.0, expected)
    if plan.level in ("nominal", "ratio"):
        observed, marginals = summed[:, 0], summed[:, 1:]
        n = marginals.sum(axis=1)
        if plan.level == "nominal":
            expected = n**2 - (marginals**2).sum(axis=1)
        else:
            expected = ((marginals @ plan.distance) * marginals).sum(axis=1)
        return n, observed, expected
    n_values = len(plan.positions)
    coincidences = summed.reshape(-1, n_values, n_values)
    marginals = coincidences.sum(axis=2)
    mid_ranks = np.cumsum(marginals, axis=1) - marginals / 2.0
    distance = (mid_ranks[:, :, None] - mid_ranks[:, None, :]) ** 2
    observed = (coincidences * distance).sum(axis=(1, 2))
    expected = np.einsum("bc,bck,bk->b", marginals, distance, marginals)
    return marginals.sum(axis=1), observed, expected


def _alpha_from_sums(n: np.ndarray, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    result = np.full(len(n), np.nan)
    varied = expected > 0
    result[varied] = 1.0 - (n[varied] - 1.0) * observed[varied] / expected[varied]
    return result


def _pairable(value_counts: Any) -> np.ndarray:
    counts = _validated_counts(value_counts)
    return counts[counts.sum(axis=1) >= 2]


def coincidence_alpha(
    value_counts: Any, value_domain: Any = None, level: str = "nominal"
) -> float | None:
    """Krippendorff's alpha from per-unit coincidence statistics (own implementation).

    This is the estimator the bootstrap resamples (see ``_AlphaPlan``); tests check it
    against ``krippendorff.alpha`` to 1e-9.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    value_domain : array_like, optional
        Position of each category; defaults to ``0..V-1``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric.

    Returns
    -------
    float or None
        ``alpha = 1 - D_o / D_e`` ([K2011]_), or ``None`` when undefined (no pairable
        unit, or no variation among pairable values). :func:`krippendorff_alpha` says why.
    """
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0:
        return None
    plan = _alpha_plan(pairable, positions, level)
    summed = np.asarray(plan.features.sum(axis=0)).reshape(1, -1)
    value = _alpha_from_sums(*_alpha_sums(plan, summed))[0]
    return None if np.isnan(value) else float(value)


def bootstrap_alpha(
    value_counts: Any,
    value_domain: Any = None,
    level: str = "nominal",
    *,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap replicates of Krippendorff's alpha, resampling pairable units.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    value_domain : array_like, optional
        Position of each category; defaults to ``0..V-1``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric.
    n_bootstrap : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``n_bootstrap`` replicates; NaN marks a resample with no variation (alpha
        undefined there). Callers must handle these (the report counts them).

    Notes
    -----
    Each replicate draws ``U`` pairable units with replacement (multinomial counts,
    [Z2016]_), and recomputes alpha in full, including the ordinal metric's dependence
    on the marginals. Per-unit statistics are computed once, so a batch of ``b``
    replicates is a ``(b x U) @ (U x K)`` product.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if n_bootstrap < 0:
        raise ValueError("n_bootstrap must be non-negative")
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    pairable = counts[counts.sum(axis=1) >= 2]
    n_units = len(pairable)
    if n_units == 0 or n_bootstrap == 0:
        return np.full(n_bootstrap, np.nan)
    plan = _alpha_plan(pairable, positions, level)
    batch = max(1, min(n_bootstrap, _BOOTSTRAP_CHUNK_CELLS // max(n_units, plan.features.shape[1])))
    replicates = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        draws = rng.integers(0, n_units, size=(size, n_units))
        draws += (np.arange(size) * n_units)[:, None]
        weights = np.bincount(draws.ravel(), minlength=size * n_units).reshape(size, n_units)
        weights = weights.astype(np.float64)
        if sparse.issparse(plan.features):
            summed = np.asarray((plan.features.T @ weights.T).T)
        else:
            summed = weights @ plan.features
        replicates[start : start + size] = _alpha_from_sums(*_alpha_sums(plan, summed))
    return replicates


def _bootstrap_summary(
    replicates: np.ndarray, thresholds: Sequence[float], confidence_level: float
) -> dict[str, Any]:
    defined = replicates[~np.isnan(replicates)]
    summary: dict[str, Any] = {
        "n_bootstrap": len(replicates),
        "n_bootstrap_defined": len(defined),
        "confidence_level": confidence_level,
    }
    if len(defined) < 2:
        summary["ci_reason"] = "fewer than two bootstrap resamples had any variation"
        return summary
    tail = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    summary.update(
        ci_low=float(low),
        ci_high=float(high),
        bootstrap_se=float(np.std(defined, ddof=1)),
        p_below=tuple((float(t), float(np.mean(defined < t))) for t in thresholds),
    )
    return summary


def _validate_bootstrap_args(
    n_bootstrap: int,
    rng: np.random.Generator | None,
    thresholds: Sequence[float],
    confidence_level: float,
) -> None:
    if not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ValueError("n_bootstrap must be a non-negative integer")
    if n_bootstrap and not isinstance(rng, np.random.Generator):
        raise ValueError("a bootstrap needs rng=np.random.Generator")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError("confidence_level must be strictly between 0 and 1")
    for threshold in thresholds:
        if not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise ValueError(f"thresholds must be finite numbers, got {threshold!r}")


def krippendorff_alpha(
    value_counts: Any,
    value_domain: Any = None,
    level: str = "nominal",
    *,
    n_bootstrap: int = 0,
    rng: np.random.Generator | None = None,
    thresholds: Sequence[float] = (),
    confidence_level: float = 0.95,
    n_annotators: int | None = None,
) -> Coefficient:
    """Krippendorff's alpha with an optional unit-bootstrap confidence interval.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category; missing ratings simply are not counted.
    value_domain : array_like, optional
        Position of each category (increasing for non-nominal levels). Defaults to
        ``0..V-1``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric ([K2011]_).
    n_bootstrap : int, default 0
        Resamples for the percentile interval; 0 disables it.
    rng : numpy.random.Generator, optional
        Required when ``n_bootstrap > 0``.
    thresholds : sequence of float
        Reliability cut-offs (e.g. 0.667 and 0.8, [K2019]_ §12.4); for each, the share
        of bootstrap replicates below it is reported.
    confidence_level : float, default 0.95
        Interval coverage.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``alpha = 1 - D_o / D_e`` ([K2011]_). The point estimate comes from
        ``krippendorff.alpha`` when its dense ``units x V x V`` intermediate fits the
        memory guard, otherwise from :func:`coincidence_alpha` (identical to 1e-9, see
        tests); ``method`` says which. ``components`` holds ``D_o`` and ``D_e``.
        Undefined (with a reason) when no unit has two ratings or the pairable ratings
        show no variation.

    Raises
    ------
    ValueError
        Invalid counts, domain, level or bootstrap arguments.
    """
    name = "krippendorff_alpha"
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    _validate_bootstrap_args(n_bootstrap, rng, thresholds, confidence_level)
    m = counts.sum(axis=1)
    context = {
        "n_units": int((m > 0).sum()),
        "n_pairable_units": int((m >= 2).sum()),
        "n_ratings": int(m.sum()),
        "n_annotators": n_annotators,
    }
    if context["n_ratings"] == 0:
        return Coefficient.undefined(name, "no ratings", **context)
    pairable = counts[m >= 2]
    if len(pairable) == 0:
        return Coefficient.undefined(
            name, "no unit was rated by two or more annotators, so there are no pairs", **context
        )
    plan = _alpha_plan(pairable, positions, level)
    n, observed, expected = _alpha_sums(plan, np.asarray(plan.features.sum(axis=0)).reshape(1, -1))
    if expected[0] <= 0:
        return Coefficient.undefined(
            name,
            "all pairable ratings have the same value: with no variation, alpha is undefined",
            **context,
        )
    components = (
        ("observed_disagreement", float(observed[0] / n[0])),
        ("expected_disagreement", float(expected[0] / (n[0] * (n[0] - 1.0)))),
    )
    n_values = counts.shape[1]
    if len(pairable) * n_values * n_values <= _PACKAGE_MAX_CELLS:
        # Nominal positions are arbitrary codes; hand the package plain distinct indices.
        package_domain = np.arange(n_values) if level == "nominal" else positions
        value = float(
            krippendorff.alpha(
                value_counts=pairable, value_domain=package_domain, level_of_measurement=level
            )
        )
        method = f"{level} metric; point estimate: krippendorff package"
    else:
        value = float(_alpha_from_sums(n, observed, expected)[0])
        method = f"{level} metric; point estimate: per-unit coincidence sums (memory guard)"
    bootstrap: dict[str, Any] = {}
    if n_bootstrap:
        replicates = bootstrap_alpha(pairable, positions, level, n_bootstrap=n_bootstrap, rng=rng)
        bootstrap = _bootstrap_summary(replicates, thresholds, confidence_level)
    else:
        bootstrap["ci_reason"] = "bootstrap disabled (n_bootstrap=0)"
    return Coefficient(
        name=name, value=value, method=method, components=components, **context, **bootstrap
    )


# ---------------------------------------------------------------------------------------
# Fleiss' kappa, Gwet's AC1, percent agreement
# ---------------------------------------------------------------------------------------


def _agreement_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per-unit observed agreement (pairable units), category shares ``pi_k`` and
    the ratings per unit, following [G2014]_ (irrCAC ``*.raw`` functions)."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    per_unit = (counts[pairable] * (counts[pairable] - 1.0)).sum(axis=1) / (
        m[pairable] * (m[pairable] - 1.0)
    )
    rated = m > 0
    if rated.any():
        shares = (counts[rated] / m[rated, None]).mean(axis=0)
    else:
        shares = np.zeros(counts.shape[1])
    return per_unit, shares, m


def _agreement_context(m: np.ndarray, n_annotators: int | None) -> dict[str, Any]:
    return {
        "n_units": int((m > 0).sum()),
        "n_pairable_units": int((m >= 2).sum()),
        "n_ratings": int(m.sum()),
        "n_annotators": n_annotators,
    }


_NO_PAIRS = "no unit was rated by two or more annotators, so there are no pairs"


def percent_agreement(value_counts: Any, *, n_annotators: int | None = None) -> Coefficient:
    """Observed pairwise agreement, averaged over units.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``p_a = mean_u sum_c n_uc (n_uc - 1) / (m_u (m_u - 1))`` over units with
        ``m_u >= 2``: the share of agreeing ordered pairs of ratings within a unit,
        averaged over units ([F1971]_ eq. 2; [G2014]_ §2.3). Exact-match agreement,
        whatever the level of measurement.
    """
    counts = _validated_counts(value_counts)
    per_unit, _, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("percent_agreement", _NO_PAIRS, **context)
    return Coefficient(
        name="percent_agreement",
        value=float(per_unit.mean()),
        method="mean over units of the share of agreeing rating pairs (exact match)",
        **context,
    )


def fleiss_kappa(value_counts: Any, *, n_annotators: int | None = None) -> Coefficient:
    """Fleiss' kappa, generalised to a varying number of ratings per unit.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``kappa = (p_a - p_e) / (1 - p_e)`` with ``p_a`` as in :func:`percent_agreement`
        and ``p_e = sum_k pi_k^2``, ``pi_k = mean_u n_uk / m_u`` over units with at
        least one rating. With the same number of ratings on every unit this is exactly
        Fleiss (1971) ([F1971]_); otherwise it is the missing-data generalisation of
        [G2014]_ §2.5 (irrCAC ``fleiss.kappa.raw``), which keeps all units rather than
        dropping those with fewer ratings. Undefined if no unit has two ratings or only
        one category was ever used (``p_e = 1``).
    """
    counts = _validated_counts(value_counts)
    per_unit, shares, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("fleiss_kappa", _NO_PAIRS, **context)
    observed = float(per_unit.mean())
    chance = float((shares**2).sum())
    if chance >= 1.0 - 1e-12:
        return Coefficient.undefined(
            "fleiss_kappa",
            "only one category was used, so chance agreement is 1 and kappa is undefined",
            **context,
        )
    raters = np.unique(m[m > 0])
    method = (
        f"Fleiss (1971), {int(raters[0])} ratings on every unit"
        if len(raters) == 1
        else "Fleiss (1971) generalised to varying ratings per unit (Gwet 2014)"
    )
    return Coefficient(
        name="fleiss_kappa",
        value=(observed - chance) / (1.0 - chance),
        method=method,
        components=(("observed_agreement", observed), ("chance_agreement", chance)),
        **context,
    )


def gwet_ac1(
    value_counts: Any, *, n_categories: int | None = None, n_annotators: int | None = None
) -> Coefficient:
    """Gwet's first-order agreement coefficient AC1 for many raters and missing ratings.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    n_categories : int, optional
        Size ``q`` of the category set; defaults to ``V``. Pass the full scale size when
        some categories were never used: ``q`` enters the chance term.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``AC1 = (p_a - p_e) / (1 - p_e)`` with ``p_e = sum_k pi_k (1 - pi_k) / (q - 1)``
        and ``p_a``, ``pi_k`` as in :func:`fleiss_kappa` ([G2008]_; missing-data form of
        [G2014]_ §2.5 / irrCAC ``gwet.ac1.raw``). Defined even when everybody used one
        category (then ``p_e = 0``). Undefined with no pairable unit or ``q < 2``.
    """
    counts = _validated_counts(value_counts)
    q = counts.shape[1] if n_categories is None else int(n_categories)
    if q < counts.shape[1]:
        raise ValueError("n_categories cannot be smaller than the number of count columns")
    per_unit, shares, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("gwet_ac1", _NO_PAIRS, **context)
    if q < 2:
        return Coefficient.undefined(
            "gwet_ac1", "the scale has fewer than two categories", **context
        )
    observed = float(per_unit.mean())
    chance = float((shares * (1.0 - shares)).sum() / (q - 1))
    return Coefficient(
        name="gwet_ac1",
        value=(observed - chance) / (1.0 - chance),
        method=f"Gwet (2008) AC1, missing-data form (Gwet 2014), q={q}",
        components=(("observed_agreement", observed), ("chance_agreement", chance)),
        **context,
    )


# ---------------------------------------------------------------------------------------
# Cohen's kappa
# ---------------------------------------------------------------------------------------

_KAPPA_WEIGHTS = ("linear", "quadratic")
_KAPPA_UNDEFINED = "no chance disagreement: both annotators used one identical category"
# Upper bound, in cells, of one block of the co-rating product in cohen_kappa_pairs. Each
# non-zero cell costs ~100 bytes of temporaries (COO indices, divmods, masks), so this
# keeps a block's working set in the low hundreds of MB even when most cells are filled.
_CO_RATING_BLOCK_CELLS = 2_000_000
_DENSE_PAIR_LOOKUP_MAX = 25_000_000


def _disagreement_weights(n_values: int, weights: str | None) -> np.ndarray:
    """Cohen's disagreement weights on category indices: ``[i != j]``, ``|i - j|`` or
    ``(i - j)^2`` ([C1968]_; the convention of ``sklearn.metrics.cohen_kappa_score``)."""
    index = np.arange(n_values, dtype=np.float64)
    if weights is None:
        return 1.0 - np.eye(n_values)
    if weights == "linear":
        return np.abs(index[:, None] - index[None, :])
    if weights == "quadratic":
        return (index[:, None] - index[None, :]) ** 2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


@dataclass
class _PairStatistics:
    """Sufficient statistics of Cohen's kappa for many annotator pairs at once.

    For pair ``p``: ``n`` co-rated units, the first annotator's category counts ``rows``
    and the second's ``cols`` on those units, and ``observed[w] = sum_ij w_ij O_pij`` for
    each weighting ``w``. Kappa needs nothing else:
    ``kappa_w = 1 - observed_w / (rows_p^T W cols_p / n_p)`` ([C1968]_).
    """

    n: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    observed: dict[str | None, np.ndarray]

    @classmethod
    def empty(
        cls, n_pairs: int, n_values: int, weightings: Sequence[str | None]
    ) -> _PairStatistics:
        return cls(
            n=np.zeros(n_pairs),
            rows=np.zeros((n_pairs, n_values)),
            cols=np.zeros((n_pairs, n_values)),
            observed={w: np.zeros(n_pairs) for w in weightings},
        )

    def add(
        self, pair: np.ndarray, value_a: np.ndarray, value_b: np.ndarray, count: np.ndarray
    ) -> None:
        """Add co-rating cells: ``count`` units where pair ``pair`` rated ``(value_a, value_b)``."""
        n_pairs, n_values = self.rows.shape
        self.n += np.bincount(pair, count, minlength=n_pairs)
        flat = n_pairs * n_values
        self.rows += np.bincount(pair * n_values + value_a, count, minlength=flat).reshape(
            n_pairs, n_values
        )
        self.cols += np.bincount(pair * n_values + value_b, count, minlength=flat).reshape(
            n_pairs, n_values
        )
        difference = (value_a - value_b).astype(np.float64)
        for weights in self.observed:
            if weights is None:
                cell_weight = (difference != 0).astype(np.float64)
            elif weights == "linear":
                cell_weight = np.abs(difference)
            else:
                cell_weight = difference**2
            self.observed[weights] += np.bincount(pair, count * cell_weight, minlength=n_pairs)

    def kappa(self, weights: str | None) -> np.ndarray:
        """Kappa per pair; NaN where chance disagreement is zero (or no unit is shared)."""
        n_values = self.rows.shape[1]
        if weights is None:
            # sum_{i != j} r_i c_j without a V x V matrix.
            expected_sum = self.n**2 - (self.rows * self.cols).sum(axis=1)
        else:
            expected_sum = ((self.rows @ _disagreement_weights(n_values, weights)) * self.cols).sum(
                axis=1
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = expected_sum / self.n
            kappa = 1.0 - self.observed[weights] / expected
        usable = (self.n > 0) & (expected > 1e-12 * np.maximum(self.n, 1.0))
        return np.where(usable, kappa, np.nan)


def cohen_kappa(
    codes_a: Any, codes_b: Any, *, n_categories: int, weights: str | None = None
) -> Coefficient:
    """Cohen's kappa between two annotators.

    Parameters
    ----------
    codes_a, codes_b : array_like
        Category codes ``0..n_categories-1`` per unit; NaN/negative = not rated. Only
        units rated by both enter.
    n_categories : int
        Number of categories (fixes the weight matrix).
    weights : {None, "linear", "quadratic"}
        Disagreement weights on category indices ([C1968]_).

    Returns
    -------
    Coefficient
        ``kappa = 1 - sum(w * O) / sum(w * E)`` with observed table ``O`` and chance
        table ``E = outer(rows, cols) / n`` ([C1960]_, [C1968]_). Undefined when no unit is
        shared or chance disagreement is zero (both used the same single category).

    Raises
    ------
    ValueError
        On codes outside ``0..n_categories-1``, mismatched lengths or unknown weights.
    """
    _disagreement_weights(1, weights)
    a = np.asarray(codes_a, dtype=np.float64)
    b = np.asarray(codes_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("codes_a and codes_b must be 1-D arrays of equal length")
    both = np.isfinite(a) & np.isfinite(b) & (a >= 0) & (b >= 0)
    a_codes, b_codes = a[both].astype(np.int64), b[both].astype(np.int64)
    if ((a_codes >= n_categories) | (b_codes >= n_categories)).any():
        raise ValueError("codes must lie in 0..n_categories-1")
    name = "cohen_kappa" if weights is None else f"cohen_kappa_{weights}"
    n_shared = int(both.sum())
    context = {
        "n_units": n_shared,
        "n_pairable_units": n_shared,
        "n_ratings": 2 * n_shared,
        "n_annotators": 2,
    }
    if not n_shared:
        return Coefficient.undefined(name, "the two annotators share no unit", **context)
    statistics = _PairStatistics.empty(1, n_categories, [weights])
    statistics.add(np.zeros(n_shared, dtype=np.int64), a_codes, b_codes, np.ones(n_shared))
    value = statistics.kappa(weights)[0]
    if np.isnan(value):
        return Coefficient.undefined(name, _KAPPA_UNDEFINED, **context)
    return Coefficient(name=name, value=float(value), method=f"weights={weights}", **context)


def _eligible_pairs(data: ReliabilityData, min_shared_units: int) -> tuple[np.ndarray, np.ndarray]:
    presence = sparse.csr_matrix(
        (np.ones(len(data.codes)), (data.unit_index, data.annotator_index)),
        shape=(data.n_units, data.n_annotators),
    )
    shared = sparse.triu(presence.T @ presence, k=1).tocoo()
    keep = shared.data >= min_shared_units
    pair_a, pair_b = shared.row[keep].astype(np.int64), shared.col[keep].astype(np.int64)
    order = np.lexsort((pair_b, pair_a))
    return pair_a[order], pair_b[order]


def cohen_kappa_pairs(data: ReliabilityData, *, min_shared_units: int = 10) -> dict[str, Any]:
    """Cohen's kappa for every pair of annotators sharing enough units.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    min_shared_units : int, default 10
        Pairs with fewer units rated by both are left out.

    Returns
    -------
    dict
        ``min_shared_units``, ``weighted`` (whether linear/quadratic weights apply, i.e.
        the categories are ordered), ``n_pairs``, ``mean_kappa`` (Light's kappa, the
        mean of the defined pairwise kappas, [L1971]_), and ``pairs``: a list of
        ``{a, b, n, kappa, kappa_linear, kappa_quadratic, reason}`` sorted by ids.

    Notes
    -----
    With ``X`` the sparse ``units x (annotators * V)`` one-hot rating matrix, ``X^T X``
    holds every pair's confusion matrix. It is computed in blocks of annotators and each
    block is reduced at once to the per-pair sufficient statistics of
    ``_PairStatistics``, so memory stays bounded for many annotators or categories, and
    the cost is the number of co-rated rating pairs -- no loop over pairs or units.
    """
    if min_shared_units < 1:
        raise ValueError("min_shared_units must be at least 1")
    n_annotators, n_values = data.n_annotators, data.n_categories
    result: dict[str, Any] = {
        "min_shared_units": int(min_shared_units),
        "weighted": bool(data.ordered),
        "weights_reason": None if data.ordered else "weighted kappa needs ordered categories",
        "n_pairs": 0,
        "mean_kappa": None,
        "mean_kappa_reason": "no pair of annotators shares enough units",
        "pairs": [],
    }
    if n_annotators < 2 or n_values == 0:
        return result
    pair_a, pair_b = _eligible_pairs(data, min_shared_units)
    n_pairs = len(pair_a)
    if n_pairs == 0:
        return result
    weightings: list[str | None] = [None, *(_KAPPA_WEIGHTS if data.ordered else ())]
    statistics = _PairStatistics.empty(n_pairs, n_values, weightings)
    if n_annotators * n_annotators <= _DENSE_PAIR_LOOKUP_MAX:
        slot_table = np.full(n_annotators * n_annotators, -1, dtype=np.int64)
        slot_table[pair_a * n_annotators + pair_b] = np.arange(n_pairs)

        def slot_of(keys: np.ndarray) -> np.ndarray:
            return slot_table[keys]
    else:
        sorted_keys = pair_a * n_annotators + pair_b

        def slot_of(keys: np.ndarray) -> np.ndarray:
            found = np.clip(np.searchsorted(sorted_keys, keys), 0, n_pairs - 1)
            return np.where(sorted_keys[found] == keys, found, -1)

    one_hot = sparse.csc_matrix(
        (
            np.ones(len(data.codes)),
            (data.unit_index, data.annotator_index * n_values + data.codes),
        ),
        shape=(data.n_units, n_annotators * n_values),
    )
    block = max(1, _CO_RATING_BLOCK_CELLS // (n_annotators * n_values * n_values))
    for first in range(0, n_annotators, block):
        last = min(n_annotators, first + block)
        # Only columns from `first` on: the pair (a, b) with a < b is met exactly once.
        left = one_hot[:, first * n_values : last * n_values]
        right = one_hot[:, first * n_values :]
        cells = (left.T @ right).tocoo()
        row_annotator, value_a = np.divmod(cells.row.astype(np.int64), n_values)
        col_annotator, value_b = np.divmod(cells.col.astype(np.int64), n_values)
        row_annotator += first
        col_annotator += first
        upper = row_annotator < col_annotator
        slot = np.full(len(upper), -1, dtype=np.int64)
        slot[upper] = slot_of(row_annotator[upper] * n_annotators + col_annotator[upper])
        wanted = slot >= 0
        statistics.add(slot[wanted], value_a[wanted], value_b[wanted], cells.data[wanted])

    kappas = {weights: statistics.kappa(weights) for weights in weightings}

    def as_value(weights: str, index: int) -> float | None:
        if weights not in kappas or np.isnan(kappas[weights][index]):
            return None
        return float(kappas[weights][index])

    pairs = []
    for index in range(n_pairs):
        kappa = as_value(None, index)
        pairs.append(
            {
                "a": str(data.annotator_ids[pair_a[index]]),
                "b": str(data.annotator_ids[pair_b[index]]),
                "n": int(statistics.n[index]),
                "kappa": kappa,
                "kappa_linear": as_value("linear", index),
                "kappa_quadratic": as_value("quadratic", index),
                "reason": None if kappa is not None else _KAPPA_UNDEFINED,
            }
        )
    defined = kappas[None][~np.isnan(kappas[None])]
    result.update(
        n_pairs=n_pairs,
        pairs=pairs,
        mean_kappa=float(defined.mean()) if len(defined) else None,
        mean_kappa_reason=None if len(defined) else _KAPPA_UNDEFINED,
    )
    return result


# ---------------------------------------------------------------------------------------
# Pairwise preferences
# ---------------------------------------------------------------------------------------


def preference_agreement(
    data: ReliabilityData,
    *,
    n_bootstrap: int = 0,
    rng: np.random.Generator | None = None,
    thresholds: Sequence[float] = (),
    confidence_level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Agreement on system-level preference votes, with and without ties.

    Parameters
    ----------
    data : ReliabilityData
        A pairwise question built by :func:`reliability_data` (labels are system names
        then ``"tie"``).
    n_bootstrap, rng, thresholds, confidence_level
        As in :func:`krippendorff_alpha`.

    Returns
    -------
    dict
        ``with_ties``: percent agreement and nominal alpha with "tie" as a category
        (MT-Bench setup S1, [Z2023]_); ``without_ties``: the same on non-tie votes only
        (setup S2: a pair of votes counts only when both are non-tie).

    Raises
    ------
    ValueError
        If ``data`` has no "tie" label (it was not built from a pairwise question).
    """
    if not data.labels or data.labels[-1] != TIE_LABEL:
        raise ValueError("preference_agreement needs pairwise ReliabilityData ending in 'tie'")
    counts = data.value_counts()
    results: dict[str, dict[str, Any]] = {}
    for setup, table in (("with_ties", counts), ("without_ties", counts[:, :-1])):
        results[setup] = {
            "percent_agreement": percent_agreement(table, n_annotators=data.n_annotators).to_dict(),
            "krippendorff_alpha": krippendorff_alpha(
                table,
                None,
                "nominal",
                n_bootstrap=n_bootstrap,
                rng=rng,
                thresholds=thresholds,
                confidence_level=confidence_level,
                n_annotators=data.n_annotators,
            ).to_dict(),
        }
    return results
