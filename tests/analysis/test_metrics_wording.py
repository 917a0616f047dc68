"""What the metrics say to people: reasons, warnings and refusals never show a Python repr,
a numpy type or an internal container, whatever values the data hold."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.metrics.bias import bias_report, error_detection_by_tone, stable_rng
from analysis.metrics.bias.common import say
from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report, majority_of_k_curve

METRICS = Path(__file__).resolve().parents[2] / "analysis" / "metrics"
# The report description's own consistency checks speak to developers, not researchers.
FOR_DEVELOPERS = ("report_schema",)
REPR_SIGNS = re.compile(r"np\.|numpy|int64|float64|array\(|\{'|\['|\bTrue\b|\bFalse\b|\bnan\b")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.int64(0), "0"),
        (np.float64(2.5), "2.5"),
        (3.0, "3"),
        (True, "true"),
        (np.bool_(False), "false"),
        ("yes", "“yes”"),
        (None, "empty"),
        (math.nan, "empty"),
        (math.inf, "infinity"),
        ([np.int64(1), "b"], "1, “b”"),
        ({"assertive": np.int64(3)}, "“assertive”: 3"),
        (np.array([0.5, 1.0]), "0.5, 1"),
    ],
)
def test_values_are_said_plainly(value, text):
    assert say(value) == text


def test_no_message_of_the_metrics_uses_a_repr():
    paths = [p for p in sorted(METRICS.rglob("*.py")) if p.parent.name not in FOR_DEVELOPERS]
    assert len(paths) > 30
    for path in paths:
        source = path.read_text(encoding="utf-8")
        assert "!r}" not in source, f"{path.relative_to(METRICS)} formats a value with its repr"


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for unit in range(40):
        for annotator in range(4):
            rows.append(
                {
                    "unit_id": f"u{unit}",
                    "annotator_id": f"a{annotator}",
                    "pool": "crowd" if annotator < 3 else "expert",
                    "question": "has_factual_error",
                    "value": np.bool_(rng.random() < 0.3),
                    "prompt_id": f"p{unit // 2}",
                    "tone": ("assertive", "hedged")[unit % 2],
                    "n_known_errors": np.int64(unit % 3 == 0),
                }
            )
    return pd.DataFrame(rows)


def test_refusals_and_reasons_from_odd_data_are_in_words():
    table = _table()
    messages = []
    bad = table.astype({"value": object})
    bad.loc[3, "value"] = np.float64(0.5)
    with pytest.raises(ValueError) as refused:
        error_detection_by_tone(bad, rng=stable_rng(0, "w"), n_bootstrap=10)
    messages.append(str(refused.value))
    with pytest.raises(ValueError) as refused:
        majority_of_k_curve(
            table,
            question="has_factual_error",
            spec={"level": "nominal", "binary": True},
            rng=stable_rng(0, "w"),
            reference=pd.Series({"u1": np.int64(5)}),
        )
    messages.append(str(refused.value))
    with pytest.raises(ValueError) as refused:
        bias_report(table.drop(columns=["pool"]), pool_column="pool")
    messages.append(str(refused.value))
    crowd_only = expert_vs_crowd_report(table[table["pool"] == "crowd"], n_bootstrap=10)
    messages.append(crowd_only["reason"])
    first_units = table["unit_id"].isin([f"u{unit}" for unit in range(12)])
    few = error_detection_by_tone(table[first_units], rng=stable_rng(0, "w"), n_bootstrap=10)
    messages += [few["reason"], *few["warnings"]]
    missing_tone = error_detection_by_tone(
        table, rng=stable_rng(0, "w"), treated="neutral", n_bootstrap=10
    )
    messages.append(missing_tone["reason"])
    for message in messages:
        assert message and not REPR_SIGNS.search(message), message
