"""Pure renderers: rows (Arrow record batches) or a report dict in, bytes out.

No Django and no database here. Table renderers take an iterable of
`pyarrow.RecordBatch` sharing one schema and yield the file's bytes piece by piece, so
the same code streams an HTTP response or writes a job's file with flat memory.
"""

from __future__ import annotations
