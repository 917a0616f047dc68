"""The study bundle's units and annotators files, and the checks across the three files.

Pure: bytes in, validated rows or a complete list of errors out (each error names its
file, line and field), like every import. The format is documented in
docs/annotations-format.md ("A study bundle").

* **Units** (one row per unit): ``unit`` (required), ``prompt_id``, and either one
  output -- ``system``, ``output`` (its text), ``output_id``, ``tone``, ``known_errors``
  (a count or a list), ``variant`` -- or a pair shown to annotators as A and B --
  ``system_a``, ``system_b`` (both required for a pair), ``output_a``, ``output_b``,
  ``tone_a``/``_b``, ``known_errors_a``/``_b``, ``variant_a``/``_b`` and an optional
  ``shown_order`` (``ab``/``ba``) when everyone saw the pair in one order other than a
  first. When the order varied per annotator, the annotations file says it per row.
* **Annotators** (one row per annotator): ``annotator`` (required), ``pool``,
  ``pool_kind`` (``expert`` | ``crowd``) and free ``attr.<name>`` columns, stored for
  later analyses and never shown to annotators.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from analysis.importing import (
    BOOLEAN_WORDS,
    MAX_MAGNITUDE,
    PAIRWISE_CHOICES,
    SHOWN_ORDERS,
    AnnotationRow,
    ParsedAnnotations,
    RowError,
    nfc,
)
from annotation.importing import jsonl_records

__all__ = [
    "ATTRIBUTE_PREFIX",
    "POOL_KINDS",
    "AnnotatorRow",
    "OutputSpec",
    "ParsedAnnotators",
    "ParsedUnits",
    "UnitRow",
    "check_bundle",
    "parse_annotators_file",
    "parse_units_file",
]

# Kinds of annotator pool the analysis compares. "judge" (an LLM judge) is the next one;
# adding it here and to analysis.models.DatasetPoolKind is all a new kind needs.
POOL_KINDS = ("expert", "crowd")
ATTRIBUTE_PREFIX = "attr."
PAIR_SUFFIXES = ("_a", "_b")
OUTPUT_FIELDS = ("system", "output", "tone", "known_errors", "variant")
SINGLE_FIELDS = (*OUTPUT_FIELDS, "output_id")
PAIR_FIELDS = tuple(f"{name}{suffix}" for name in OUTPUT_FIELDS for suffix in PAIR_SUFFIXES)
UNIT_FIELDS = ("unit", "prompt_id", *SINGLE_FIELDS, *PAIR_FIELDS, "shown_order")
TEXT_COLUMNS = frozenset({"output", "output_a", "output_b"})
ANNOTATOR_FIELDS = ("annotator", "pool", "pool_kind")
MAX_LENGTH = {
    "unit": 200,
    "prompt_id": 200,
    "output_id": 200,
    "system": 200,
    "tone": 64,
    "variant": 64,
    "annotator": 200,
    "pool": 120,
    "attribute": 64,
}
# Yes/no answers the error-flag checks read (analysis.metrics.bias._coerce_binary).
ERROR_FLAG_WORDS = {*BOOLEAN_WORDS, "yes", "no", "y", "n", "1", "0"}


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One output of a unit: who wrote it and its design (hidden from annotators)."""

    system: str = ""
    text: str | None = None  # None: the file gave no text; "" an empty response
    tone: str = ""
    known_errors: int | None = None
    known_error_list: list[Any] | None = None
    variant: str = ""


@dataclass(frozen=True, slots=True)
class UnitRow:
    line: int
    unit: str
    prompt_id: str
    output_id: str
    shown_order: str
    outputs: tuple[OutputSpec, ...]

    @property
    def pairwise(self) -> bool:
        return len(self.outputs) == 2


@dataclass(frozen=True, slots=True)
class AnnotatorRow:
    line: int
    annotator: str
    pool: str
    pool_kind: str
    attributes: dict[str, Any]


