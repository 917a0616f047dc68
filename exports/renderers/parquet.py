"""Parquet with an explicit typed schema (ints, floats, booleans, UTC timestamps,
strings), zstd-compressed, in row groups of `row_group_rows`. Column descriptions and
`metadata` are stored in the file's key-value metadata."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from exports.renderers._sink import Drain

CONTENT_TYPE = "application/vnd.apache.parquet"
EXTENSION = "parquet"


def with_metadata(schema: pa.Schema, metadata: Mapping[str, object] | None) -> pa.Schema:
    if not metadata:
        return schema
    return schema.with_metadata({"judgebench": orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS)})


def write(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    sink: object,
    *,
    row_group_rows: int = 65_536,
    metadata: Mapping[str, object] | None = None,
) -> Iterator[None]:
    """Write to a file object, yielding after each row group (and at the end)."""
    full = with_metadata(schema, metadata)
    writer = pq.ParquetWriter(sink, full, compression="zstd", write_statistics=True)
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= row_group_rows:
            writer.write_table(pa.Table.from_batches(pending, schema=full), row_group_size=rows)
            pending, rows = [], 0
            yield None
    if pending:
        writer.write_table(pa.Table.from_batches(pending, schema=full), row_group_size=rows)
    writer.close()
    yield None


def render(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    *,
    row_group_rows: int = 65_536,
    metadata: Mapping[str, object] | None = None,
) -> Iterator[bytes]:
    sink = Drain()
    for _ in write(batches, schema, sink, row_group_rows=row_group_rows, metadata=metadata):
        data = sink.take()
        if data:
            yield data
