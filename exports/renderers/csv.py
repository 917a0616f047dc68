"""CSV: a header row, then one line per row (RFC 4180 quoting, UTF-8).

Empty cells are missing values; an empty text is written as ``""``. Booleans are
``true``/``false``, timestamps ISO 8601 in UTC (``2024-05-01T12:34:56.123456Z``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from exports.renderers._arrow import timestamps_as_text

CONTENT_TYPE = "text/csv; charset=utf-8"
EXTENSION = "csv"


def render(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[bytes]:
    header = True
    for batch in batches:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(
            timestamps_as_text(batch), sink, write_options=pacsv.WriteOptions(include_header=header)
        )
        header = False
        yield sink.getvalue().to_pybytes()
    if header:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(schema.empty_table(), sink)
        yield sink.getvalue().to_pybytes()