@dataclass
class ParsedUnits:
    rows: list[UnitRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Every unit id the file names, refused rows included: an answer about a unit whose
    # row has an error is not reported again as an unknown unit.
    named: set[str] = field(default_factory=set)


@dataclass
class ParsedAnnotators:
    rows: list[AnnotatorRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    named: set[str] = field(default_factory=set)


# -- reading ------------------------------------------------------------------------------

Record = tuple[int, dict[str, Any], list[RowError]]


def _records(
    stream: IO[bytes],
    fmt: str,
    *,
    file: str,
    known: Callable[[str], bool],
    required: tuple[str, ...],
) -> Iterator[Record]:
    """(line, record, errors) of a CSV, JSONL or Parquet table; a CSV header or a Parquet
    schema with unknown or missing columns ends the file with those errors. Empty CSV
    cells are left out of the record, as missing JSON keys are, except output texts:
    there an empty cell is an empty response."""
    if fmt == "csv":
        yield from _csv_records(stream, file=file, known=known, required=required)
    elif fmt == "jsonl":
        for line, record, errors in jsonl_records(stream):
            yield line, record, [_tag(error, file) for error in errors]
    else:
        yield from _parquet_records(stream, file=file, known=known, required=required)


def _tag(error: RowError, file: str) -> RowError:
    return RowError(error.line, error.field, error.message, file)


def _column_errors(
    names: list[str], line: int, *, file: str, known: Callable[[str], bool], required: tuple
) -> list[RowError]:
    errors = [
        RowError(line, name or f"column {index + 1}", "Unknown column.", file)
        for index, name in enumerate(names)
        if not known(name)
    ]
    errors += [
        RowError(line, name, "Duplicate column.", file)
        for index, name in enumerate(names)
        if name in names[:index]
    ]
    errors += [
        RowError(line, name, "Missing required column.", file)
        for name in required
        if name not in names
    ]
    return errors


def _csv_records(
    stream: IO[bytes], *, file: str, known: Callable[[str], bool], required: tuple
) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [nfc(name.strip()) for name in next(reader)]
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error):
        yield 1, {}, [RowError(1, "file", "Not valid UTF-8 CSV.", file)]
        return
    header_errors = _column_errors(header, 1, file=file, known=known, required=required)
    if header_errors:
        yield 1, {}, header_errors
        return
    record_start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            yield record_start, {}, [RowError(record_start, "line", "Not valid UTF-8.", file)]
            return
        except csv.Error as exc:
            message = f"Malformed CSV: {exc}."
            yield record_start, {}, [RowError(record_start, "line", message, file)]
            return
        line = record_start
        record_start = reader.line_num + 1
        if not cells:
            continue
        if len(cells) != len(header):
            message = f"Has {len(cells)} cells; the header has {len(header)}."
            yield line, {}, [RowError(line, "line", message, file)]
            continue
        yield (
            line,
            {
                name: cell
                for name, cell in zip(header, cells, strict=True)
                if cell or name in TEXT_COLUMNS
            },
            [],
        )


def _parquet_records(
    stream: IO[bytes], *, file: str, known: Callable[[str], bool], required: tuple
) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet_file = pq.ParquetFile(stream)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        yield 0, {}, [RowError(0, "file", f"Not a readable Parquet file: {exc}.", file)]
        return
    names = list(parquet_file.schema_arrow.names)
    errors = _column_errors(names, 0, file=file, known=known, required=required)
    if errors:
        yield 0, {}, errors
        return
    row_number = 0
    for batch in parquet_file.iter_batches(batch_size=50_000):
        for record in batch.to_pylist():
            row_number += 1
            yield row_number, {k: v for k, v in record.items() if v is not None}, []


# -- cell checks --------------------------------------------------------------------------


class _Row:
    """The cells of one record, checked one field at a time; errors collect in `errors`."""

    def __init__(self, line: int, record: Mapping[str, Any], file: str, errors: list[RowError]):
        self.line, self.record, self.file, self.errors = line, record, file, errors
        self.failed = False

    def error(self, name: str, message: str) -> None:
        self.errors.append(RowError(self.line, name, message, self.file))
        self.failed = True

    def has(self, name: str) -> bool:
        return self.record.get(name) not in (None, "")

    def text(self, name: str, *, required: bool = False, limit: str = "") -> str:
        """An id or label: text (or a whole number), stripped, in NFC."""
        raw = self.record.get(name)
        if raw is None or raw == "":
            if required:
                self.error(name, "Required; must not be empty.")
            return ""
        if isinstance(raw, bool):
            self.error(name, "Must be text, not true/false.")
            return ""
        if isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer()):
            raw = str(int(raw))
        if not isinstance(raw, str):
            self.error(name, "Must be text.")
            return ""
        value = nfc(raw.strip())
        cap = MAX_LENGTH.get(limit or name)
        if value == "" and required:
            self.error(name, "Required; must not be empty.")
        elif "\x00" in value:
            self.error(name, "Contains a NUL character, which cannot be stored.")
        elif cap is not None and len(value) > cap:
            self.error(name, f"Longer than {cap} characters.")
        return value

    def body(self, name: str) -> str | None:
        """An output text, kept as written; "" is an empty response, None no text given."""
        raw = self.record.get(name)
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.error(name, "Must be text.")
            return None
        if "\x00" in raw:
            self.error(name, "Contains a NUL character, which cannot be stored.")
            return None
        return raw

    def known_errors(self, name: str) -> tuple[int | None, list[Any] | None]:
        """A count of known errors (0, 1, 2, ...) or a list of them (its length counts)."""
        raw = self.record.get(name)
        if raw is None or raw == "":
            return None, None
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                try:
                    raw = json.loads(text)
                except ValueError:
                    self.error(name, "Starts like a list but is not a JSON array.")
                    return None, None
            elif text.isdigit():
                return int(text), None
        if isinstance(raw, list):
            return len(raw), raw
        if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer() and raw >= 0:
            return int(raw), None
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return raw, None
        self.error(name, "Must be a count (0, 1, 2, …) or a list of the errors.")
        return None, None


