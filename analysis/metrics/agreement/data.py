"""Answers as coefficients take them: labels encoded once, pairwise votes mapped from
display position to system, and the units x annotators reliability data."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.agreement.coefficient import LEVELS
from analysis.metrics.say import say

TIE_LABEL = "tie"
PREFERENCE_ANSWERS = {"a": "first", "b": "second", "tie": TIE_LABEL}

# A units x categories count table must fit comfortably inside the 2 GB budget.
_MAX_COUNT_CELLS = 25_000_000


class NonFiniteAnswer(ValueError):
    """An answer is an infinite number: its question cannot be analysed, but the rest of a
    report can (see :func:`analysis.metrics.report.agreement_report`)."""


def label_key(label: Any) -> tuple[str, Any]:
    """Identity of a label across representations: 3, 3.0 and np.int64(3) are one label."""
    if isinstance(label, bool | np.bool_):
        return ("bool", bool(label))
    if isinstance(label, numbers.Real):
        as_float = float(label)
        if not math.isfinite(as_float):
            raise NonFiniteAnswer(
                f"the answers include {say(as_float)}, which is not a finite number: no "
                "agreement coefficient can use it"
            )
        return ("number", as_float)
    if isinstance(label, str):
        return ("text", label)
    raise ValueError(f"the answer {say(label)} is neither a number, a yes/no nor a text label")


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
        raise ValueError(
            f"unknown level of measurement {say(level)}; expected one of {say(LEVELS)}"
        )
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
            raise ValueError(f"'order' contains duplicate labels: {say(order_list)}")
        listed = set(domain_keys)
        unknown = [u for u, key in zip(uniques, unique_keys, strict=True) if key not in listed]
        if unknown:
            raise ValueError(f"answers not listed in 'order': {say(unknown[:5])}")
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
            f"pairwise answers must be 'A', 'B' or 'tie', got {say(answers[bad].unique()[:5])}"
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
        raise ValueError(f"a system may not be named '{TIE_LABEL}': it is the tie label")
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
        raise ValueError(f"rating {say(error.args[0])} is not in value_domain") from None
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
        raise ValueError(f"question “{question}”: unknown level {say(level)}")
    source_rows = np.flatnonzero(table["question"].astype(str).to_numpy() == str(question))
    rows = table.iloc[source_rows]
    values = rows["value"].reset_index(drop=True)
    order = spec.get("order")

    if spec.get("type") == "pairwise":
        values, order = _preference_values(question, level, rows, values)
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
            f"question “{question}”: an annotator answered the same unit more than once"
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


def _preference_values(
    question: str, level: Any, rows: pd.DataFrame, values: pd.Series
) -> tuple[pd.Series, list[Any]]:
    """A pairwise question's votes as the winning system (or "tie"), and the label order:
    the systems sorted, then "tie"."""
    if level != "nominal":
        raise ValueError(f"pairwise question “{question}” must have level 'nominal'")
    if "shown_order" not in rows.columns:
        raise ValueError(f"pairwise question “{question}” needs a shown_order column")
    votes = canonical_preferences(values, rows["shown_order"])
    pair_frame = pd.DataFrame({"unit": rows["unit_id"].astype(str).to_numpy(), "pair": votes.pair})
    pairs_per_unit = pair_frame.dropna().groupby("unit")["pair"].nunique()
    if (pairs_per_unit > 1).any():
        raise ValueError(
            f"pairwise question “{question}”: units shown with different system pairs: "
            f"{say(pairs_per_unit[pairs_per_unit > 1].index[:5].tolist())}"
        )
    systems = sorted({w for w in votes.winner if w is not None and w != TIE_LABEL})
    return pd.Series(votes.winner, dtype=object), [*systems, TIE_LABEL]
