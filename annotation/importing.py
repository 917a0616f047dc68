"""Parsing and validation of model-output files (JSONL, CSV, Parquet).

Pure: bytes in, validated rows or a complete list of errors out. Nothing here
touches the database, so a bad file can never leave half a write behind.

An empty output ("" or only whitespace) is importable: real models return them, and
a study of their outputs must be able to show them. The import counts them
(`ParsedFile.empty_outputs`) and the annotator workspace shows "(empty response)".
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

REQUIRED_FIELDS = ("prompt_id", "prompt", "system", "output")
OPTIONAL_FIELDS = ("reference", "metadata", "variant")
METADATA_PREFIX = "metadata."
FORMATS = ("jsonl", "csv", "parquet")
ERRORS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str
    # Which file of a several-file import (a study bundle's "units" or "annotators");
    # empty for single-file imports, whose errors keep their three keys.
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        shown = {"line": self.line, "field": self.field, "message": self.message}
        return {"file": self.file, **shown} if self.file else shown


@dataclass(slots=True)
class OutputRow:
    line: int
    prompt_id: str
    prompt: str
    system: str
    output: str
    reference: str
    metadata: dict[str, Any]
    # "" for a system's own output; a label such as "assertive" for a rewrite of it
    # made for a study (matched tone variants, injected errors).
    variant: str = ""


@dataclass
class ParsedFile:
    rows: list[OutputRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Rows whose output is empty or only whitespace: imported, and counted so the
    # importer is told.
    empty_outputs: int = 0


def nfc(text: str) -> str:
    """`text` in Unicode normal form C, so "café" typed as one code point and as "e" plus
    a combining accent is one id or label, not two that print the same. Ids and labels
    are normalised at every import; texts (prompts, outputs) are kept byte for byte."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def detect_format(filename: str, declared: str | None = None) -> str:
    if declared:
        if declared not in FORMATS:
            raise ValueError(f"Unknown format '{declared}'; use one of {', '.join(FORMATS)}.")
        return declared
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix in {"jsonl", "ndjson"}:
        return "jsonl"
    if suffix in FORMATS:
        return suffix
    raise ValueError(
        f"Cannot tell the format of '{filename}' from its name; use .jsonl, .csv or .parquet."
    )


def parse_outputs_file(stream: IO[bytes], fmt: str) -> ParsedFile:
    """Read every row, validate each, and check duplicates across the whole file."""
    parsed = ParsedFile()
    records = {"jsonl": jsonl_records, "csv": _csv_records, "parquet": _parquet_records}[fmt]
    for line, record, record_errors in records(stream):
        if record_errors:
            parsed.errors.extend(record_errors)
            continue
        row = _validate_record(line, record, parsed.errors)
        if row is not None:
            parsed.rows.append(row)
            if not row.output.strip():
                parsed.empty_outputs += 1
    _check_file_consistency(parsed)
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(0, "file", "The file holds no rows."))
    return parsed


Record = tuple[int, dict[str, Any], list[RowError]]


def jsonl_records(stream: IO[bytes]) -> Iterator[Record]:
    """(line, object, errors) per non-blank line; a line that is not a JSON object
    comes with its error. Shared by every JSONL import."""
    for line_number, raw in enumerate(stream, start=1):
        if line_number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        try:
            # orjson parses several times faster than json and rejects invalid UTF-8 too.
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            message = (
                "Not valid UTF-8." if "utf-8" in str(exc).lower() else f"Not valid JSON: {exc}."
            )
            yield line_number, {}, [RowError(line_number, "line", message)]
            continue
        if not isinstance(record, dict):
            yield line_number, {}, [RowError(line_number, "line", "Each line must be an object.")]
            continue
        yield line_number, record, []