def _attribute(row: _Row, name: str, raw: Any, *, csv_cell: bool) -> Any:
    """An `attr.<name>` value: text (NFC), a finite number, true/false, or None. CSV cells
    holding a JSON number or true/false are read as such, as in the output import."""
    if csv_cell and isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        if isinstance(parsed, bool | int) or (isinstance(parsed, float) and math.isfinite(parsed)):
            raw = parsed
    if isinstance(raw, str):
        value = nfc(raw.strip())
        if "\x00" in value:
            row.error(name, "Contains a NUL character, which cannot be stored.")
        elif len(value) > 1000:
            row.error(name, "Longer than 1000 characters.")
        return value
    if isinstance(raw, bool) or raw is None:
        return raw
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or abs(raw) > MAX_MAGNITUDE:
            row.error(name, "Must be a finite number within ±1e15.")
            return None
        return raw
    row.error(name, "Must be text, a number or true/false.")
    return None


# -- units --------------------------------------------------------------------------------


def _unit_known(name: str) -> bool:
    return name in UNIT_FIELDS


def parse_units_file(stream: IO[bytes], fmt: str, *, file: str = "units") -> ParsedUnits:
    """Read and check every unit; unit ids must be unique."""
    parsed = ParsedUnits()
    first_line: dict[str, int] = {}
    for line, record, record_errors in _records(
        stream, fmt, file=file, known=_unit_known, required=("unit",)
    ):
        if record_errors:
            parsed.errors.extend(record_errors)
            continue
        parsed.named.add(_Row(line, record, file, []).text("unit"))
        row = _unit_row(line, record, file, parsed.errors)
        if row is None:
            continue
        seen = first_line.setdefault(row.unit, line)
        if seen != line:
            parsed.errors.append(
                RowError(line, "unit", f"Unit '{row.unit}' is already on line {seen}.", file)
            )
            continue
        parsed.rows.append(row)
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(0, "file", "The file holds no units.", file))
    return parsed


