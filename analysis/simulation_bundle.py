"""A synthetic study bundle shaped like a published crowd-plus-expert study of LLM outputs.

Pure numpy/pandas (no Django). The shape follows the crowd studies of style versus
substance (Hosking, Blunsom & Bartolo 2024, "Human Feedback is not Gold Standard"):

* **Outputs.** ``n_prompts`` prompts, each answered by one of ``systems``; every answer
  exists in five tone conditions -- ``baseline`` (the system's own answer),
  ``assertive`` and ``hedged`` (matched rewrites of the baseline: same facts, same planted
  errors, ``variant`` labels naming the rewrite), and ``complex`` and ``simple`` (answers
  written anew in that register, with their own planted errors). 300 prompts give 1,500
  outputs.
* **Planted errors.** Each baseline, complex and simple output carries 0-2 factual errors
  (``known_errors``, a list of them) with probability ``error_probability``; the
  rewrites inherit the baseline's. Other error types (inconsistency, relevance,
  repetition) are present or not per output, recorded only in the ground truth.
* **Crowd.** ``n_crowd`` workers; each output gets ``crowd_ratings`` (3-8, uniform)
  ratings from distinct workers. A rating answers a yes/no flag per error type, an
  ``overall`` score 1-5 and an ``assertiveness`` score 1-5. The crowd's factual-error
  hit rate and false-alarm rate depend on the tone (``crowd_hit_rate``,
  ``crowd_false_alarm_rate``; logit-normal across workers), and its overall score has a
  tone premium (``crowd_tone_premium``): the effects a report should find.
* **Experts.** ``n_experts`` experts; one expert label per output on a subset of
  ``expert_outputs`` outputs (the same number per tone), with tone-independent hit and
  false-alarm rates.

`generate_study` returns the three bundle tables (annotations in long format, units,
annotators), the question declarations the import needs, and the ground truth;
`write_bundle` writes them as CSV, JSONL or Parquet files that
``manage.py import_annotations`` (and the upload page, and the API) take as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from scipy import special

from analysis.simulation import logit_normal_mean

TONES = ("assertive", "baseline", "hedged", "complex", "simple")
# Matched rewrites of the baseline answer: same prompt, system, facts and planted errors.
REWRITES = ("assertive", "hedged")
ERROR_TYPES = ("factuality", "inconsistency", "relevance", "repetition")
FLAG_QUESTIONS = {kind: f"error_{kind}" for kind in ERROR_TYPES}
QUALITY = "overall"
ASSERTIVENESS = "assertiveness"
ERROR_FLAG = FLAG_QUESTIONS["factuality"]
CROWD_POOL = "crowd"
EXPERT_POOL = "experts"

# Filler vocabulary for output texts: only their lengths matter to the analysis.
_WORDS = (
    "the answer depends on measured values reported in literature and conditions of "
    "each experiment so results vary with context sample size and method"
)


@dataclass(frozen=True)
class BundleConfig:
    """Sizes and planted effects of the synthetic study (defaults: the published shape).

    Rates are per rating; the crowd's vary across workers on the logit scale with SD
    ``crowd_logit_sd`` (the population rates in `truth` account for it).
    """

    n_prompts: int = 300
    systems: tuple[str, ...] = ("model-a", "model-b", "model-c", "model-d")
    n_crowd: int = 400
    crowd_ratings: tuple[int, int] = (3, 8)
    n_experts: int = 3
    expert_outputs: int = 300
    error_probability: float = 0.45
    other_error_probability: float = 0.2
    crowd_hit_rate: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 0.40,
            "baseline": 0.55,
            "hedged": 0.65,
            "complex": 0.45,
            "simple": 0.60,
        }
    )
    crowd_false_alarm_rate: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 0.06,
            "baseline": 0.10,
            "hedged": 0.15,
            "complex": 0.12,
            "simple": 0.08,
        }
    )
    crowd_logit_sd: float = 0.5
    crowd_other_hit_rate: float = 0.5
    crowd_other_false_alarm_rate: float = 0.08
    expert_hit_rate: float = 0.92
    expert_false_alarm_rate: float = 0.04
    # Latent quality points added to the crowd's overall score, by tone.
    crowd_tone_premium: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 0.5,
            "baseline": 0.0,
            "hedged": -0.2,
            "complex": 0.2,
            "simple": -0.1,
        }
    )
    # Perceived assertiveness (latent 1-5 scale) by tone.
    assertiveness_by_tone: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 4.3,
            "baseline": 3.2,
            "hedged": 2.0,
            "complex": 3.4,
            "simple": 3.0,
        }
    )
    quality_mean: float = 3.4
    error_penalty: float = 1.2
    noise_sd: float = 0.8
    # Mean output length in characters, by tone.
    length_by_tone: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 700.0,
            "baseline": 750.0,
            "hedged": 820.0,
            "complex": 1100.0,
            "simple": 450.0,
        }
    )
    guideline_version: str = "1"

    def __post_init__(self) -> None:
        low, high = self.crowd_ratings
        if not 1 <= low <= high:
            raise ValueError("crowd_ratings must be (low, high) with 1 <= low <= high")
        if high > self.n_crowd:
            raise ValueError("each output needs distinct crowd workers: n_crowd >= high")
        if self.expert_outputs > self.n_prompts * len(TONES):
            raise ValueError("expert_outputs exceeds the number of outputs")
        if self.expert_outputs % len(TONES):
            raise ValueError("expert_outputs must split evenly over the five tones")
        for name in ("crowd_hit_rate", "crowd_false_alarm_rate", "crowd_tone_premium"):
            if set(getattr(self, name)) != set(TONES):
                raise ValueError(f"{name} needs a value for each of {', '.join(TONES)}")


@dataclass
class SyntheticBundle:
    config: BundleConfig
    annotations: pd.DataFrame  # unit, annotator, question, value, guideline_version
    units: pd.DataFrame  # unit, prompt_id, system, output, tone, known_errors, variant
    annotators: pd.DataFrame  # annotator, pool, pool_kind, attr.*
    declarations: dict[str, dict[str, Any]]
    truth: dict[str, Any]


def _texts(rng: np.random.Generator, lengths: np.ndarray) -> list[str]:
    """Readable filler of about the given lengths in characters (only length matters)."""
    words = np.asarray(_WORDS.split(" "), dtype=object)
    out = []
    for length in lengths:
        n = max(1, int(length) // 6)
        out.append(" ".join(words[rng.integers(0, len(words), size=n)]).capitalize() + ".")
    return out


def _outputs(config: BundleConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = config.n_prompts
    prompt = np.repeat(np.arange(n), len(TONES))
    tone = np.tile(np.asarray(TONES, dtype=object), n)
    system = np.asarray(config.systems, dtype=object)[rng.integers(0, len(config.systems), n)]
    # Planted factual errors: baseline, complex and simple drawn apart; the rewrites copy
    # the baseline's, so matched pairs differ in tone only.
    drawn = {
        t: np.where(rng.random(n) < config.error_probability, rng.integers(1, 3, size=n), 0)
        for t in ("baseline", "complex", "simple")
    }
    errors = np.empty(n * len(TONES), dtype=np.int64)
    for j, t in enumerate(TONES):
        errors[j :: len(TONES)] = drawn["baseline" if t in REWRITES else t]
    other = {
        kind: rng.random(n * len(TONES)) < config.other_error_probability
        for kind in ERROR_TYPES[1:]
    }
    mean_length = np.asarray([config.length_by_tone[t] for t in tone], dtype=float)
    lengths = np.maximum(40, rng.lognormal(np.log(mean_length), 0.25)).round()
    frame = pd.DataFrame(
        {
            "unit": [f"o{i + 1:05d}" for i in range(n * len(TONES))],
            "prompt_id": [f"q{p + 1:04d}" for p in prompt],
            "system": system[prompt],
            "tone": tone,
            "variant": ["" if t == "baseline" else t for t in tone],
            "n_errors": errors,
            "content": rng.normal(0.0, 0.5, n)[prompt],
            "length": lengths.astype(int),
        }
    )
    for kind, present in other.items():
        frame[f"has_{kind}"] = present
    frame["has_factuality"] = frame["n_errors"] > 0
    return frame


def _crowd_assignments(
    config: BundleConfig, rng: np.random.Generator, n_outputs: int
) -> tuple[np.ndarray, np.ndarray]:
    """(output index, worker index) of every crowd rating: k ~ U{low..high} distinct
    workers per output, workers drawn with probability falling as they fill up, so loads
    stay near even as on a crowd platform."""
    low, high = config.crowd_ratings
    k = rng.integers(low, high + 1, size=n_outputs)
    load = np.zeros(config.n_crowd)
    outputs, workers = [], []
    for i in range(n_outputs):
        weights = 1.0 / (1.0 + load)
        chosen = rng.choice(config.n_crowd, size=k[i], replace=False, p=weights / weights.sum())
        load[chosen] += 1
        outputs.append(np.full(k[i], i))
        workers.append(chosen)
    return np.concatenate(outputs), np.concatenate(workers)


def _likert(latent: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(latent), 1, 5).astype(int)


def _rate(
    config: BundleConfig,
    rng: np.random.Generator,
    outputs: pd.DataFrame,
    out_idx: np.ndarray,
    *,
    hit: np.ndarray,
    false_alarm: np.ndarray,
    other_hit: float,
    other_false_alarm: float,
    premium: np.ndarray,
    leniency: np.ndarray,
) -> dict[str, np.ndarray]:
    """Answers of ratings of `outputs.iloc[out_idx]` (per-rating hit/false-alarm rates)."""
    rows = outputs.iloc[out_idx]
    answers: dict[str, np.ndarray] = {}
    has = rows["has_factuality"].to_numpy()
    answers[ERROR_FLAG] = np.where(
        has, rng.random(len(rows)) < hit, rng.random(len(rows)) < false_alarm
    )
    for kind in ERROR_TYPES[1:]:
        present = rows[f"has_{kind}"].to_numpy()
        p = np.where(present, other_hit, other_false_alarm)
        answers[FLAG_QUESTIONS[kind]] = rng.random(len(rows)) < p
    latent = (
        config.quality_mean
        + rows["content"].to_numpy()
        + premium
        + leniency
        - config.error_penalty * answers[ERROR_FLAG]
        + rng.normal(0.0, config.noise_sd, len(rows))
    )
    answers[QUALITY] = _likert(latent)
    tone_level = np.asarray([config.assertiveness_by_tone[t] for t in rows["tone"]])
    answers[ASSERTIVENESS] = _likert(tone_level + rng.normal(0.0, 0.7, len(rows)))
    return answers


def _long(
    units: np.ndarray, annotators: np.ndarray, answers: Mapping[str, np.ndarray], version: str
) -> pd.DataFrame:
    parts = []
    for question, values in answers.items():
        text = (
            np.where(values, "true", "false")
            if values.dtype == bool
            else values.astype(str).astype(object)
        )
        parts.append(
            pd.DataFrame(
                {"unit": units, "annotator": annotators, "question": question, "value": text}
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["guideline_version"] = version
    return frame


def generate_study(
    config: BundleConfig | None = None, *, rng: np.random.Generator
) -> SyntheticBundle:
    """Draw one synthetic study (see the module docstring)."""
    config = config or BundleConfig()
    outputs = _outputs(config, rng)
    n_outputs = len(outputs)
    tones = outputs["tone"].to_numpy()

    # Crowd: per-worker logit offsets (one z-score for hits and false alarms each).
    out_idx, worker = _crowd_assignments(config, rng, n_outputs)
    z_hit = rng.normal(0.0, config.crowd_logit_sd, config.n_crowd)
    z_fa = rng.normal(0.0, config.crowd_logit_sd, config.n_crowd)
    leniency = rng.normal(0.0, 0.3, config.n_crowd)
    rated_tones = tones[out_idx]
    hit = special.expit(
        special.logit(np.asarray([config.crowd_hit_rate[t] for t in rated_tones])) + z_hit[worker]
    )
    false_alarm = special.expit(
        special.logit(np.asarray([config.crowd_false_alarm_rate[t] for t in rated_tones]))
        + z_fa[worker]
    )
    crowd_answers = _rate(
        config,
        rng,
        outputs,
        out_idx,
        hit=hit,
        false_alarm=false_alarm,
        other_hit=config.crowd_other_hit_rate,
        other_false_alarm=config.crowd_other_false_alarm_rate,
        premium=np.asarray([config.crowd_tone_premium[t] for t in rated_tones]),
        leniency=leniency[worker],
    )
    crowd_ids = np.asarray([f"cw-{w + 1:04d}" for w in range(config.n_crowd)], dtype=object)
    crowd = _long(
        outputs["unit"].to_numpy()[out_idx],
        crowd_ids[worker],
        crowd_answers,
        config.guideline_version,
    )

    # Experts: the same number of outputs per tone, one expert label each.
    per_tone = config.expert_outputs // len(TONES)
    expert_idx = np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(tones == t), size=per_tone, replace=False) for t in TONES]
        )
    )
    expert_of = rng.integers(0, config.n_experts, size=len(expert_idx))
    expert_answers = _rate(
        config,
        rng,
        outputs,
        expert_idx,
        hit=np.full(len(expert_idx), config.expert_hit_rate),
        false_alarm=np.full(len(expert_idx), config.expert_false_alarm_rate),
        other_hit=config.expert_hit_rate,
        other_false_alarm=config.expert_false_alarm_rate,
        premium=np.zeros(len(expert_idx)),
        leniency=np.zeros(len(expert_idx)),
    )
    expert_ids = np.asarray([f"ex-{e + 1:02d}" for e in range(config.n_experts)], dtype=object)
    experts = _long(
        outputs["unit"].to_numpy()[expert_idx],
        expert_ids[expert_of],
        expert_answers,
        config.guideline_version,
    )
    annotations = pd.concat([crowd, experts], ignore_index=True)
    annotations = annotations.sort_values(["unit", "annotator", "question"], kind="stable")
    annotations = annotations.reset_index(drop=True)

    units = pd.DataFrame(
        {
            "unit": outputs["unit"],
            "prompt_id": outputs["prompt_id"],
            "system": outputs["system"],
            "output": _texts(rng, outputs["length"].to_numpy()),
            "tone": outputs["tone"],
            "known_errors": [
                [f"planted factual error {e + 1}" for e in range(n)] for n in outputs["n_errors"]
            ],
            "variant": outputs["variant"],
        }
    )
    countries = np.asarray(["GB", "US", "IN", "KE", "PH", "DE"], dtype=object)
    annotators = pd.DataFrame(
        {
            "annotator": [*crowd_ids, *expert_ids],
            "pool": [CROWD_POOL] * config.n_crowd + [EXPERT_POOL] * config.n_experts,
            "pool_kind": ["crowd"] * config.n_crowd + ["expert"] * config.n_experts,
            "attr.country": [*countries[rng.integers(0, len(countries), config.n_crowd)]]
            + ["GB"] * config.n_experts,
            "attr.age_band": [
                *np.asarray(["18-29", "30-44", "45-64", "65+"], dtype=object)[
                    rng.integers(0, 4, config.n_crowd)
                ]
            ]
            + ["30-44"] * config.n_experts,
        }
    )
    declarations: dict[str, dict[str, Any]] = {
        QUALITY: {"level": "ordinal", "role": "quality"},
        ASSERTIVENESS: {"level": "ordinal", "role": "assertiveness"},
        ERROR_FLAG: {"role": "error_flag"},
    }
    truth = _truth(config, outputs, expert_idx)
    return SyntheticBundle(config, annotations, units, annotators, declarations, truth)


def _truth(config: BundleConfig, outputs: pd.DataFrame, expert_idx: np.ndarray) -> dict[str, Any]:
    """Planted parameters, the population per-rating rates they imply, and the realised
    design (how many outputs per tone carry an error, overall and in the expert subset)."""
    sd = config.crowd_logit_sd
    by_tone = outputs.groupby("tone", sort=False)["has_factuality"]
    expert = outputs.iloc[expert_idx].groupby("tone", sort=False)["has_factuality"]
    return {
        "config": {
            key: (dict(value) if isinstance(value, Mapping) else value)
            for key, value in asdict(config).items()
        },
        "crowd_hit_rate": {t: logit_normal_mean(config.crowd_hit_rate[t], sd) for t in TONES},
        "crowd_false_alarm_rate": {
            t: logit_normal_mean(config.crowd_false_alarm_rate[t], sd) for t in TONES
        },
        "expert_hit_rate": config.expert_hit_rate,
        "expert_false_alarm_rate": config.expert_false_alarm_rate,
        "crowd_tone_premium": dict(config.crowd_tone_premium),
        "outputs_per_tone": {t: int(n) for t, n in by_tone.size().items()},
        "outputs_with_errors_per_tone": {t: int(n) for t, n in by_tone.sum().items()},
        "expert_outputs_with_errors_per_tone": {t: int(n) for t, n in expert.sum().items()},
        "matched_rewrites": list(REWRITES),
    }


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundlePaths:
    annotations: Path
    units: Path
    annotators: Path


def _declaration_lines(declarations: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = []
    for question, spec in sorted(declarations.items()):
        for key in ("level", "role"):
            if spec.get(key):
                lines.append(f"{key} {question}={spec[key]}")
    return lines


def write_bundle(study: SyntheticBundle, directory: Path, *, fmt: str = "csv") -> BundlePaths:
    """Write the three files of `study` into `directory` as ``fmt`` (csv, jsonl or
    parquet); the annotations file carries the question declarations (CSV header
    block, JSONL first line, Parquet schema metadata)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = BundlePaths(
        annotations=directory / f"annotations.{fmt}",
        units=directory / f"units.{fmt}",
        annotators=directory / f"annotators.{fmt}",
    )
    units = study.units
    if fmt == "csv":
        header = "".join(f"# {line}\n" for line in _declaration_lines(study.declarations))
        paths.annotations.write_text(header + study.annotations.to_csv(index=False))
        units = units.assign(known_errors=[orjson.dumps(v).decode() for v in units["known_errors"]])
        units.to_csv(paths.units, index=False)
        study.annotators.to_csv(paths.annotators, index=False)
    elif fmt == "jsonl":
        first = orjson.dumps({"questions": study.declarations}).decode()
        body = study.annotations.to_json(orient="records", lines=True, force_ascii=False)
        paths.annotations.write_text(first + "\n" + body)
        paths.units.write_text(units.to_json(orient="records", lines=True, force_ascii=False))
        paths.annotators.write_text(
            study.annotators.to_json(orient="records", lines=True, force_ascii=False)
        )
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(study.annotations, preserve_index=False)
        table = table.replace_schema_metadata(
            {"judgebench.questions": orjson.dumps(study.declarations)}
        )
        pq.write_table(table, paths.annotations)
        pq.write_table(pa.Table.from_pandas(units, preserve_index=False), paths.units)
        pq.write_table(
            pa.Table.from_pandas(study.annotators, preserve_index=False), paths.annotators
        )
    else:
        raise ValueError(f"unknown format {fmt!r}; use csv, jsonl or parquet")
    return paths
