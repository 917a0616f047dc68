"""Simulated error-flag studies with any number of tone conditions, and their exact truths.

Pure numpy/scipy, for the metric tests: prompts answered in every tone condition (the
tones of one prompt are matched rewrites sharing its planted errors), a crowd pool whose
per-rating hit and false-alarm rates depend on the tone and vary across workers
(logit-normal, one z-score per worker for every tone), and an expert pool giving one label
per output on a subset of prompts. The estimands are population values, so a correct 95%
interval covers them in about 95% of seeds:

* hit rate / false-alarm rate of a pool in a tone: E[expit(logit(p) + sd * Z)];
* d' of a pool in a tone: z(hit rate) - z(false-alarm rate);
* under-reporting in a tone: P(the expert flags an output) - P(a strict majority of its
  crowd ratings flag it), with each crowd rating from a different worker, so the k flags
  on an output are independent Bernoulli(population rate) draws, k uniform on the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()

QUESTION = "has_factual_error"


def logit_normal_mean(p: float, sd: float) -> float:
    if sd == 0 or p in (0.0, 1.0):
        return float(p)
    return float(np.sum(_WEIGHTS * special.expit(special.logit(p) + sd * _NODES)))


@dataclass(frozen=True)
class ToneStudy:
    """Design and planted behaviour; rates are per rating, medians across workers."""

    tones: tuple[str, ...] = ("assertive", "baseline", "hedged", "complex", "simple")
    n_prompts: int = 300
    error_probability: float = 0.45
    crowd_hit_rate: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 0.35,
            "baseline": 0.5,
            "hedged": 0.65,
            "complex": 0.4,
            "simple": 0.6,
        }
    )
    crowd_false_alarm_rate: Mapping[str, float] = field(
        default_factory=lambda: {
            "assertive": 0.08,
            "baseline": 0.12,
            "hedged": 0.2,
            "complex": 0.12,
            "simple": 0.12,
        }
    )
    crowd_logit_sd: float = 0.5
    n_crowd: int = 300
    crowd_ratings: tuple[int, int] = (3, 8)
    expert_hit_rate: float = 0.9
    expert_false_alarm_rate: float = 0.05
    n_experts: int = 3
    expert_prompts: int = 60
    systems: tuple[str, ...] = ("model-a", "model-b", "model-c")

    def truth(self) -> dict[str, dict[str, float]]:
        """Population hit rate, false alarms, d' and under-reporting per tone."""
        lo, hi = self.crowd_ratings
        ks = np.arange(lo, hi + 1)
        out: dict[str, dict[str, float]] = {}
        for t in self.tones:
            hr = logit_normal_mean(self.crowd_hit_rate[t], self.crowd_logit_sd)
            fa = logit_normal_mean(self.crowd_false_alarm_rate[t], self.crowd_logit_sd)
            # P(strict majority of k flags), averaged over k.
            maj_hr = float(np.mean([stats.binom.sf(k // 2, k, hr) for k in ks]))
            maj_fa = float(np.mean([stats.binom.sf(k // 2, k, fa) for k in ks]))
            pi = self.error_probability
            expert = pi * self.expert_hit_rate + (1 - pi) * self.expert_false_alarm_rate
            crowd_majority = pi * maj_hr + (1 - pi) * maj_fa
            out[t] = {
                "hit_rate": hr,
                "false_alarm_rate": fa,
                "d_prime": float(stats.norm.ppf(hr) - stats.norm.ppf(fa)),
                "under_reporting": expert - crowd_majority,
            }
        return out


def simulate(study: ToneStudy, seed: int) -> pd.DataFrame:
    """The long annotation table of one simulated study (flags coded 0/1)."""
    rng = np.random.default_rng(seed)
    tones = list(study.tones)
    n_p, n_t = study.n_prompts, len(tones)
    has_error = rng.random(n_p) < study.error_probability
    n_errors = np.where(has_error, 1 + rng.binomial(1, 0.5, n_p), 0)
    system = rng.integers(0, len(study.systems), n_p)
    # Outputs: prompt-major, one per tone.
    o_prompt = np.repeat(np.arange(n_p), n_t)
    o_tone = np.tile(np.arange(n_t), n_p)
    n_out = n_p * n_t
    z_worker = rng.normal(size=study.n_crowd)
    z_fa = rng.normal(size=study.n_crowd)
    lo, hi = study.crowd_ratings
    k = rng.integers(lo, hi + 1, n_out)
    r_out = np.repeat(np.arange(n_out), k)
    # Distinct workers per output.
    keys = rng.random((n_out, study.n_crowd))
    picks = np.argsort(keys, axis=1)[:, :hi]
    r_worker = np.concatenate([picks[o, : k[o]] for o in range(n_out)])
    hr = np.array([special.logit(study.crowd_hit_rate[t]) for t in tones])
    fa = np.array([special.logit(study.crowd_false_alarm_rate[t]) for t in tones])
    err = has_error[o_prompt[r_out]]
    logit = np.where(
        err,
        hr[o_tone[r_out]] + study.crowd_logit_sd * z_worker[r_worker],
        fa[o_tone[r_out]] + study.crowd_logit_sd * z_fa[r_worker],
    )
    flag = (rng.random(len(r_out)) < special.expit(logit)).astype(int)
    frames = [
        _frame(
            study,
            r_out,
            np.char.add("crowd-", r_worker.astype(str)),
            "crowd",
            flag,
            o_prompt,
            o_tone,
            n_errors,
            system,
        )
    ]
    if study.expert_prompts:
        chosen = np.sort(rng.choice(n_p, size=study.expert_prompts, replace=False))
        e_out = (chosen[:, None] * n_t + np.arange(n_t)[None, :]).ravel()
        e_err = has_error[o_prompt[e_out]]
        p = np.where(e_err, study.expert_hit_rate, study.expert_false_alarm_rate)
        e_flag = (rng.random(len(e_out)) < p).astype(int)
        expert = rng.integers(0, study.n_experts, len(e_out))
        frames.append(
            _frame(
                study,
                e_out,
                np.char.add("expert-", expert.astype(str)),
                "expert",
                e_flag,
                o_prompt,
                o_tone,
                n_errors,
                system,
            )
        )
    return pd.concat(frames, ignore_index=True)


def _frame(
    study: ToneStudy,
    outputs: np.ndarray,
    annotators: np.ndarray,
    pool: str,
    flags: np.ndarray,
    o_prompt: np.ndarray,
    o_tone: np.ndarray,
    n_errors: np.ndarray,
    system: np.ndarray,
) -> pd.DataFrame:
    tones = np.array(study.tones, dtype=object)
    ids = np.char.add("o", outputs.astype(str))
    return pd.DataFrame(
        {
            "unit_id": ids,
            "output_id": ids,
            "annotator_id": annotators,
            "pool": pool,
            "question": QUESTION,
            "value": flags.astype(object),
            "prompt_id": np.char.add("p", o_prompt[outputs].astype(str)),
            "system": np.array(study.systems, dtype=object)[system[o_prompt[outputs]]],
            "tone": tones[o_tone[outputs]],
            "n_known_errors": n_errors[o_prompt[outputs]],
        }
    )


def booleans(table: pd.DataFrame, question: str = QUESTION) -> pd.DataFrame:
    """The same table with the flag answered True/False, as a task's answers are."""
    out = table.copy()
    rows = out["question"] == question
    out["value"] = out["value"].astype(object)
    out.loc[rows, "value"] = [bool(v) for v in out.loc[rows, "value"]]
    return out
