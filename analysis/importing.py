"""Parsing and validation of long-format annotation files (CSV, JSONL, Parquet).

Pure: bytes in, validated rows or a complete list of errors out, so a bad file can
never leave half a write behind. The format is documented in
docs/annotations-format.md ("Annotations from elsewhere").

Question declarations (measurement level, for ordinal word labels their order, and the
part a question plays in the bias checks: its role) come from the file's header block
and from explicit declarations (command-line flags, the web form), the explicit ones
winning. A question nobody declares is nominal.

Values are made comparable before anything is stored: ids and labels in Unicode NFC,
numbers finite and within +-1e15, a nominal question answered only `true`/`false` marked
as yes/no. Rows with an empty value are left out and counted. The study bundle's other
two files (units and annotators) are read by `analysis.importing_bundle`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import orjson

from annotation.importing import (
    ERRORS_SHOWN,
    FORMATS,
    RowError,
    detect_format,
    jsonl_records,
    nfc,
)

__all__ = [
    "ERRORS_SHOWN",
    "FORMATS",
    "LEVELS",
    "ROLES",
    "AnnotationRow",
    "ParsedAnnotations",
    "RowError",
    "detect_format",
    "nfc",
    "parse_annotations_file",
    "parse_declarations",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# The parts a question can play in the bias and expert-vs-crowd checks (the same roles
# a rubric question can name; analysis.metrics.bias.DEFAULT_QUESTIONS).
ROLES = ("quality", "error_flag", "assertiveness", "preference")
REQUIRED_FIELDS = ("unit", "annotator", "question", "value")
OPTIONAL_FIELDS = ("pool", "guideline_version", "shown_order")
ALL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
MAX_LENGTH = {
    "unit": 200,
    "annotator": 200,
    "question": 120,
    "pool": 120,
    "guideline_version": 64,
    "shown_order": 2,
}
PARQUET_METADATA_KEY = b"judgebench.questions"
# Larger magnitudes are refused: doubles stop holding whole numbers exactly above 2**53
# (about 9e15), and the squared differences the agreement coefficients sum overflow long
# before 1e300. No rating scale, count or duration a study collects comes near it.
MAX_MAGNITUDE = 1e15
# Pairwise answers as stored: the position chosen, as the annotator saw it, or a tie.
PAIRWISE_CHOICES = {"a": "A", "b": "B", "tie": "tie"}
SHOWN_ORDERS = ("ab", "ba")
BOOLEAN_WORDS = {"true": True, "false": False}


@dataclass(slots=True)
class AnnotationRow:
    line: int
    unit: str
    annotator: str
    question: str
    value_text: str
    value_number: float | None
    pool: str
    guideline_version: str
    # Pairwise units: "ab" when the annotator saw output a first, "ba" when b; "" when
    # not given (the unit's own order applies).
    shown_order: str = ""


@dataclass
class ParsedAnnotations:
    rows: list[AnnotationRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Question key -> {"level": str, "order": list[str] | None} plus "role" when one was
    # declared and "boolean": True for a yes/no question; every question in the file.
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Rows left out because their value was empty (no answer).
    empty_values: int = 0


Declarations = dict[str, dict[str, Any]]


# -- declarations ---------------------------------------------------------------------


def parse_declarations(text: str, *, line_offset: int = 0) -> tuple[Declarations, list[RowError]]:
    """Read ``level QUESTION=LEVEL``, ``order QUESTION=v1,v2,...`` and
    ``role QUESTION=quality|error_flag|assertiveness|preference`` lines.

    A leading ``#`` is optional, so the same text works as a CSV header block and in
    the web form's textarea. Blank lines are ignored.
    """
    declared: Declarations = {}
    errors: list[RowError] = []
    for number, raw in enumerate(text.splitlines(), start=1 + line_offset):
        line = raw.strip().lstrip("#").strip()
        if not line:
            continue
        keyword, _, rest = line.partition(" ")
        name, equals, value = rest.strip().partition("=")
        name, value = nfc(name.strip()), value.strip()
        if keyword not in ("level", "order", "role") or not equals or not name:
            errors.append(
                RowError(
                    number,
                    "declaration",
                    "Expected 'level QUESTION=nominal|ordinal|interval|ratio', "
                    "'order QUESTION=v1,v2,...' or "
                    "'role QUESTION=quality|error_flag|assertiveness|preference'.",
                )
            )
            continue
        if keyword == "order":
            declared.setdefault(name, {})["order"] = _split_order(value)
        else:
            declared.setdefault(name, {})[keyword] = value
    return declared, errors


def _split_order(value: str) -> list[str]:
    # csv handles quoted labels that contain commas: order tone="very, very bad",bad,ok
    return [nfc(label.strip()) for label in next(csv.reader([value]), [])]


def merge_declarations(*sources: Mapping[str, Mapping[str, Any]]) -> Declarations:
    """Later sources override earlier ones, key by key (level and order separately)."""
    merged: Declarations = {}
    for source in sources:
        for name, spec in source.items():
            target = merged.setdefault(nfc(str(name)), {})
            for key in ("level", "order", "role"):
                if spec.get(key) is not None:
                    target[key] = spec[key]
    return merged


def _check_declarations(declared: Declarations, errors: list[RowError]) -> None:
    holder: dict[str, str] = {}
    for name, spec in sorted(declared.items()):
        role = spec.get("role")
        if role in ("quality", "assertiveness") and "level" not in spec:
            spec["level"] = "ordinal"  # a score is ordered unless declared otherwise
        if role is not None:
            if role not in ROLES:
                errors.append(
                    RowError(0, f"role {name}", f"Unknown role '{role}'; use {', '.join(ROLES)}.")
                )
            elif role in holder:
                errors.append(
                    RowError(
                        0,
                        f"role {name}",
                        f"Role '{role}' is already given to question '{holder[role]}'; "
                        "each role belongs to one question.",
                    )
                )
            else:
                holder[role] = name
            if role == "preference" and spec.get("level", "nominal") != "nominal":
                errors.append(
                    RowError(
                        0,
                        f"role {name}",
                        f"A preference question is nominal (A, B or tie), not {spec.get('level')}.",
                    )
                )
        if spec.get("order") is not None and "level" not in spec:
            spec["level"] = "ordinal"  # declaring an order makes a question ordinal
        level = spec.get("level", "nominal")
        if level not in LEVELS:
            errors.append(
                RowError(0, f"level {name}", f"Unknown level '{level}'; use {', '.join(LEVELS)}.")
            )
        order = spec.get("order")
        if order is None:
            continue
        if not isinstance(order, list) or not all(isinstance(v, str | int | float) for v in order):
            errors.append(RowError(0, f"order {name}", "Must be a list of labels."))
            continue
        labels = [nfc(str(v).strip()) for v in order]
        spec["order"] = labels
        if len(set(labels)) != len(labels) or "" in labels:
            errors.append(RowError(0, f"order {name}", "Labels must be distinct and non-empty."))
        if level in ("interval", "ratio"):
            errors.append(
                RowError(
                    0, f"order {name}", f"An order is only for ordinal questions, not {level}."
                )
            )
        elif level == "nominal":
            errors.append(
                RowError(0, f"order {name}", "An order is only for ordinal questions, not nominal.")
            )


# -- records ----------------------------------------------------------------------------

Record = tuple[int, dict[str, Any], list[RowError]]


def _jsonl_records(stream: IO[bytes], header: Declarations) -> Iterator[Record]:
    """The output import's JSONL reader, plus an optional first line declaring the
    questions (`{"questions": {...}}`), which is read into `header`."""
    first = True
    for line_number, record, errors in jsonl_records(stream):
        if first and not errors and set(record) == {"questions"}:
            first = False
            questions = record["questions"]
            if not isinstance(questions, dict) or not all(
                isinstance(spec, dict) for spec in questions.values()
            ):
                yield (
                    line_number,
                    {},
                    [RowError(line_number, "questions", "Must map each question to an object.")],
                )
                continue
            header.update({str(k): dict(v) for k, v in questions.items()})
            continue
        first = False
        yield line_number, record, errors


def _csv_records(stream: IO[bytes], header: Declarations) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    comment_lines: list[str] = []
    line_number = 0
    try:
        for raw in text:
            line_number += 1
            if raw.startswith("#"):
                comment_lines.append(raw)
                continue
            if raw.strip() == "" and not comment_lines and line_number == 1:
                continue
            first_data_line = raw
            break
        else:
            first_data_line = ""
    except UnicodeDecodeError:
        yield max(line_number, 1), {}, [RowError(max(line_number, 1), "file", "Not valid UTF-8.")]
        return
    declared, declaration_errors = parse_declarations("".join(comment_lines))
    header.update(declared)
    if declaration_errors:
        yield 0, {}, declaration_errors
    header_line = line_number

    def lines() -> Iterator[str]:
        if first_data_line:
            yield first_data_line
        yield from text

    reader = csv.reader(lines())
    try:
        columns = next(reader)
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        yield header_line, {}, [RowError(header_line, "line", f"Unreadable header: {exc}.")]
        return
    columns = [name.strip() for name in columns]
    column_errors = [
        RowError(header_line, name or f"column {index + 1}", "Unknown column.")
        for index, name in enumerate(columns)
        if name not in ALL_FIELDS
    ]
    column_errors += [
        RowError(header_line, name, "Duplicate column.")
        for index, name in enumerate(columns)
        if name in columns[:index]
    ]
    column_errors += [
        RowError(header_line, name, "Missing required column.")
        for name in REQUIRED_FIELDS
        if name not in columns
    ]
    if column_errors:
        yield header_line, {}, column_errors
        return
    # reader.line_num counts physical lines read by this reader (header included).
    offset = header_line - 1
    record_start = offset + reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            yield record_start, {}, [RowError(record_start, "line", "Not valid UTF-8.")]
            return
        except csv.Error as exc:
            yield record_start, {}, [RowError(record_start, "line", f"Malformed CSV: {exc}.")]
            return
        line = record_start
        record_start = offset + reader.line_num + 1
        if not cells:
            continue
        if len(cells) != len(columns):
            message = f"Has {len(cells)} cells; the header has {len(columns)}."
            yield line, {}, [RowError(line, "line", message)]
            continue
        yield line, dict(zip(columns, cells, strict=True)), []


def _parquet_records(stream: IO[bytes], header: Declarations) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet_file = pq.ParquetFile(stream)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        yield 0, {}, [RowError(0, "file", f"Not a readable Parquet file: {exc}.")]
        return
    metadata = parquet_file.schema_arrow.metadata or {}
    if PARQUET_METADATA_KEY in metadata:
        try:
            questions = orjson.loads(metadata[PARQUET_METADATA_KEY])
            header.update({str(k): dict(v) for k, v in questions.items()})
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            yield 0, {}, [RowError(0, "questions", "Parquet metadata is not a JSON object.")]
    names = parquet_file.schema_arrow.names
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    unknown = [name for name in names if name not in ALL_FIELDS]
    if missing or unknown:
        yield (
            0,
            {},
            [RowError(0, n, "Missing required column.") for n in missing]
            + [RowError(0, n, "Unknown column.") for n in unknown],
        )
        return
    row_number = 0
    for batch in parquet_file.iter_batches(batch_size=50_000):
        for record in batch.to_pylist():
            row_number += 1
            yield row_number, record, []


# -- validation -------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """Ids and labels may arrive as numbers in JSON and Parquet; compare them as text,
    in Unicode NFC."""
    if isinstance(value, str):
        return nfc(value.strip())
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _number(text: str) -> float | None:
    """`text` as a number the analysis can use: finite and within MAX_MAGNITUDE."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_MAGNITUDE else None