def _unit_row(
    line: int, record: Mapping[str, Any], file: str, errors: list[RowError]
) -> UnitRow | None:
    unknown = sorted(name for name in record if not _unit_known(name))
    for name in unknown:
        errors.append(RowError(line, name, "Unknown field.", file))
    row = _Row(line, record, file, errors)
    unit = row.text("unit", required=True)
    prompt_id = row.text("prompt_id")
    is_pair = any(row.has(name) for name in PAIR_FIELDS)
    outputs: list[OutputSpec] = []
    output_id = ""
    shown_order = ""
    if is_pair:
        single = [name for name in SINGLE_FIELDS if row.has(name)]
        for name in single:
            row.error(
                name,
                "A pair's outputs go in the _a and _b columns; this row has both a pair and "
                "a single output.",
            )
        for suffix in PAIR_SUFFIXES:
            system = row.text(f"system{suffix}", required=True, limit="system")
            outputs.append(_output_spec(row, suffix, system))
        shown_order = row.text("shown_order").lower()
        if shown_order and shown_order not in SHOWN_ORDERS:
            row.error("shown_order", "Must be 'ab' (output a shown first) or 'ba'.")
    else:
        if row.has("shown_order"):
            row.error("shown_order", "Only a pair (system_a, system_b) has a shown order.")
        output_id = row.text("output_id")
        system = row.text("system")
        outputs.append(_output_spec(row, "", system))
    if row.failed or unknown:
        return None
    return UnitRow(line, unit, prompt_id, output_id, shown_order, tuple(outputs))


def _output_spec(row: _Row, suffix: str, system: str) -> OutputSpec:
    known, listed = row.known_errors(f"known_errors{suffix}")
    return OutputSpec(
        system=system,
        text=row.body(f"output{suffix}"),
        tone=row.text(f"tone{suffix}", limit="tone"),
        known_errors=known,
        known_error_list=listed,
        variant=row.text(f"variant{suffix}", limit="variant"),
    )


# -- annotators ---------------------------------------------------------------------------


def _annotator_known(name: str) -> bool:
    return name in ANNOTATOR_FIELDS or (
        name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX)
    )


def parse_annotators_file(
    stream: IO[bytes], fmt: str, *, file: str = "annotators"
) -> ParsedAnnotators:
    """Read and check every annotator; ids must be unique and each pool has one kind."""
    parsed = ParsedAnnotators()
    first_line: dict[str, int] = {}
    kind_of_pool: dict[str, tuple[str, int]] = {}
    for line, record, record_errors in _records(
        stream, fmt, file=file, known=_annotator_known, required=("annotator",)
    ):
        if record_errors:
            parsed.errors.extend(record_errors)
            continue
        row = _Row(line, record, file, parsed.errors)
        for name in sorted(k for k in record if not _annotator_known(k)):
            row.error(name, "Unknown field.")
        annotator = row.text("annotator", required=True)
        parsed.named.add(annotator)
        pool = row.text("pool")
        kind = row.text("pool_kind").lower()
        if kind and kind not in POOL_KINDS:
            row.error("pool_kind", f"Must be {' or '.join(POOL_KINDS)}, not '{kind}'.")
        attributes: dict[str, Any] = {}
        for name in sorted(k for k in record if k.startswith(ATTRIBUTE_PREFIX)):
            key = nfc(name[len(ATTRIBUTE_PREFIX) :].strip())
            if len(key) > MAX_LENGTH["attribute"]:
                row.error(name, f"Attribute names are at most {MAX_LENGTH['attribute']} long.")
                continue
            value = _attribute(row, name, record[name], csv_cell=fmt == "csv")
            if value is not None and value != "":
                attributes[key] = value
        if row.failed:
            continue
        # An annotator named only by kind belongs to the pool of that name.
        pool = pool or kind
        if pool and kind:
            earlier = kind_of_pool.setdefault(pool, (kind, line))
            if earlier[0] != kind:
                row.error(
                    "pool_kind",
                    f"Pool '{pool}' is '{earlier[0]}' on line {earlier[1]}; a pool has one kind.",
                )
                continue
        seen = first_line.setdefault(annotator, line)
        if seen != line:
            row.error("annotator", f"Annotator '{annotator}' is already on line {seen}.")
            continue
        parsed.rows.append(AnnotatorRow(line, annotator, pool, kind, attributes))
    # A pool's kind holds for every annotator in it, even those whose row left it blank.
    kinds = {pool: kind for pool, (kind, _) in kind_of_pool.items()}
    parsed.rows = [
        row if row.pool_kind or row.pool not in kinds else _with_kind(row, kinds[row.pool])
        for row in parsed.rows
    ]
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(0, "file", "The file holds no annotators.", file))
    return parsed


