"""Demo data for the analysis pages: a simulated crowd-vs-expert study, imported as a
dataset "from elsewhere" through the real import service, with its report requested.

Bulk by design: these labels come from a file, as a researcher's would, not through
the annotation engine. Idempotent, so the demo seed can run on every start.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from django.db import transaction

from analysis.models import AnnotationDataset
from analysis.services import dataset_import
from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study
from common.models import Project, User
from demo.reports import demo_report_request

DEMO_DATASET = "Simulated study: expert vs crowd"
DEMO_SEED = 2024
DEMO_DECLARATIONS = (
    "# level quality=ordinal\n# level assertiveness=ordinal\n# level has_factual_error=nominal\n"
)


def demo_annotations_csv(*, seed: int = DEMO_SEED) -> bytes:
    """A few hundred units rated by an accurate expert pool and a noisier crowd pool,
    under two guideline versions (the second half of the prompts used v2)."""
    config = SimulationConfig(
        n_prompts=50,
        n_systems=3,
        pairwise=False,
        pools={
            "expert": PoolBehaviour(
                n_annotators=5, ratings_per_unit=2, noise_sd=0.45, leniency_sd=0.15
            ),
            "crowd": PoolBehaviour(
                n_annotators=16,
                ratings_per_unit=3,
                noise_sd=0.95,
                leniency_mean=0.2,
                leniency_sd=0.4,
                tone_bias=0.4,
                hit_rate_assertive=0.3,
                hit_rate_hedged=0.5,
                false_alarm_rate=0.12,
            ),
        },
    )
    study = simulate_study(config, rng=np.random.default_rng(seed))
    rubric = study.rubric
    prompt_number = rubric["prompt_id"].str.slice(1).astype(int)
    version = np.where(prompt_number < config.n_prompts // 2, "v1", "v2")
    buffer = io.StringIO()
    buffer.write(DEMO_DECLARATIONS)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["unit", "annotator", "question", "value", "pool", "guideline_version"])
    for row, gv in zip(
        rubric[["unit_id", "annotator_id", "question", "value", "pool"]].itertuples(index=False),
        version,
        strict=True,
    ):
        writer.writerow([row.unit_id, row.annotator_id, row.question, int(row.value), row.pool, gv])
    return buffer.getvalue().encode("utf-8")


@transaction.atomic
def seed_demo_dataset(*, project: Project, researcher: User) -> AnnotationDataset:
    """Import the demo dataset and request its report unless they exist; returns the dataset."""
    dataset = AnnotationDataset.objects.filter(project=project, name=DEMO_DATASET).first()
    if dataset is None:
        dataset = dataset_import(
            actor=researcher,
            project=project,
            name=DEMO_DATASET,
            stream=io.BytesIO(demo_annotations_csv()),
            fmt="csv",
            filename="simulated-study.csv",
        )
    demo_report_request(project=project, researcher=researcher, dataset=dataset)
    return dataset
