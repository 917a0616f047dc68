"""A Hugging Face `datasets` repository layout in one zip: ``README.md`` (the dataset
card, YAML front matter with ``dataset_info.features`` and ``configs``) and
``data/train-00000-of-00001.parquet``. Unzipped, ``datasets.load_dataset(<folder>)``
reads it; so does ``pandas.read_parquet`` on the data file.

With `tables` (the study bundle: ``annotations``, ``units``, ``annotators``) each is one
more config, ``<name>/train-00000-of-00001.parquet``: the three files
``manage.py import_annotations`` takes, so the download re-runs any analysis elsewhere.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from exports.layout import HF_DTYPES
from exports.renderers import parquet
from exports.renderers._sink import Drain

CONTENT_TYPE = "application/zip"
EXTENSION = "zip"
DATA_FILE = "data/train-00000-of-00001.parquet"


def table_file(name: str) -> str:
    return f"{name}/train-00000-of-00001.parquet"


def dataset_card(
    schema: pa.Schema,
    *,
    rows: int,
    size: int,
    card: Mapping[str, Any],
    tables: Mapping[str, pa.Table] | None = None,
) -> str:
    """The README.md: YAML front matter for the Hub, then fields and collection in prose."""
    features = [
        {"name": field.name, "dtype": HF_DTYPES.get(str(field.type), "string")} for field in schema
    ]
    front = {
        "pretty_name": card.get("title", "JudgeBench annotations"),
        "license": card.get("license", "other"),
        "tags": ["human-annotation", "llm-evaluation", "judgebench"],
        "dataset_info": {
            "features": features,
            "splits": [{"name": "train", "num_bytes": size, "num_examples": rows}],
        },
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
        ]
        + [
            {"config_name": name, "data_files": [{"split": "train", "path": f"{name}/train-*"}]}
            for name in tables or {}
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {card.get('title', 'JudgeBench annotations')}",
        "",
        str(card.get("summary", "")),
        "",
        "## Collection",
        "",
    ]
    for label, value in card.get("collection", {}).items():
        lines.append(f"- **{label}:** {value}")
    lines += ["", "## Fields", "", "| field | type | description |", "| --- | --- | --- |"]
    for field in schema:
        meta = field.metadata or {}
        description = meta.get(b"description", b"").decode("utf-8").replace("|", "\\|")
        lines.append(
            f"| `{field.name}` | {HF_DTYPES.get(str(field.type), 'string')} | {description} |"
        )
    if tables:
        lines += [
            "",
            "## Study bundle",
            "",
            "The configs "
            + ", ".join(f"`{name}` ({table.num_rows} rows)" for name, table in tables.items())
            + " are the answers the report analyses, what each unit showed and who the "
            "annotators were, in the shape JudgeBench imports (docs/annotations-format.md):",
            "",
            "```",
            "python manage.py import_annotations annotations/train-00000-of-00001.parquet \\",
            "    --units units/train-00000-of-00001.parquet \\",
            "    --annotators annotators/train-00000-of-00001.parquet --dataset NAME",
            "```",
        ]
    lines += [
        "",
        "## Reproducibility",
        "",
        "```json",
        str(card.get("manifest_json", "{}")),
        "```",
        "",
    ]
    return "\n".join(lines)


def render(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    *,
    card: Mapping[str, Any],
    row_group_rows: int = 65_536,
    metadata: Mapping[str, object] | None = None,
    tables: Mapping[str, pa.Table] | None = None,
) -> Iterator[bytes]:
    sink = Drain()
    rows = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        for batch in batches:
            rows += batch.num_rows
            yield batch

    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open(DATA_FILE, "w", force_zip64=True) as member:
            for _ in parquet.write(
                counted(), schema, member, row_group_rows=row_group_rows, metadata=metadata
            ):
                data = sink.take()
                if data:
                    yield data
        size = archive.getinfo(DATA_FILE).file_size
        for name, table in (tables or {}).items():
            with archive.open(table_file(name), "w", force_zip64=True) as member:
                pq.write_table(table, member)
            data = sink.take()
            if data:
                yield data
        archive.writestr(
            "README.md", dataset_card(schema, rows=rows, size=size, card=card, tables=tables)
        )
    yield sink.take()