def _number_problem(text: str) -> str | None:
    """Why `text` is no usable number, or None when it is one."""
    try:
        number = float(text)
    except ValueError:
        return "is not a number"
    if not math.isfinite(number):
        return "is not a finite number"
    if abs(number) > MAX_MAGNITUDE:
        return "is too large (numbers beyond ±1e15 are refused)"
    return None


def _validate(
    line: int,
    record: dict[str, Any],
    questions: Declarations,
    order_index: dict[str, set[str]],
    errors: list[RowError],
) -> AnnotationRow | Literal[False] | None:
    """The row, None when it has errors (appended to `errors`), or False when it is
    left out because its value is empty."""
    before = len(errors)
    unknown = sorted(set(record) - set(ALL_FIELDS))
    errors.extend(RowError(line, name, "Unknown field.") for name in unknown)
    cleaned: dict[str, str] = {}
    no_answer = False
    for name in ALL_FIELDS:
        raw = record.get(name)
        if name in OPTIONAL_FIELDS and (raw is None or raw == ""):
            cleaned[name] = ""
            continue
        if name == "value" and (raw is None or (isinstance(raw, str) and raw.strip() == "")):
            # No answer: the row is left out (and counted), as the format says.
            no_answer = True
            continue
        if name == "value" and isinstance(raw, bool):
            numeric = questions.get(str(record.get("question")), {}).get("level") in (
                "interval",
                "ratio",
                "ordinal",
            )
            raw = int(raw) if numeric else ("true" if raw else "false")
        value = _text(raw)
        if raw is None or value == "":
            errors.append(RowError(line, name, "Required; must not be empty."))
        elif value is None:
            kind = "a number that is not finite" if isinstance(raw, float) else type(raw).__name__
            errors.append(RowError(line, name, f"Must be text or a number, not {kind}."))
        elif "\x00" in value:
            errors.append(RowError(line, name, "Contains a NUL character, which cannot be stored."))
        elif name in MAX_LENGTH and len(value) > MAX_LENGTH[name]:
            errors.append(RowError(line, name, f"Longer than {MAX_LENGTH[name]} characters."))
        else:
            cleaned[name] = value
    shown_order = cleaned.get("shown_order", "").lower()
    if shown_order and shown_order not in SHOWN_ORDERS:
        errors.append(RowError(line, "shown_order", "Must be 'ab' (output a shown first) or 'ba'."))
    if len(errors) > before:
        return None
    if no_answer:
        return False
    question = cleaned["question"]
    value = cleaned["value"]
    spec = questions.get(question, {})
    level = spec.get("level", "nominal")
    number = _number(value)
    if level in ("interval", "ratio"):
        problem = _number_problem(value)
        if problem is not None:
            errors.append(RowError(line, "value", f"'{value}' {problem} ({level} question)."))
            return None
        if level == "ratio" and number is not None and number < 0:
            errors.append(RowError(line, "value", f"'{value}' is negative (ratio question)."))
            return None
    elif level == "ordinal":
        allowed = order_index.get(question)
        if allowed is not None and value not in allowed:
            errors.append(
                RowError(
                    line,
                    "value",
                    f"'{value}' is not in the declared order of '{question}': "
                    f"{', '.join(spec['order'])}.",
                )
            )
            return None
        if allowed is None and number is None:
            problem = _number_problem(value)
            if problem != "is not a number":
                errors.append(RowError(line, "value", f"'{value}' {problem} (ordinal question)."))
                return None
            errors.append(
                RowError(
                    line,
                    "value",
                    f"'{value}' is not a number; declare the order of the word labels of "
                    f"ordinal question '{question}' (order {question}=low,...,high).",
                )
            )
            return None
    elif spec.get("role") == "preference":
        choice = PAIRWISE_CHOICES.get(value.lower())
        if choice is None:
            errors.append(
                RowError(
                    line,
                    "value",
                    f"'{value}' is not a pairwise answer: A (the output shown first), B or tie.",
                )
            )
            return None
        value = choice
    return AnnotationRow(
        line,
        cleaned["unit"],
        cleaned["annotator"],
        question,
        value,
        number,
        cleaned["pool"],
        cleaned["guideline_version"],
        shown_order,
    )