def _with_kind(row: AnnotatorRow, kind: str) -> AnnotatorRow:
    return AnnotatorRow(row.line, row.annotator, row.pool, kind, row.attributes)


# -- across the files ---------------------------------------------------------------------


def check_bundle(
    annotations: ParsedAnnotations,
    units: ParsedUnits | None,
    annotators: ParsedAnnotators | None,
    *,
    file: str = "annotations",
) -> list[RowError]:
    """Errors between the files; fills each answer's pool from its annotator's row and
    marks the preference question.

    Every unit and annotator the annotations name must be in the units and annotators
    files (when given); a per-annotator shown order belongs to pairs only; the preference
    question (its declared role, or the conventional name ``preference`` answered only on
    pairs) is answered A, B or tie on pairs; an error-flag question is answered yes or no.
    """
    errors: list[RowError] = []
    unit_rows = {row.unit: row for row in units.rows} if units is not None else None
    annotator_rows = (
        {row.annotator: row for row in annotators.rows} if annotators is not None else None
    )
    questions = annotations.questions
    roles = {spec["role"]: name for name, spec in questions.items() if spec.get("role")}
    preference = roles.get("preference")
    if preference is None and unit_rows is not None and "preference" in questions:
        rows = [r for r in annotations.rows if r.question == "preference"]
        if rows and all(r.unit in unit_rows and unit_rows[r.unit].pairwise for r in rows):
            preference = "preference"
    if preference is not None and unit_rows is not None:
        # Only pairs give a vote its systems; without a units file the answers stay labels.
        questions[preference]["type"] = "pairwise"
        questions[preference].pop("boolean", None)
    error_flag = roles.get("error_flag")
    for row in annotations.rows:
        if unit_rows is not None:
            unit = unit_rows.get(row.unit)
            if unit is None and units is not None and row.unit in units.named:
                pass  # its row in the units file is refused, with its own error
            elif unit is None:
                errors.append(
                    RowError(row.line, "unit", f"Unit '{row.unit}' is not in the units file.", file)
                )
            elif row.shown_order and not unit.pairwise:
                errors.append(
                    RowError(
                        row.line,
                        "shown_order",
                        f"Unit '{row.unit}' has one output; only pairs have a shown order.",
                        file,
                    )
                )
            elif row.question == preference:
                _check_preference(row, unit, errors, file)
        if annotator_rows is not None:
            annotator = annotator_rows.get(row.annotator)
            if annotator is None and annotators is not None and row.annotator in annotators.named:
                pass  # its row in the annotators file is refused, with its own error
            elif annotator is None:
                errors.append(
                    RowError(
                        row.line,
                        "annotator",
                        f"Annotator '{row.annotator}' is not in the annotators file.",
                        file,
                    )
                )
            elif not row.pool:
                row.pool = annotator.pool
        if row.question == error_flag and row.value_text.lower() not in ERROR_FLAG_WORDS:
            errors.append(
                RowError(
                    row.line,
                    "value",
                    f"'{row.value_text}' is not a yes/no answer; the error-flag question "
                    f"'{error_flag}' takes true/false, yes/no or 1/0.",
                    file,
                )
            )
    return errors


def _check_preference(row: AnnotationRow, unit: UnitRow, errors: list[RowError], file: str) -> None:
    if not unit.pairwise:
        errors.append(
            RowError(
                row.line,
                "unit",
                f"'{row.question}' is the pairwise preference question, and unit '{row.unit}' "
                "has one output (a pair needs system_a and system_b).",
                file,
            )
        )
        return
    choice = PAIRWISE_CHOICES.get(row.value_text.lower())
    if choice is None:
        errors.append(
            RowError(
                row.line,
                "value",
                f"'{row.value_text}' is not a pairwise answer: A (the output shown first), "
                "B or tie.",
                file,
            )
        )
        return
    row.value_text, row.value_number = choice, None
