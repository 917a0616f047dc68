"""Pairwise votes collected elsewhere (an arena's battle log) as a ranking table.

Pure: bytes in, the long table `ranking_sections` reads or every error by line and
field out. The columns follow the battle logs arenas publish (Chatbot Arena's
``model_a``, ``model_b``, ``winner``), documented in docs/rankings.md:

* ``model_a``, ``model_b`` (required): the systems shown first and second;
* ``winner`` (required): ``model_a`` / ``a`` / ``A``, ``model_b`` / ``b`` / ``B``, or
  ``tie`` / ``tie (bothbad)``;
* ``prompt`` or ``question_id`` (optional): the bootstrap resamples prompts when given;
* ``judge`` or ``annotator`` (optional), ``pool`` (optional: a leaderboard per pool).

Other columns are ignored, so a full arena export can be read as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd

from annotation.importing import ERRORS_SHOWN, RowError, jsonl_records

REQUIRED = ("model_a", "model_b", "winner")
PROMPT_COLUMNS = ("prompt", "question_id")
ANNOTATOR_COLUMNS = ("judge", "annotator")
WINNERS = {
    "model_a": "A",
    "a": "A",
    "model_b": "B",
    "b": "B",
    "tie": "tie",
    "tie (bothbad)": "tie",
}
QUESTION = "preference"

__all__ = ["ERRORS_SHOWN", "ParsedBattles", "RowError", "parse_battles_file"]


@dataclass
class ParsedBattles:
    table: pd.DataFrame | None = None
    errors: list[RowError] = field(default_factory=list)
    pooled: bool = False


def _csv_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any], list[RowError]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        for record in reader:
            yield reader.line_num, record, []
    except (UnicodeDecodeError, csv.Error) as exc:
        yield reader.line_num, {}, [RowError(reader.line_num, "line", f"Unreadable: {exc}.")]


def _parquet_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any], list[RowError]]]:
    import pyarrow.parquet as pq

    try:
        parquet_file = pq.ParquetFile(stream)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        yield 0, {}, [RowError(0, "file", f"Not a readable Parquet file: {exc}.")]
        return
    row = 0
    for batch in parquet_file.iter_batches(batch_size=50_000):
        for record in batch.to_pylist():
            row += 1
            yield row, record, []


def _cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def parse_battles_file(stream: IO[bytes], fmt: str) -> ParsedBattles:
    """Read and check every vote; any error refuses the whole file.

    Line numbers are the file's lines for CSV and JSONL (header = line 1 in CSV) and
    row numbers for Parquet.
    """
    readers = {"csv": _csv_records, "jsonl": jsonl_records, "parquet": _parquet_records}
    if fmt not in readers:
        return ParsedBattles(errors=[RowError(0, "format", f"Unknown format '{fmt}'.")])
    parsed = ParsedBattles()
    columns: dict[str, list[Any]] = {
        name: [] for name in ("line", "a", "b", "value", "prompt", "annotator", "pool")
    }
    for line, record, errors in readers[fmt](stream):
        if errors:
            parsed.errors.extend(errors)
            continue
        a, b = _cell(record.get("model_a")), _cell(record.get("model_b"))
        winner = _cell(record.get("winner"))
        row_errors = [
            RowError(line, name, "Missing value.")
            for name, value in (("model_a", a), ("model_b", b), ("winner", winner))
            if value is None
        ]
        if a is not None and a == b:
            row_errors.append(RowError(line, "model_b", f"Compares '{a}' with itself."))
        value = WINNERS.get(winner.lower()) if winner is not None else None
        if winner is not None and value is None:
            row_errors.append(
                RowError(
                    line,
                    "winner",
                    f"'{winner}' is not model_a, model_b, tie or tie (bothbad).",
                )
            )
        if row_errors:
            parsed.errors.extend(row_errors)
            continue
        columns["line"].append(line)
        columns["a"].append(a)
        columns["b"].append(b)
        columns["value"].append(value)
        columns["prompt"].append(
            next((_cell(record.get(c)) for c in PROMPT_COLUMNS if _cell(record.get(c))), None)
        )
        columns["annotator"].append(
            next((_cell(record.get(c)) for c in ANNOTATOR_COLUMNS if _cell(record.get(c))), None)
        )
        columns["pool"].append(_cell(record.get("pool")))
    if not parsed.errors and not columns["line"]:
        parsed.errors.append(RowError(0, "file", "The file holds no votes."))
    if parsed.errors:
        return parsed
    table = pd.DataFrame(
        {
            "unit_id": [str(line) for line in columns["line"]],
            "annotator_id": [
                x or f"line-{line}"
                for x, line in zip(columns["annotator"], columns["line"], strict=True)
            ],
            "question": QUESTION,
            "value": columns["value"],
            "shown_order": list(zip(columns["a"], columns["b"], strict=True)),
        }
    )
    if any(p is not None for p in columns["prompt"]):
        table["prompt_id"] = columns["prompt"]
    if any(p is not None for p in columns["pool"]):
        table["pool"] = columns["pool"]
        parsed.pooled = True
    parsed.table = table
    return parsed
