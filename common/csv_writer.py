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


def neutralise_array(array: pa.Array) -> pa.Array:
    """A text column with :func:`neutralise` applied to every value (other types are
    returned as they are). Vectorised: the common case, no cell starting with a formula
    character, costs one regex scan of the column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    starts = pc.match_substring_regex(array, _FORMULA_START)
    if not pc.any(starts).as_py():
        return array
    number = pc.match_substring_regex(array, "^" + NUMBER + "$")
    formula = pc.and_(starts, pc.invert(number))
    quoted = pc.binary_join_element_wise("'", array, "")
    return pc.if_else(pc.fill_null(formula, False), quoted, array)