def parse_annotations_file(
    stream: IO[bytes], fmt: str, *, declarations: Mapping[str, Mapping[str, Any]] | None = None
) -> ParsedAnnotations:
    """Read and validate every row; check duplicates across the whole file.

    Parameters
    ----------
    stream : binary file
        The uploaded file.
    fmt : {"csv", "jsonl", "parquet"}
        Its format.
    declarations : mapping, optional
        Question -> {"level", "order", "role"} given outside the file (flags, form);
        they override the file's own header block.

    Returns
    -------
    ParsedAnnotations
        Rows (empty when any error was found is not guaranteed: check ``errors``),
        every error sorted by line, the final question declarations, and how many rows
        were left out for an empty value.
    """
    parsed = ParsedAnnotations()
    header: Declarations = {}
    records = {"jsonl": _jsonl_records, "csv": _csv_records, "parquet": _parquet_records}[fmt]
    iterator = records(stream, header)
    # The header block comes first in every format, so the declarations are complete
    # once the first record arrives; read lazily to keep one pass over the file.
    questions: Declarations | None = None
    order_index: dict[str, set[str]] = {}
    first_line: dict[tuple[str, str, str], int] = {}
    for line, record, record_errors in iterator:
        if questions is None and not record_errors:
            questions = _final_declarations(header, declarations, parsed.errors)
            order_index = {
                name: set(spec["order"]) for name, spec in questions.items() if spec.get("order")
            }
        if record_errors:
            parsed.errors.extend(record_errors)
            continue
        row = _validate(line, record, questions or {}, order_index, parsed.errors)
        if row is False:
            parsed.empty_values += 1
            continue
        if row is None:
            continue
        key = (row.unit, row.annotator, row.question)
        seen = first_line.setdefault(key, line)
        if seen != line:
            parsed.errors.append(
                RowError(
                    line,
                    "annotator",
                    f"Annotator '{row.annotator}' already answered '{row.question}' for unit "
                    f"'{row.unit}' on line {seen}.",
                )
            )
            continue
        parsed.rows.append(row)
    if questions is None:
        questions = _final_declarations(header, declarations, parsed.errors)
    present = {row.question for row in parsed.rows}
    parsed.questions = {}
    for name in sorted(present):
        declared = questions.get(name, {})
        spec: dict[str, Any] = {
            "level": declared.get("level", "nominal"),
            "order": declared.get("order"),
        }
        if declared.get("role"):
            spec["role"] = declared["role"]
        parsed.questions[name] = spec
    _mark_yes_no(parsed)
    for name, spec in sorted(questions.items()):
        if spec.get("role") and name not in present:
            parsed.errors.append(
                RowError(
                    0,
                    f"role {name}",
                    f"Role '{spec['role']}' is given to question '{name}', which no row answers.",
                )
            )
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(0, "file", "The file holds no annotations."))
    parsed.errors.sort(key=lambda error: error.line)
    return parsed


def _mark_yes_no(parsed: ParsedAnnotations) -> None:
    """A nominal question answered only `true` / `false` (any case) is a yes/no question:
    the loader hands its answers to the analysis as booleans, as the platform's own
    yes/no questions are, so both code "yes" the same way."""
    candidates = {
        name
        for name, spec in parsed.questions.items()
        if spec["level"] == "nominal" and not spec["order"] and spec.get("role") != "preference"
    }
    for row in parsed.rows:
        if row.question in candidates and row.value_text.lower() not in BOOLEAN_WORDS:
            candidates.discard(row.question)
    for name in candidates:
        parsed.questions[name]["boolean"] = True


def _final_declarations(
    header: Declarations,
    explicit: Mapping[str, Mapping[str, Any]] | None,
    errors: list[RowError],
) -> Declarations:
    questions = merge_declarations(header, explicit or {})
    _check_declarations(questions, errors)
    return questions
