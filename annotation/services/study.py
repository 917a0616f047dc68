"""Study design: turning a set of outputs into matched tone and error variants.

No model is called: the lead downloads a rewrite sheet with one row per base output
and requested variant (the base text prefilled, the design fields set), rewrites the
texts, and imports the sheet like any output file. The variants share the base
output's prompt and system, which is what makes them matched sets for the bias
checks.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from annotation.models import Output
from common.exceptions import ApplicationError
from common.models import Project

VARIANT_RE = re.compile(r"^[a-z0-9][a-z0-9_+\-]{0,63}$")
TEMPLATE_COLUMNS = (
    "prompt_id",
    "prompt",
    "system",
    "variant",
    "output",
    "reference",
    "metadata.tone",
    "metadata.known_errors",
)


@dataclass(frozen=True)
class VariantSpec:
    """One variant to write for every base output: its label, tone and planted errors."""

    label: str
    tone: str
    known_errors: int

    @classmethod
    def parse(cls, text: str) -> VariantSpec:
        """`label:tone:errors`, e.g. `assertive-error:assertive:1`."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[2].strip().isdigit():
            raise ApplicationError(
                f"'{text}' is not a variant: write LABEL:TONE:ERRORS, e.g. hedged:hedged:0."
            )
        label, tone, errors = parts[0].strip(), parts[1].strip(), int(parts[2])
        if not VARIANT_RE.match(label):
            raise ApplicationError(f"'{label}': use lowercase letters, digits, '-', '_' or '+'.")
        if not tone:
            raise ApplicationError(f"'{text}': the tone must not be empty.")
        return cls(label, tone, errors)


def study_variant_rows(
    *, project: Project, variants: Sequence[VariantSpec], systems: Sequence[str] = ()
) -> Iterator[dict[str, str]]:
    """The rewrite sheet: each base output (variant "") once per requested variant,
    skipping variants the project already has."""
    if not variants:
        raise ApplicationError("Name at least one variant to write.")
    labels = [variant.label for variant in variants]
    if len(set(labels)) != len(labels):
        raise ApplicationError("Each variant label may appear once.")
    existing = set(
        Output.objects.filter(prompt__project=project, variant__in=labels).values_list(
            "prompt_id", "system_id", "variant"
        )
    )
    bases = (
        Output.objects.filter(prompt__project=project, variant="")
        .select_related("prompt", "system")
        .order_by("prompt__external_id", "system__name")
    )
    if systems:
        bases = bases.filter(system__name__in=list(systems))
    for base in bases.iterator(chunk_size=2000):
        for variant in variants:
            if (base.prompt_id, base.system_id, variant.label) in existing:
                continue
            yield {
                "prompt_id": base.prompt.external_id,
                "prompt": base.prompt.text,
                "system": base.system.name,
                "variant": variant.label,
                "output": base.text,
                "reference": base.prompt.reference,
                "metadata.tone": variant.tone,
                "metadata.known_errors": str(variant.known_errors),
            }


def study_variants_template_csv(
    *, project: Project, variants: Sequence[VariantSpec], systems: Sequence[str] = ()
) -> Iterator[str]:
    """The rewrite sheet as CSV text, a chunk at a time (the import reads it back)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TEMPLATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in study_variant_rows(project=project, variants=variants, systems=systems):
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
