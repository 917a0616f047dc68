"""Blinding: counterbalanced shown orders, and the check for outputs that reveal their maker.

Annotators see "Response A", "Response B", … in an order chosen here. The check runs
over a task's outputs before launch and leaves flags the lead resolves (mask the
span, exclude the output, or mark it harmless); launch refuses while flags are open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from annotation.models import (
    BlindingFlag,
    FlagResolution,
    Output,
    Slot,
    System,
    Task,
    TaskStatus,
    Unit,
    UnitOutput,
)
from common.exceptions import ApplicationError
from common.models import User
from common.services import audit_record

# Vendor and model names that give a system away. Extend per deployment with the
# ANNOTATION_BLINDING_TERMS setting, or per task with Task.blinding_terms.
DEFAULT_BLINDING_TERMS: tuple[str, ...] = (
    "OpenAI",
    "ChatGPT",
    "GPT-3",
    "GPT-3.5",
    "GPT-4",
    "GPT-4o",
    "GPT-5",
    "o1-preview",
    "Anthropic",
    "Claude",
    "Google DeepMind",
    "DeepMind",
    "Gemini",
    "Bard",
    "PaLM",
    "Gemma",
    "Meta AI",
    "LLaMA",
    "Llama 2",
    "Llama 3",
    "Mistral AI",
    "Mistral",
    "Mixtral",
    "Qwen",
    "Alibaba Cloud",
    "Tongyi",
    "DeepSeek",
    "Cohere",
    "Command R",
    "Microsoft",
    "Copilot",
    "Phi-3",
    "xAI",
    "Grok",
    "Falcon",
    "Vicuna",
    "Zephyr",
    "Yi-34B",
    "Baichuan",
    "ERNIE",
    "Moonshot",
    "Kimi",
    "Inflection",
    "Pi AI",
)

# Self-identification phrases: "As an AI developed by …", "I am a large language model".
SELF_IDENTIFICATION = re.compile(
    r"\b(?:as an? (?:AI|artificial intelligence)(?: language model| assistant| model)?"
    r"(?:\s+(?:developed|created|trained|built|made|designed) by\s+[\w.\- ]{1,40})?"
    r"|(?:I am|I'm) (?:an AI|a (?:large )?language model)(?:\s+(?:developed|created|trained|built|made) by\s+[\w.\-]+(?: [A-Z][\w.\-]+)?)?"
    r"|(?:developed|created|trained|built|made) by (?:OpenAI|Anthropic|Google|Meta|Mistral|Alibaba|DeepSeek|Cohere|Microsoft|xAI)"
    r"|my name is [A-Z][\w\-]+)",
    re.IGNORECASE,
)

MASK = "[…]"
EXCERPT_RADIUS = 60


# -- counterbalancing ---------------------------------------------------------


def shown_order_for_slot(*, base_order: Sequence[int], slot_ordinal: int) -> list[int]:
    """The order annotator number `slot_ordinal` of a unit sees.

    `base_order` is the unit's random order of output ids; slot i sees its cyclic
    rotation by i. Across the k slots of a unit each output therefore sits in each
    position floor(k/n) or ceil(k/n) times (a Latin-square row per slot), and the
    random base order spreads the remainder evenly across units. For pairs this is
    AB, BA, AB, BA, …
    """
    n = len(base_order)
    if n == 0:
        return []
    shift = slot_ordinal % n
    return list(base_order[shift:]) + list(base_order[:shift])


# -- the blinding check -------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule: str
    term: str
    start: int
    end: int


def blinding_terms(*, task: Task) -> list[tuple[str, str]]:
    """(rule, term) pairs the check looks for in `task`'s outputs."""
    configured = settings.ANNOTATION_BLINDING_TERMS or DEFAULT_BLINDING_TERMS
    terms = [("vendor", term) for term in configured]
    terms += [("task_term", term) for term in task.blinding_terms or []]
    for name in System.objects.filter(project_id=task.project_id).values_list("name", flat=True):
        terms.append(("system_name", name))
        # "atlas-7b" is also written "atlas 7b" or "Atlas_7B".
        spaced = re.sub(r"[-_]+", " ", name)
        if spaced != name:
            terms.append(("system_name", spaced))
    return terms


def _term_pattern(term: str) -> re.Pattern[str]:
    escaped = re.escape(term).replace(r"\ ", r"[\s_\-]+")
    return re.compile(rf"(?<![\w]){escaped}(?![\w])", re.IGNORECASE)