def _csv_records(stream: IO[bytes]) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except UnicodeDecodeError:
        yield 1, {}, [RowError(1, "file", "Not valid UTF-8.")]
        return
    header_errors = [
        RowError(1, name or f"column {index + 1}", "Unknown column.")
        for index, name in enumerate(header)
        if name not in (*REQUIRED_FIELDS, "reference", "variant")
        and not name.startswith(METADATA_PREFIX)
    ]
    header_errors += [
        RowError(1, name, "Duplicate column.")
        for index, name in enumerate(header)
        if name in header[:index]
    ]
    header_errors += [
        RowError(1, name, "Missing required column.")
        for name in REQUIRED_FIELDS
        if name not in header
    ]
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
            yield record_start, {}, [RowError(record_start, "line", "Not valid UTF-8.")]
            return
        except csv.Error as exc:
            yield record_start, {}, [RowError(record_start, "line", f"Malformed CSV: {exc}.")]
            return
        line = record_start
        record_start = reader.line_num + 1
        if not cells:
            continue
        if len(cells) != len(header):
            yield (
                line,
                {},
                [RowError(line, "line", f"Has {len(cells)} cells; the header has {len(header)}.")],
            )
            continue
        record: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if name.startswith(METADATA_PREFIX):
                if cell != "":
                    metadata[name.removeprefix(METADATA_PREFIX)] = _csv_metadata_value(cell)
            elif name in ("reference", "variant") and cell == "":
                continue
            else:
                record[name] = cell
        if metadata:
            record["metadata"] = metadata
        yield line, record, []


def _csv_metadata_value(cell: str) -> Any:
    """Numbers, booleans, lists and objects arrive as text in CSV; JSON recovers them."""
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def _parquet_records(stream: IO[bytes]) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet_file = pq.ParquetFile(stream)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        yield 0, {}, [RowError(0, "file", f"Not a readable Parquet file: {exc}.")]
        return
    names = parquet_file.schema_arrow.names
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    unknown = [name for name in names if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS]
    if missing or unknown:
        yield (
            0,
            {},
            [RowError(0, n, "Missing required column.") for n in missing]
            + [RowError(0, n, "Unknown column.") for n in unknown],
        )
        return
    row_number = 0
    for batch in parquet_file.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            row_number += 1
            metadata = record.get("metadata")
            if isinstance(metadata, str):
                try:
                    record["metadata"] = json.loads(metadata)
                except ValueError:
                    yield (
                        row_number,
                        {},
                        [RowError(row_number, "metadata", "Must be an object or a JSON object.")],
                    )
                    continue
            elif isinstance(metadata, list):  # a Parquet map column arrives as key/value pairs
                record["metadata"] = dict(metadata)
            if record.get("metadata") is None:
                record.pop("metadata", None)
            for optional in ("reference", "variant"):
                if record.get(optional) is None:
                    record.pop(optional, None)
            yield row_number, record, []


_ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)


def _validate_record(line: int, record: dict[str, Any], errors: list[RowError]) -> OutputRow | None:
    # This runs once per row of files with millions of rows: the common case
    # (four non-empty strings, nothing extra) takes the shortest path.
    prompt_id = record.get("prompt_id")
    if type(prompt_id) is int:
        prompt_id = str(prompt_id)
    prompt, system, output = record.get("prompt"), record.get("system"), record.get("output")
    reference = record.get("reference") or ""
    metadata = record.get("metadata") or {}
    variant = record.get("variant") or ""
    if (
        type(prompt_id) is str
        and type(prompt) is str
        and type(system) is str
        and type(output) is str
        and type(reference) is str
        and type(metadata) is dict
        and type(variant) is str
        and len(variant) <= 64
        and prompt_id.strip()
        and prompt.strip()
        and system.strip()
        and len(prompt_id) <= 200
        and len(system) <= 200
        and record.keys() <= _ALLOWED_FIELDS
        and "\x00" not in prompt_id + prompt + system + output + reference
        and _design_ok(metadata)
    ):
        return OutputRow(
            line, nfc(prompt_id), prompt, nfc(system), output, reference, metadata, nfc(variant)
        )
    _collect_record_errors(line, record, errors)
    return None


