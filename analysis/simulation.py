"""Annotator simulator with planted tone, detection, position and length biases.

Pure numpy/pandas (no Django). It generates a study shaped like the platform's data:

* prompts x systems give *contents*; every content exists in two matched tone variants
  (``"assertive"`` and ``"hedged"``) that share the facts, the injected error count and the
  length -- the matched design recommended by Hosking et al. (2024) and Wu & Aji (2025);
* annotator pools (e.g. ``"crowd"`` and ``"expert"``) whose behaviour is set per pool by a
  :class:`PoolBehaviour`;
* a single-output rubric task (``quality`` 1-5, ``has_factual_error`` 0/1, ``assertiveness``
  1-5) and a pairwise task (``preference`` ``"A"``/``"B"``/``"tie"``, counterbalanced order);
* the exact population values of the quantities the bias checks estimate
  (:attr:`SimulatedStudy.truth`), so tests can check interval coverage.

Generative model (per rubric rating r by annotator a on output i of content (p, s))::

    flag_r      ~ Bernoulli(h_a,tone(i))   if n_errors(i) > 0   (hit)
                ~ Bernoulli(f_a)           otherwise            (false alarm)
    latent_r    = mu + sys_s + c_ps + u_a + tone_bias * [assertive]
                  + length_bias * z_len(i) - error_penalty * flag_r + noise_sd * eps_r
    quality_r   = clip(round(latent_r), 1, 5)

with c ~ N(0, content_sd^2), u_a ~ N(leniency_mean, leniency_sd^2), z_len the log length
standardised by its population mean and SD, logit h_a,t ~ N(logit hit_rate_t, hit_rate_logit_sd^2)
(the same annotator z-score for both tones) and logit f_a ~ N(logit false_alarm_rate, ...).
Because every random part of ``latent`` except the flag is Gaussian, the expected Likert value
is exact: E[clip(round(X))] = 1 + sum_{k=1..4} Phi((m - k - 1/2)/s); :func:`population_truth`
uses this (and Gauss-Hermite quadrature for the logit-normal rates) to give the estimands.

Pairwise choices: a tie with probability ``tie_rate``; otherwise, with probability
2|position_bias| a position heuristic (first position if ``position_bias`` > 0, else second);
otherwise a merit choice with P(X) = logistic(preference_scale * (q_X - q_Y)), where q is the
rater's perceived quality (content, system, tone premium, length premium, expected error
penalty). Because the shown order is counterbalanced, P(first position wins | no tie) is
exactly 1/2 + position_bias.

References
----------
Hosking, Blunsom & Bartolo (2024), "Human Feedback is not Gold Standard", ICLR.
Wu & Aji (2025), "Style Over Substance", COLING.
Hautus (1995), Behavior Research Methods 27:46-51 (log-linear d' correction used by the checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

ASSERTIVE = "assertive"
HEDGED = "hedged"
TONES: tuple[str, str] = (ASSERTIVE, HEDGED)

QUALITY = "quality"
ERROR_FLAG = "has_factual_error"
ASSERTIVENESS = "assertiveness"
PREFERENCE = "preference"

ANNOTATION_COLUMNS: tuple[str, ...] = (
    "task",
    "unit_id",
    "annotator_id",
    "pool",
    "question",
    "value",
    "output_id",
    "prompt_id",
    "system",
    "tone",
    "n_known_errors",
    "output_length",
    "shown_order",
)

# 60 nodes integrate logit-normal means to ~1e-12; more nodes buy nothing.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


@dataclass(frozen=True)
class PoolBehaviour:
    """Behaviour of one annotator pool.

    All quality effects are in latent Likert points (before rounding and clipping to 1-5).

    Attributes
    ----------
    n_annotators : int
        Annotators in the pool.
    ratings_per_unit : int
        k, distinct annotators from this pool per rubric output and per pairwise unit.
    noise_sd : float
        SD of per-rating Gaussian noise on the latent quality.
    leniency_mean, leniency_sd : float
        Mean and between-annotator SD of the annotator intercept u_a.
    tone_bias : float
        Quality premium for the assertive variant of the same content.
    hit_rate_assertive, hit_rate_hedged : float
        Population (logit-median) probability of flagging an output with >= 1 known error.
    hit_rate_logit_sd : float
        Between-annotator SD of the hit rate on the logit scale (same z-score in both tones).
    false_alarm_rate, false_alarm_logit_sd : float
        Same for flagging an output with no known error.
    error_penalty : float
        Latent quality points deducted when the rater flags the output (so missed errors are
        not penalised, which is how tone masking reaches the quality score).
    position_bias : float
        Shift in P(first position wins | no tie); in [-0.5, 0.5].
    length_bias : float
        Quality points per population SD of log output length.
    tie_rate : float
        P(tie) in the pairwise task.
    assertiveness_gap : float
        Perceived assertiveness of assertive minus hedged variants (latent points).
    unit_fraction : float
        Fraction of contents (both tone variants, and the pairwise units of the same prompts)
        that this pool rates; < 1 models a partial expert overlap.
    """

    n_annotators: int = 30
    ratings_per_unit: int = 3
    noise_sd: float = 0.7
    leniency_mean: float = 0.0
    leniency_sd: float = 0.3
    tone_bias: float = 0.0
    hit_rate_assertive: float = 0.6
    hit_rate_hedged: float = 0.6
    hit_rate_logit_sd: float = 0.5
    false_alarm_rate: float = 0.1
    false_alarm_logit_sd: float = 0.5
    error_penalty: float = 1.0
    position_bias: float = 0.0
    length_bias: float = 0.0
    tie_rate: float = 0.1
    assertiveness_gap: float = 1.0
    unit_fraction: float = 1.0

    def validate(self, name: str) -> None:
        """Raise ValueError when a parameter is out of range."""
        if self.n_annotators < 1:
            raise ValueError(f"pool {name!r}: n_annotators must be >= 1")
        if not 1 <= self.ratings_per_unit <= self.n_annotators:
            raise ValueError(
                f"pool {name!r}: ratings_per_unit must be in [1, n_annotators={self.n_annotators}]"
            )
        for attr in ("hit_rate_assertive", "hit_rate_hedged", "false_alarm_rate", "tie_rate"):
            v = getattr(self, attr)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"pool {name!r}: {attr} must be a probability, got {v}")
        if not -0.5 <= self.position_bias <= 0.5:
            raise ValueError(f"pool {name!r}: position_bias must be in [-0.5, 0.5]")
        for attr in ("noise_sd", "leniency_sd", "hit_rate_logit_sd", "false_alarm_logit_sd"):
            if getattr(self, attr) < 0:
                raise ValueError(f"pool {name!r}: {attr} must be >= 0")
        if self.noise_sd == 0:
            # The exact-expectation formulas divide by the total SD; keep it strictly positive.
            raise ValueError(f"pool {name!r}: noise_sd must be > 0")
        if not 0.0 < self.unit_fraction <= 1.0:
            raise ValueError(f"pool {name!r}: unit_fraction must be in (0, 1]")


def default_pools() -> dict[str, PoolBehaviour]:
    """Crowd and expert pools with Hosking-like biases (crowd masks errors in assertive text).

    The numbers are illustrative, loosely shaped on Hosking et al. (2024, Part 2): the crowd
    has a tone premium, low hit rates that drop for assertive answers, a mild position and
    length bias; the expert pool is small, accurate and nearly unbiased.
    """
    return {
        "crowd": PoolBehaviour(
            n_annotators=40,
            ratings_per_unit=5,
            noise_sd=0.8,
            leniency_mean=0.2,
            leniency_sd=0.35,
            tone_bias=0.4,
            hit_rate_assertive=0.25,
            hit_rate_hedged=0.45,
            false_alarm_rate=0.12,
            error_penalty=0.8,
            position_bias=0.06,
            length_bias=0.25,
            tie_rate=0.1,
        ),
        "expert": PoolBehaviour(
            n_annotators=6,
            ratings_per_unit=3,
            noise_sd=0.5,
            leniency_mean=0.0,
            leniency_sd=0.2,
            tone_bias=0.05,
            hit_rate_assertive=0.85,
            hit_rate_hedged=0.85,
            hit_rate_logit_sd=0.3,
            false_alarm_rate=0.05,
            false_alarm_logit_sd=0.3,
            error_penalty=1.2,
            position_bias=0.0,
            length_bias=0.05,
            tie_rate=0.15,
        ),
    }


@dataclass(frozen=True)
class SimulationConfig:
    """Design of a simulated study.

    Attributes
    ----------
    n_prompts : int
        Number of prompts.
    n_systems : int
        Number of systems; system s has fixed quality effect ``system_effects[s]``.
    system_effects : tuple of float or None
        Latent quality effect per system; None spreads them evenly over [-0.3, 0.3].
    error_probability : float
        P(a content has >= 1 injected factual error).
    max_errors : int
        An erroneous content has 1 + Binomial(max_errors - 1, 1/2) errors.
    quality_mean, content_sd : float
        Latent quality intercept and SD of the content quality c_ps.
    mean_log_length, log_length_sd : float
        Log output length (characters) ~ N(mean, sd^2) per content.
    assertive_length_ratio : float
        Length of the assertive variant relative to the hedged one (1 keeps length and tone
        orthogonal, so the length and tone checks do not confound each other).
    assertiveness_content_confound : float
        Content quality leaking into perceived assertiveness (the confound in methods.md s8).
    preference_scale : float
        Logit per perceived-quality point in pairwise merit choices.
    pairwise : bool
        Whether to generate the pairwise task (all system pairs within each prompt).
    pools : Mapping[str, PoolBehaviour]
        Pool name -> behaviour.
    """

    n_prompts: int = 40
    n_systems: int = 3
    system_effects: tuple[float, ...] | None = None
    error_probability: float = 0.4
    max_errors: int = 2
    quality_mean: float = 3.3
    content_sd: float = 0.5
    mean_log_length: float = float(np.log(900.0))
    log_length_sd: float = 0.35
    assertive_length_ratio: float = 1.0
    assertiveness_content_confound: float = 0.5
    preference_scale: float = 1.5
    pairwise: bool = True
    pools: Mapping[str, PoolBehaviour] = field(default_factory=default_pools)

    def validate(self) -> None:
        """Raise ValueError when the design is impossible."""
        if self.n_prompts < 1 or self.n_systems < 1:
            raise ValueError("n_prompts and n_systems must be >= 1")
        if self.pairwise and self.n_systems < 2:
            raise ValueError("the pairwise task needs n_systems >= 2")
        if self.system_effects is not None and len(self.system_effects) != self.n_systems:
            raise ValueError("system_effects must have n_systems entries")
        if not 0.0 <= self.error_probability <= 1.0:
            raise ValueError("error_probability must be a probability")
        if self.max_errors < 1:
            raise ValueError("max_errors must be >= 1")
        if self.content_sd < 0 or self.log_length_sd <= 0:
            raise ValueError("content_sd must be >= 0 and log_length_sd > 0")
        if self.assertive_length_ratio <= 0:
            raise ValueError("assertive_length_ratio must be > 0")
        if not self.pools:
            raise ValueError("at least one pool is required")
        for name, pool in self.pools.items():
            pool.validate(name)

    def system_effect_array(self) -> np.ndarray:
        """Latent quality effect of each system."""
        if self.system_effects is not None:
            return np.asarray(self.system_effects, dtype=float)
        if self.n_systems == 1:
            return np.zeros(1)
        return np.linspace(-0.3, 0.3, self.n_systems)


@dataclass
class SimulatedStudy:
    """Output of :func:`simulate_study`.

    Attributes
    ----------
    config : SimulationConfig
    outputs : pandas.DataFrame
        One row per output: output_id, content_id, prompt_id, system, tone, n_known_errors,
        output_length, text.
    rubric : pandas.DataFrame
        Long table, one row per (rating, question) with :data:`ANNOTATION_COLUMNS`; questions
        ``quality`` (1-5), ``has_factual_error`` (0/1), ``assertiveness`` (1-5).
    pairwise : pandas.DataFrame
        Long table for ``preference`` ("A" = first shown, "B" = second, "tie"); shown_order is
        a tuple (first output_id, second output_id).
    annotators : pandas.DataFrame
        True per-annotator parameters.
    truth : dict
        :func:`population_truth` of the config (exact population estimands per pool).
    """

    config: SimulationConfig
    outputs: pd.DataFrame
    rubric: pd.DataFrame
    pairwise: pd.DataFrame
    annotators: pd.DataFrame
    truth: dict[str, Any]

    @property
    def annotations(self) -> pd.DataFrame:
        """Rubric and pairwise rows in one long table (``task`` tells them apart)."""
        return pd.concat([self.rubric, self.pairwise], ignore_index=True)


def _logit(p: float) -> float:
    with np.errstate(divide="ignore"):
        return float(special.logit(p))


def logit_normal_mean(p: float, logit_sd: float) -> float:
    """E[expit(logit(p) + logit_sd * Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature.

    Parameters
    ----------
    p : float
        Median probability.
    logit_sd : float
        SD on the logit scale.

    Returns
    -------
    float
        Population mean probability.
    """
    if p in (0.0, 1.0) or logit_sd == 0:
        return float(p)
    return float(np.sum(_GH_WEIGHTS * special.expit(_logit(p) + logit_sd * _GH_NODES)))


def expected_likert(mean: np.ndarray | float, sd: float) -> np.ndarray:
    """Exact E[clip(round(X), 1, 5)] for X ~ N(mean, sd^2).

    Uses E[Y] = 1 + sum_{k=1}^{4} P(X >= k + 1/2) for the integer variable Y in 1..5.
    """
    m = np.asarray(mean, dtype=float)[..., None]
    cuts = np.arange(1, 5) + 0.5
    return 1.0 + stats.norm.sf((cuts - m) / sd).sum(axis=-1)


def population_truth(config: SimulationConfig) -> dict[str, Any]:
    """Exact population estimands of the bias checks for each pool.

    The values are expectations over the superpopulation of contents and annotators (not the
    realised sample), so a correct 95% interval covers them about 95% of the time.

    Parameters
    ----------
    config : SimulationConfig

    Returns
    -------
    dict
        ``{pool: {...}}`` with mean_quality (expected Likert rating), hit_rate_{tone}, false_alarm_rate, miss_rate_{tone},
        detection_gap (hit rate hedged - assertive), d_prime_{tone}, tone_premium (paired
        assertive - hedged over all contents), tone_premium_with_errors,
        tone_premium_error_free, masking_index, length_slope (quality points per SD of log
        length, adjusting for tone and error count), first_position_share, tie_rate,
        label_accuracy (per-label accuracy of has_factual_error against the true error status).
    """
    config.validate()
    sys_eff = config.system_effect_array()
    pi1 = config.error_probability
    out: dict[str, Any] = {}
    shift = {
        ASSERTIVE: float(np.log(config.assertive_length_ratio)) / config.log_length_sd,
        HEDGED: 0.0,
    }
    for name, pool in config.pools.items():
        hr = {
            ASSERTIVE: logit_normal_mean(pool.hit_rate_assertive, pool.hit_rate_logit_sd),
            HEDGED: logit_normal_mean(pool.hit_rate_hedged, pool.hit_rate_logit_sd),
        }
        fa = logit_normal_mean(pool.false_alarm_rate, pool.false_alarm_logit_sd)
        total_sd = float(
            np.sqrt(
                config.content_sd**2 + pool.leniency_sd**2 + pool.length_bias**2 + pool.noise_sd**2
            )
        )
        # SD of the Gaussian part once the length term is conditioned on.
        resid_sd = float(np.sqrt(total_sd**2 - pool.length_bias**2))

        def mean_latent(tone: str, _pool: PoolBehaviour = pool) -> np.ndarray:
            return (
                config.quality_mean
                + _pool.leniency_mean
                + sys_eff
                + _pool.tone_bias * (tone == ASSERTIVE)
                + _pool.length_bias * shift[tone]
            )

        def eq(tone: str, has_error: bool, _pool=pool, _hr=hr, _fa=fa, _sd=total_sd) -> float:
            p_flag = _hr[tone] if has_error else _fa
            m = mean_latent(tone)
            val = p_flag * expected_likert(m - _pool.error_penalty, _sd) + (
                1 - p_flag
            ) * expected_likert(m, _sd)
            return float(np.mean(val))

        d1 = eq(ASSERTIVE, True) - eq(HEDGED, True)
        d0 = eq(ASSERTIVE, False) - eq(HEDGED, False)

        # Length slope: within-tone Cov(Q, z_len) (z_len ~ N(shift_t, 1) within tone); the
        # regression adjusts for tone and error count, both independent of z_len within tone.
        slopes = []
        for tone in TONES:
            m = mean_latent(tone)[:, None]  # systems x nodes
            z = _GH_NODES[None, :]
            comp = 0.0
            for has_error, w in ((True, pi1), (False, 1 - pi1)):
                p_flag = hr[tone] if has_error else fa
                e_q = p_flag * expected_likert(
                    m - pool.error_penalty + pool.length_bias * z, resid_sd
                ) + (1 - p_flag) * expected_likert(m + pool.length_bias * z, resid_sd)
                comp += w * np.mean(np.sum(_GH_WEIGHTS * z * e_q, axis=-1))
            slopes.append(comp)

        def dprime(h: float, f: float) -> float | None:
            if not (0 < h < 1 and 0 < f < 1):
                return None
            return float(stats.norm.ppf(h) - stats.norm.ppf(f))

        mean_quality = float(
            np.mean([pi1 * eq(tone, True) + (1 - pi1) * eq(tone, False) for tone in TONES])
        )
        out[name] = {
            "mean_quality": mean_quality,
            "hit_rate_assertive": hr[ASSERTIVE],
            "hit_rate_hedged": hr[HEDGED],
            "miss_rate_assertive": 1 - hr[ASSERTIVE],
            "miss_rate_hedged": 1 - hr[HEDGED],
            "false_alarm_rate": fa,
            "detection_gap": hr[HEDGED] - hr[ASSERTIVE],
            "d_prime_assertive": dprime(hr[ASSERTIVE], fa),
            "d_prime_hedged": dprime(hr[HEDGED], fa),
            "tone_premium": pi1 * d1 + (1 - pi1) * d0,
            "tone_premium_with_errors": d1,
            "tone_premium_error_free": d0,
            "masking_index": d1 - d0,
            "length_slope": float(np.mean(slopes)),
            "first_position_share": 0.5 + pool.position_bias,
            "tie_rate": pool.tie_rate,
            "label_accuracy": pi1 * 0.5 * (hr[ASSERTIVE] + hr[HEDGED]) + (1 - pi1) * (1 - fa),
        }
    return out


def _choose_annotators(
    rng: np.random.Generator, n_units: int, n_annotators: int, k: int
) -> np.ndarray:
    """k distinct annotator indices per unit, uniformly at random (n_units x k)."""
    keys = rng.random((n_units, n_annotators))
    if k == n_annotators:
        return np.argsort(keys, axis=1)
    return np.argpartition(keys, k - 1, axis=1)[:, :k]


def _likert(latent: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(latent + 0.5), 1, 5).astype(int)


def simulate_study(
    config: SimulationConfig | None = None, *, rng: np.random.Generator
) -> SimulatedStudy:
    """Simulate a tone x factual-error study with crowd and expert pools.

    Parameters
    ----------
    config : SimulationConfig, optional
        Design and pool behaviour; defaults to ``SimulationConfig()``.
    rng : numpy.random.Generator
        Source of all randomness (same seed -> identical tables).

    Returns
    -------
    SimulatedStudy

    Raises
    ------
    ValueError
        If the config is invalid.
    """
    config = SimulationConfig() if config is None else config
    config.validate()
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")

    n_p, n_s = config.n_prompts, config.n_systems
    sys_eff = config.system_effect_array()
    prompt_ids = np.array([f"p{j:04d}" for j in range(n_p)])
    system_names = np.array([f"sys-{j}" for j in range(n_s)])

    # Contents: one per (prompt, system), shared by both tone variants.
    n_c = n_p * n_s
    c_prompt = np.repeat(np.arange(n_p), n_s)
    c_system = np.tile(np.arange(n_s), n_p)
    c_quality = rng.normal(0.0, config.content_sd, n_c)
    c_has_err = rng.random(n_c) < config.error_probability
    c_n_err = np.where(c_has_err, 1 + rng.binomial(config.max_errors - 1, 0.5, n_c), 0).astype(int)
    c_loglen = rng.normal(config.mean_log_length, config.log_length_sd, n_c)

    # Outputs: content-major, assertive then hedged.
    n_o = 2 * n_c
    o_content = np.repeat(np.arange(n_c), 2)
    o_assertive = np.tile(np.array([True, False]), n_c)
    o_tone = np.where(o_assertive, ASSERTIVE, HEDGED)
    o_loglen = c_loglen[o_content] + np.where(
        o_assertive, np.log(config.assertive_length_ratio), 0.0
    )
    o_zlen = (o_loglen - config.mean_log_length) / config.log_length_sd
    o_length = np.maximum(1, np.round(np.exp(o_loglen))).astype(int)
    o_n_err = c_n_err[o_content]
    o_prompt = c_prompt[o_content]
    o_system = c_system[o_content]
    content_ids = np.array([f"c{j:05d}" for j in range(n_c)])
    output_ids = np.array([f"o{j:05d}" for j in range(n_o)])
    outputs = pd.DataFrame(
        {
            "output_id": output_ids,
            "content_id": content_ids[o_content],
            "prompt_id": prompt_ids[o_prompt],
            "system": system_names[o_system],
            "tone": o_tone,
            "n_known_errors": o_n_err,
            "output_length": o_length,
            "text": [
                f"[{t}] answer to {prompt_ids[p]} by {system_names[s]} ({e} injected errors)"
                for t, p, s, e in zip(o_tone, o_prompt, o_system, o_n_err, strict=True)
            ],
        }
    )

    annot_rows: list[pd.DataFrame] = []
    rubric_parts: list[dict[str, np.ndarray]] = []
    pair_parts: list[dict[str, np.ndarray]] = []

    # Pairwise units: every system pair within a prompt, each side a random tone variant.
    if config.pairwise:
        s1, s2 = np.triu_indices(n_s, k=1)
        n_pairs_per_prompt = len(s1)
        u_prompt = np.repeat(np.arange(n_p), n_pairs_per_prompt)
        u_s1 = np.tile(s1, n_p)
        u_s2 = np.tile(s2, n_p)
        u_x_content = u_prompt * n_s + u_s1
        u_y_content = u_prompt * n_s + u_s2
        u_x = 2 * u_x_content + (rng.random(len(u_prompt)) < 0.5)
        u_y = 2 * u_y_content + (rng.random(len(u_prompt)) < 0.5)
        u_flip = rng.random(len(u_prompt)) < 0.5
        pair_unit_ids = np.array([f"pair-{j:05d}" for j in range(len(u_prompt))])

    for pool_name, pool in config.pools.items():
        n_a = pool.n_annotators
        a_ids = np.array([f"{pool_name}-{j:03d}" for j in range(n_a)])
        lenient = rng.normal(pool.leniency_mean, pool.leniency_sd, n_a)
        z_hit = rng.normal(size=n_a)
        z_fa = rng.normal(size=n_a)
        with np.errstate(divide="ignore"):
            hit_a = special.expit(_logit(pool.hit_rate_assertive) + pool.hit_rate_logit_sd * z_hit)
            hit_h = special.expit(_logit(pool.hit_rate_hedged) + pool.hit_rate_logit_sd * z_hit)
            fa = special.expit(_logit(pool.false_alarm_rate) + pool.false_alarm_logit_sd * z_fa)
        assert_bias = rng.normal(0.0, 0.3, n_a)
        annot_rows.append(
            pd.DataFrame(
                {
                    "annotator_id": a_ids,
                    "pool": pool_name,
                    "leniency": lenient,
                    "hit_rate_assertive": hit_a,
                    "hit_rate_hedged": hit_h,
                    "false_alarm_rate": fa,
                    "noise_sd": pool.noise_sd,
                    "tone_bias": pool.tone_bias,
                    "error_penalty": pool.error_penalty,
                    "position_bias": pool.position_bias,
                    "length_bias": pool.length_bias,
                    "tie_rate": pool.tie_rate,
                }
            )
        )

        # Pool coverage is decided per content so that both tone variants stay matched.
        if pool.unit_fraction < 1.0:
            n_keep = max(1, round(pool.unit_fraction * n_c))
            kept_contents = np.sort(rng.choice(n_c, size=n_keep, replace=False))
        else:
            kept_contents = np.arange(n_c)
        rated = np.sort(np.concatenate([2 * kept_contents, 2 * kept_contents + 1]))
        k = pool.ratings_per_unit
        who = _choose_annotators(rng, len(rated), n_a, k)
        r_out = np.repeat(rated, k)
        r_ann = who.ravel()
        n_r = len(r_out)
        is_err = o_n_err[r_out] > 0
        p_flag = np.where(
            is_err,
            np.where(o_assertive[r_out], hit_a[r_ann], hit_h[r_ann]),
            fa[r_ann],
        )
        flag = (rng.random(n_r) < p_flag).astype(int)
        latent = (
            config.quality_mean
            + sys_eff[o_system[r_out]]
            + c_quality[o_content[r_out]]
            + lenient[r_ann]
            + pool.tone_bias * o_assertive[r_out]
            + pool.length_bias * o_zlen[r_out]
            - pool.error_penalty * flag
            + pool.noise_sd * rng.normal(size=n_r)
        )
        quality = _likert(latent)
        assert_latent = (
            3.0
            + pool.assertiveness_gap * (o_assertive[r_out] - 0.5)
            + config.assertiveness_content_confound * c_quality[o_content[r_out]]
            + assert_bias[r_ann]
            + 0.6 * rng.normal(size=n_r)
        )
        assertiveness = _likert(assert_latent)
        rubric_parts.append(
            {
                "out": r_out,
                "ann": a_ids[r_ann],
                "pool": np.full(n_r, pool_name, dtype=object),
                "quality": quality,
                "flag": flag,
                "assertiveness": assertiveness,
            }
        )

        if config.pairwise:
            kept_prompts = np.unique(c_prompt[kept_contents])
            units = np.flatnonzero(np.isin(u_prompt, kept_prompts))
            who_p = _choose_annotators(rng, len(units), n_a, k)
            pr_unit = np.repeat(units, k)
            pr_ann = who_p.ravel()
            pr_j = np.tile(np.arange(k), len(units))
            n_pr = len(pr_unit)
            x_first = ((pr_j + u_flip[pr_unit]) % 2) == 0
            first = np.where(x_first, u_x[pr_unit], u_y[pr_unit])
            second = np.where(x_first, u_y[pr_unit], u_x[pr_unit])
            ann_hit = np.where(o_assertive[first], hit_a[pr_ann], hit_h[pr_ann])
            ann_hit2 = np.where(o_assertive[second], hit_a[pr_ann], hit_h[pr_ann])

            def perceived(o: np.ndarray, h: np.ndarray, _pool: PoolBehaviour = pool) -> np.ndarray:
                # Merit as this rater perceives it: expected penalty for errors they notice.
                return (
                    sys_eff[o_system[o]]
                    + c_quality[o_content[o]]
                    + _pool.tone_bias * o_assertive[o]
                    + _pool.length_bias * o_zlen[o]
                    - _pool.error_penalty * (o_n_err[o] > 0) * h
                )

            p_merit_first = special.expit(
                config.preference_scale * (perceived(first, ann_hit) - perceived(second, ann_hit2))
            )
            u_tie = rng.random(n_pr)
            u_heur = rng.random(n_pr)
            u_merit = rng.random(n_pr)
            heuristic = u_heur < 2 * abs(pool.position_bias)
            choose_first = np.where(heuristic, pool.position_bias > 0, u_merit < p_merit_first)
            value = np.where(u_tie < pool.tie_rate, "tie", np.where(choose_first, "A", "B")).astype(
                object
            )
            pair_parts.append(
                {
                    "unit": pair_unit_ids[pr_unit],
                    "ann": a_ids[pr_ann],
                    "pool": np.full(n_pr, pool_name, dtype=object),
                    "prompt": prompt_ids[u_prompt[pr_unit]],
                    "first": output_ids[first],
                    "second": output_ids[second],
                    "value": value,
                }
            )

    rubric = _rubric_long(rubric_parts, outputs)
    pairwise = _pairwise_long(pair_parts)
    annotators = pd.concat(annot_rows, ignore_index=True)
    return SimulatedStudy(
        config=config,
        outputs=outputs,
        rubric=rubric,
        pairwise=pairwise,
        annotators=annotators,
        truth=population_truth(config),
    )


def _rubric_long(parts: list[dict[str, np.ndarray]], outputs: pd.DataFrame) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
    out = np.concatenate([p["out"] for p in parts])
    ann = np.concatenate([p["ann"] for p in parts])
    pool = np.concatenate([p["pool"] for p in parts])
    n = len(out)
    questions = (QUALITY, ERROR_FLAG, ASSERTIVENESS)
    values = np.concatenate(
        [
            np.concatenate([p["quality"] for p in parts]),
            np.concatenate([p["flag"] for p in parts]),
            np.concatenate([p["assertiveness"] for p in parts]),
        ]
    )
    idx = np.tile(out, len(questions))
    o = outputs.iloc[idx]
    return pd.DataFrame(
        {
            "task": "rubric",
            "unit_id": o["output_id"].to_numpy(),
            "annotator_id": np.tile(ann, len(questions)),
            "pool": np.tile(pool, len(questions)),
            "question": np.repeat(np.array(questions, dtype=object), n),
            "value": values.astype(object),
            "output_id": o["output_id"].to_numpy(),
            "prompt_id": o["prompt_id"].to_numpy(),
            "system": o["system"].to_numpy(),
            "tone": o["tone"].to_numpy(),
            "n_known_errors": o["n_known_errors"].to_numpy(),
            "output_length": o["output_length"].to_numpy(),
            "shown_order": None,
        }
    )


def _pairwise_long(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cat["unit"])
    shown = np.empty(n, dtype=object)
    shown[:] = list(zip(cat["first"], cat["second"], strict=True))
    return pd.DataFrame(
        {
            "task": "pairwise",
            "unit_id": cat["unit"],
            "annotator_id": cat["ann"],
            "pool": cat["pool"],
            "question": PREFERENCE,
            "value": cat["value"],
            "output_id": None,
            "prompt_id": cat["prompt"],
            "system": None,
            "tone": None,
            "n_known_errors": None,
            "output_length": None,
            "shown_order": shown,
        }
    )


def config_to_dict(config: SimulationConfig) -> dict[str, Any]:
    """JSON-friendly dict of a config (for logging a demo's or benchmark's parameters)."""
    d = asdict(config)
    d["pools"] = {k: asdict(v) for k, v in config.pools.items()}
    return d