def find_revealing_spans(text: str, terms: Iterable[tuple[str, str]]) -> list[Finding]:
    """Spans of `text` that may reveal the system; overlapping findings are merged."""
    found: list[Finding] = []
    for match in SELF_IDENTIFICATION.finditer(text):
        found.append(Finding("self_identification", match.group(0), match.start(), match.end()))
    for rule, term in terms:
        if not term.strip():
            continue
        for match in _term_pattern(term).finditer(text):
            found.append(Finding(rule, term, match.start(), match.end()))
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for finding in found:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            if finding.end > last.end:
                merged[-1] = Finding(last.rule, last.term, last.start, finding.end)
            continue
        merged.append(finding)
    return merged


def mask_text(text: str, spans: Iterable[tuple[int, int]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor:
            start = cursor
        if end <= start:
            continue
        pieces.append(text[cursor:start])
        pieces.append(MASK)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


@transaction.atomic
def blinding_check_run(*, actor: User | None, task: Task) -> list[BlindingFlag]:
    """Scan every output in `task` and record a flag per revealing span.

    Re-running keeps the resolution of spans already flagged, so a lead's decisions
    survive; it returns the open flags.
    """
    terms = blinding_terms(task=task)
    output_ids = UnitOutput.objects.filter(unit__task=task).values_list("output_id", flat=True)
    new_flags: list[BlindingFlag] = []
    for output_id, text in (
        Output.objects.filter(pk__in=output_ids).values_list("pk", "text").iterator(chunk_size=2000)
    ):
        for finding in find_revealing_spans(text, terms):
            lo = max(0, finding.start - EXCERPT_RADIUS)
            hi = min(len(text), finding.end + EXCERPT_RADIUS)
            new_flags.append(
                BlindingFlag(
                    task=task,
                    output_id=output_id,
                    rule=finding.rule,
                    term=finding.term[:200],
                    start=finding.start,
                    end=finding.end,
                    excerpt=text[lo:hi][:400],
                )
            )
    BlindingFlag.objects.bulk_create(new_flags, ignore_conflicts=True, batch_size=2000)
    open_flags = list(
        BlindingFlag.objects.filter(task=task, resolution=FlagResolution.OPEN).order_by(
            "output_id", "start"
        )
    )
    audit_record(
        actor=actor,
        project=task.project,
        action="task.blinding_check",
        target=task,
        guideline_version=task.guideline_version,
        details={"findings": len(new_flags), "open": len(open_flags)},
    )
    return open_flags


@transaction.atomic
def blinding_flag_resolve(*, actor: User, flag: BlindingFlag, resolution: str) -> BlindingFlag:
    """Mask the span, exclude the output's units, or mark the flag harmless (draft tasks only)."""
    task = Task.objects.select_for_update().get(pk=flag.task_id)
    if task.status != TaskStatus.DRAFT:
        raise ApplicationError("Blinding flags can only be resolved before the task is launched.")
    if resolution not in {FlagResolution.MASKED, FlagResolution.EXCLUDED, FlagResolution.IGNORED}:
        raise ApplicationError("Resolve a flag as 'masked', 'excluded' or 'ignored'.")
    flag.resolution = resolution
    flag.resolved_by = actor
    flag.save(update_fields=["resolution", "resolved_by", "updated_at"])
    if resolution == FlagResolution.MASKED:
        spans = BlindingFlag.objects.filter(
            task=task, output_id=flag.output_id, resolution=FlagResolution.MASKED
        ).values_list("start", "end")
        text = Output.objects.values_list("text", flat=True).get(pk=flag.output_id)
        UnitOutput.objects.filter(unit__task=task, output_id=flag.output_id).update(
            masked_text=mask_text(text, spans)
        )
    elif resolution == FlagResolution.EXCLUDED:
        unit_ids = UnitOutput.objects.filter(unit__task=task, output_id=flag.output_id).values(
            "unit_id"
        )
        Unit.objects.filter(pk__in=unit_ids).update(excluded=True)
        Slot.objects.filter(unit_id__in=unit_ids).delete()
        # Every other flag on this output is moot once its units are gone.
        BlindingFlag.objects.filter(
            task=task, output_id=flag.output_id, resolution=FlagResolution.OPEN
        ).update(resolution=FlagResolution.EXCLUDED, resolved_by=actor)
    audit_record(
        actor=actor,
        project=task.project,
        action=f"task.blinding_flag_{resolution}",
        target=flag,
        guideline_version=task.guideline_version,
        details={"task": task.pk, "output": flag.output_id, "term": flag.term},
    )
    return flag