def _design_ok(metadata: dict[str, Any]) -> bool:
    tone = metadata.get("tone")
    known = metadata.get("known_errors")
    return (tone is None or type(tone) is str) and (
        known is None or (type(known) is int and known >= 0) or type(known) is list
    )


def _collect_record_errors(line: int, record: dict[str, Any], errors: list[RowError]) -> None:
    unknown = set(record) - _ALLOWED_FIELDS
    errors.extend(RowError(line, name, "Unknown field.") for name in sorted(unknown))
    for name in REQUIRED_FIELDS:
        value = record.get(name)
        if name == "prompt_id" and type(value) is int:
            value = str(value)
        if value is None:
            errors.append(RowError(line, name, "Required."))
        elif not isinstance(value, str):
            errors.append(RowError(line, name, f"Must be text, not {type(value).__name__}."))
        elif value.strip() == "" and name != "output":
            # An empty output is a real model's answer and is imported; the other
            # fields name things and must say something.
            errors.append(RowError(line, name, "Must not be empty."))
        elif "\x00" in value:
            errors.append(RowError(line, name, "Contains a NUL character, which cannot be stored."))
        elif name in ("prompt_id", "system") and len(value) > 200:
            errors.append(RowError(line, name, "Longer than 200 characters."))
    reference = record.get("reference")
    if reference is not None and not isinstance(reference, str):
        errors.append(RowError(line, "reference", "Must be text."))
    elif reference and "\x00" in reference:
        errors.append(
            RowError(line, "reference", "Contains a NUL character, which cannot be stored.")
        )
    variant = record.get("variant")
    if variant is not None and not isinstance(variant, str):
        errors.append(RowError(line, "variant", "Must be text (a variant label)."))
    elif variant and len(variant) > 64:
        errors.append(RowError(line, "variant", "Longer than 64 characters."))
    metadata = record.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        errors.append(RowError(line, "metadata", "Must be an object."))
    elif metadata:
        _validate_design_metadata(line, metadata, errors)


def _validate_design_metadata(line: int, metadata: dict[str, Any], errors: list[RowError]) -> None:
    """The bias analysis reads `tone` and `known_errors`; catch a wrong type at import."""
    tone = metadata.get("tone")
    if tone is not None and not isinstance(tone, str):
        errors.append(RowError(line, "metadata.tone", "Must be text (a condition label)."))
    known = metadata.get("known_errors")
    if known is not None and not (
        (isinstance(known, int) and not isinstance(known, bool) and known >= 0)
        or isinstance(known, list)
    ):
        errors.append(
            RowError(line, "metadata.known_errors", "Must be a count ≥ 0 or a list of errors.")
        )


def _check_file_consistency(parsed: ParsedFile) -> None:
    first_line_of_output: dict[tuple[str, str, str], int] = {}
    prompt_texts: dict[str, tuple[int, str]] = {}
    for row in parsed.rows:
        key = (row.prompt_id, row.system, row.variant)
        if key in first_line_of_output:
            which = f" (variant '{row.variant}')" if row.variant else ""
            parsed.errors.append(
                RowError(
                    row.line,
                    "system",
                    f"Prompt '{row.prompt_id}' already has an output from this system{which} "
                    f"on line {first_line_of_output[key]}. If this row is a rewrite of that "
                    "output (a tone variant, an injected error), give it its own 'variant' "
                    "label.",
                )
            )
        else:
            first_line_of_output[key] = row.line
        seen = prompt_texts.setdefault(row.prompt_id, (row.line, row.prompt))
        if seen[1] != row.prompt:
            parsed.errors.append(
                RowError(
                    row.line,
                    "prompt",
                    f"Prompt '{row.prompt_id}' has different text on line {seen[0]}.",
                )
            )
    parsed.errors.sort(key=lambda error: error.line)


def design_fields(metadata: dict[str, Any]) -> tuple[str, int | None]:
    """The tone condition and known-error count an output's metadata declares."""
    tone = nfc(metadata.get("tone") or "")
    known = metadata.get("known_errors")
    if isinstance(known, list):
        return tone, len(known)
    return tone, known
