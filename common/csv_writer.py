"""The one CSV writer of the platform: every CSV a user downloads goes through here.

A spreadsheet opening a CSV runs a text cell that starts with ``=``, ``+``, ``-``, ``@``,
tab or carriage return as a formula (OWASP, "CSV Injection"). Annotator free text,
flag notes, question names, annotator ids and system names all come from people the
reader did not vet, so every text cell that starts with one of those characters is
written with a single quote in front (``'=HYPERLINK(...)``): spreadsheets show it as
text, and a script can strip the one quote. A cell that is a plain number (``-0.25``,
``+3``, ``1e-5``) is not a formula in any spreadsheet, so it is written as is, and
typed numbers (int, float, Decimal) are never touched: a negative estimate stays a
number. Parquet and JSONL keep the raw text (docs/exports.md).

Two entry points share the rule and the dialect (RFC 4180 quoting, UTF-8, ``\\n``
line ends): :func:`rows_csv` for tables built in Python (report tables, payouts) and
:func:`neutralise_array` for Arrow columns streamed by the raw-data export.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A whole cell that a spreadsheet reads as a number, not a formula.
NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER + r"\Z")
_FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it verbatim: a quote in front of a formula."""
    if text[:1] in FORMULA_PREFIXES and not _NUMBER.match(text):
        return "'" + text
    return text


def cell(value: Any) -> Any:
    """One value as a CSV cell: missing → empty, booleans ``true``/``false``, lists and
    dicts as JSON, numbers untouched (Python's shortest round-trip repr), text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return neutralise(orjson.dumps(value).decode())
    if isinstance(value, str):
        return neutralise(value)
    return value


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A header row and the rows, every cell through :func:`cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(str(name)) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _formula_starts(array: pa.Array) -> Any:
    """Boolean numpy mask of the cells of a string array whose first byte is a formula
    character, read straight from Arrow's offsets and data buffers (the characters are
    ASCII, and no UTF-8 multi-byte sequence starts with an ASCII byte)."""
    import numpy as np
    import pyarrow as pa

    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=kind, count=array.offset + n + 1)[array.offset :]
    starts = offsets[:-1]
    filled = np.greater(offsets[1:], starts)
    first = np.zeros(n, dtype=np.uint8)
    if data_buffer is not None and filled.any():
        first[filled] = np.frombuffer(data_buffer, dtype=np.uint8)[starts[filled]]
    mask = np.isin(first, np.frombuffer("".join(FORMULA_PREFIXES).encode(), dtype=np.uint8))
    if array.null_count:
        mask &= array.is_valid().to_numpy(zero_copy_only=False)
    return mask


def neutralise_array(array: pa.Array) -> pa.Array:
    """A text column with :func:`neutralise` applied to every value (other types are
    returned as they are). Vectorised: the first byte of every cell is read from the
    Arrow buffers at once, and only the few candidate cells are checked for being plain
    numbers and rewritten; a column without formula-like text costs one numpy pass."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    candidates = np.flatnonzero(_formula_starts(array))
    if candidates.size == 0:
        return array
    values = array.take(pa.array(candidates))
    number = pc.match_substring_regex(values, "^" + NUMBER + "$").to_numpy(zero_copy_only=False)
    formula = candidates[~number]
    if formula.size == 0:
        return array
    mask = np.zeros(len(array), dtype=bool)
    mask[formula] = True
    quote, nothing = pa.scalar("'", array.type), pa.scalar("", array.type)
    quoted = pc.binary_join_element_wise(quote, array.take(pa.array(formula)), nothing)
    return pc.replace_with_mask(array, pa.array(mask), quoted)
