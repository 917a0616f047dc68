"""Parsing and validation of output files: pure, no database."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotation.importing import design_fields, detect_format, parse_outputs_file


def jsonl(*rows: object) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(row) for row in rows).encode())


GOOD = {"prompt_id": "p1", "prompt": "Q?", "system": "s1", "output": "A."}


def test_good_jsonl_rows_are_parsed_with_their_lines():
    parsed = parse_outputs_file(
        jsonl(GOOD, {**GOOD, "system": "s2", "metadata": {"tone": "hedged"}}), "jsonl"
    )
    assert parsed.errors == []
    assert [(row.line, row.system, row.metadata) for row in parsed.rows] == [
        (1, "s1", {}),
        (2, "s2", {"tone": "hedged"}),
    ]


def test_every_error_is_reported_with_line_and_field():
    stream = io.BytesIO(
        b'{"prompt_id": "p1", "prompt": "Q?", "system": "s1", "output": "A."}\n'
        b'{"prompt_id": "p2", "prompt": "", "system": "s1"}\n'
        b"not json\n"
        b'{"prompt_id": "p3", "prompt": "Q", "system": 5, "output": "x", "metadata": [1], "colour": 1}\n'
        b'{"prompt_id": "p1", "prompt": "Q?", "system": "s1", "output": "again"}\n'
    )
    parsed = parse_outputs_file(stream, "jsonl")
    found = {(error.line, error.field) for error in parsed.errors}
    assert found == {
        (2, "prompt"),
        (2, "output"),
        (3, "line"),
        (4, "system"),
        (4, "metadata"),
        (4, "colour"),
        (5, "system"),
    }
    assert [error.line for error in parsed.errors] == sorted(error.line for error in parsed.errors)


def test_conflicting_prompt_text_within_a_file_is_an_error():
    parsed = parse_outputs_file(jsonl(GOOD, {**GOOD, "system": "s2", "prompt": "Other?"}), "jsonl")
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "prompt")]


def test_design_metadata_types_are_checked():
    parsed = parse_outputs_file(
        jsonl({**GOOD, "metadata": {"tone": 3, "known_errors": -1}}), "jsonl"
    )
    assert {e.field for e in parsed.errors} == {"metadata.tone", "metadata.known_errors"}


def test_csv_metadata_columns_become_an_object_and_multiline_cells_keep_their_line():
    text = (
        "prompt_id,prompt,system,output,reference,metadata.tone,metadata.known_errors\n"
        'p1,Q?,s1,"line one\nline two",,assertive,2\n'
        "p2,Q2?,s1,short,ref,,\n"
        "p3,,s1,x,,,\n"
    )
    parsed = parse_outputs_file(io.BytesIO(text.encode()), "csv")
    assert [(e.line, e.field) for e in parsed.errors] == [(5, "prompt")]
    first, second = parsed.rows
    assert first.output == "line one\nline two"
    assert first.metadata == {"tone": "assertive", "known_errors": 2}
    assert (second.line, second.reference, second.metadata) == (4, "ref", {})


def test_csv_with_unknown_and_missing_columns_is_refused_at_the_header():
    parsed = parse_outputs_file(io.BytesIO(b"prompt_id,prompt,model,output\np,q,m,o\n"), "csv")
    assert {(e.line, e.field) for e in parsed.errors} == {(1, "model"), (1, "system")}


def test_parquet_rows_with_struct_metadata(tmp_path):
    table = pa.table(
        {
            "prompt_id": ["p1", "p2"],
            "prompt": ["Q1", "Q2"],
            "system": ["s", "s"],
            "output": ["A1", None],
            "metadata": [
                {"tone": "hedged", "known_errors": 1},
                {"tone": "assertive", "known_errors": 0},
            ],
        }
    )
    path = tmp_path / "outputs.parquet"
    pq.write_table(table, path)
    with path.open("rb") as stream:
        parsed = parse_outputs_file(stream, "parquet")
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "output")]
    assert parsed.rows[0].metadata == {"tone": "hedged", "known_errors": 1}


def test_nul_characters_are_refused_because_postgres_cannot_store_them():
    parsed = parse_outputs_file(jsonl({**GOOD, "output": "a\x00b"}), "jsonl")
    assert [(e.line, e.field) for e in parsed.errors] == [(1, "output")]


def test_an_empty_file_is_refused():
    assert parse_outputs_file(io.BytesIO(b""), "jsonl").errors[0].field == "file"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("b.csv", "csv"), ("c.parquet", "parquet")],
)
def test_format_from_file_name(name, expected):
    assert detect_format(name) == expected


def test_unknown_format_is_explained():
    with pytest.raises(ValueError, match="Cannot tell the format"):
        detect_format("outputs.xlsx")


def test_empty_outputs_are_imported_and_counted():
    parsed = parse_outputs_file(
        jsonl(
            {**GOOD, "output": ""},
            {**GOOD, "system": "s2", "output": "  \n"},
            {**GOOD, "system": "s3"},
        ),
        "jsonl",
    )
    assert parsed.errors == []
    assert [row.output for row in parsed.rows] == ["", "  \n", "A."]
    assert parsed.empty_outputs == 2


def test_ids_and_labels_are_normalised_to_nfc_and_texts_kept_byte_for_byte():
    decomposed = "cafe\u0301"
    parsed = parse_outputs_file(
        jsonl(
            {
                "prompt_id": decomposed,
                "prompt": decomposed,
                "system": decomposed,
                "output": decomposed,
                "variant": decomposed,
                "metadata": {"tone": decomposed},
            }
        ),
        "jsonl",
    )
    row = parsed.rows[0]
    assert row.prompt_id == row.system == row.variant == "caf\u00e9"
    assert row.prompt == row.output == decomposed
    assert design_fields(row.metadata)[0] == "caf\u00e9"


def test_a_second_output_of_one_system_is_pointed_to_the_variant_field():
    parsed = parse_outputs_file(jsonl(GOOD, {**GOOD, "output": "Rewritten."}), "jsonl")
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "system")]
    assert "'variant'" in parsed.errors[0].message and "line 1" in parsed.errors[0].message
    rewrite = {**GOOD, "output": "Rewritten.", "variant": "assertive"}
    assert parse_outputs_file(jsonl(GOOD, rewrite), "jsonl").errors == []
