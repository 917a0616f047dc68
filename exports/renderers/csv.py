"""CSV: a header row, then one line per row (RFC 4180 quoting, UTF-8).

Empty cells are missing values; an empty text is written as ``""``. Booleans are
``true``/``false``, timestamps ISO 8601 in UTC (``2024-05-01T12:34:56.123456Z``).
Text cells that a spreadsheet would run as a formula get a leading single quote
(common.csv_writer, docs/exports.md); numbers are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from common.csv_writer import neutralise, neutralise_array
from exports.renderers._arrow import timestamps_as_text

CONTENT_TYPE = "text/csv; charset=utf-8"
EXTENSION = "csv"


def spreadsheet_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch as CSV cells: timestamps as text, formula-like text quoted. Column
    names are neutralised too: they carry question keys a lead typed."""
    columns = [neutralise_array(column) for column in timestamps_as_text(batch).columns]
    return pa.RecordBatch.from_arrays(columns, names=[neutralise(n) for n in batch.schema.names])


def render(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[bytes]:
    header = True
    for batch in batches:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(
            spreadsheet_safe(batch), sink, write_options=pacsv.WriteOptions(include_header=header)
        )
        header = False
        yield sink.getvalue().to_pybytes()
    if header:
        sink = pa.BufferOutputStream()
        empty = schema.empty_table().rename_columns([neutralise(n) for n in schema.names])
        pacsv.write_csv(empty, sink)
        yield sink.getvalue().to_pybytes()
