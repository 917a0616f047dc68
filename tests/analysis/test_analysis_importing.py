"""The long-format annotation parser: every error by line and field, nothing partial."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.importing import parse_annotations_file, parse_declarations
from analysis.services import ImportRefused

HEADER = "unit,annotator,question,value,pool,guideline_version\n"


def parse_csv(text: str, **kwargs):
    return parse_annotations_file(io.BytesIO(text.encode()), "csv", **kwargs)


def errors(parsed):
    return [(e.line, e.field) for e in parsed.errors]


def test_example_file_parses_with_its_header_block(example_bytes):
    parsed = parse_annotations_file(io.BytesIO(example_bytes), "csv")
    assert parsed.errors == []
    assert parsed.questions == {
        "correct": {"level": "nominal", "order": None},
        "minutes": {"level": "ratio", "order": None},
        "quality": {"level": "ordinal", "order": ["bad", "ok", "good"]},
    }
    first = parsed.rows[0]
    assert (first.line, first.unit, first.annotator, first.question, first.value_text) == (
        6,
        "item-01",
        "exp-1",
        "quality",
        "bad",
    )
    minutes = next(row for row in parsed.rows if row.question == "minutes")
    assert isinstance(minutes.value_number, float)


def test_undeclared_questions_are_nominal_and_optional_columns_may_be_absent():
    parsed = parse_csv("unit,annotator,question,value\nu1,a,q,yes\nu1,b,q,no\n")
    assert parsed.errors == []
    assert parsed.questions == {"q": {"level": "nominal", "order": None}}
    assert parsed.rows[0].pool == "" and parsed.rows[0].guideline_version == ""


def test_every_error_is_reported_by_line_and_field():
    text = (
        "# level score=interval\n"
        "# order quality=bad,ok,good\n"
        + HEADER
        + "u1,a,score,7,crowd,v1\n"  # line 4 fine
        + "u1,a,score,high,crowd,v1\n"  # 5 not a number
        + "u1,b,quality,great,crowd,v1\n"  # 6 not in the order
        + ",b,quality,ok,crowd,v1\n"  # 7 unit missing
        + "u2,b,quality,,crowd,v1\n"  # 8 no answer: left out and counted, not an error
        + "u3,b,quality,ok\n"  # 9 wrong cell count
        + "u1,a,score,8,crowd,v1\n"  # 10 duplicate of line 4
        + ",b,quality,,crowd,v1\n"  # 11 no answer, but the unit is missing too
    )
    parsed = parse_csv(text)
    assert errors(parsed) == [
        (5, "value"),
        (6, "value"),
        (7, "unit"),
        (9, "line"),
        (10, "annotator"),
        (11, "unit"),
    ]
    assert parsed.empty_values == 1
    assert "line 4" in parsed.errors[-2].message
    assert "bad, ok, good" in parsed.errors[1].message


def test_ordinal_words_need_an_order_and_ratio_values_must_be_non_negative():
    parsed = parse_csv(
        HEADER + "u1,a,q,low,,\nu1,a,r,-1,,\n",
        declarations={"q": {"level": "ordinal"}, "r": {"level": "ratio"}},
    )
    assert errors(parsed) == [(2, "value"), (3, "value")]
    assert "declare the order" in parsed.errors[0].message


def test_explicit_declarations_override_the_file_header():
    text = "# level q=interval\n" + HEADER + "u1,a,q,low,,\nu1,b,q,high,,\n"
    assert errors(parse_csv(text)) == [(3, "value"), (4, "value")]
    parsed = parse_csv(text, declarations={"q": {"level": "ordinal", "order": ["low", "high"]}})
    assert parsed.errors == []
    assert parsed.questions["q"] == {"level": "ordinal", "order": ["low", "high"]}


def test_bad_declarations_and_columns_are_refused():
    parsed = parse_csv("# level q=fuzzy\n# frobnicate\nunit,annotator,question,value,extra\n")
    fields = {field for _, field in errors(parsed)}
    assert {"declaration", "extra"} <= fields
    assert parse_csv("unit,annotator,value\n").errors[0].field == "question"


def test_declaration_text_is_the_same_syntax_with_or_without_hash():
    declared, problems = parse_declarations('level q=ordinal\n# order q="a, b",c\n\n')
    assert problems == []
    assert declared == {"q": {"level": "ordinal", "order": ["a, b", "c"]}}


def test_jsonl_with_a_questions_object_first():
    lines = [
        {"questions": {"quality": {"level": "ordinal", "order": ["bad", "good"]}}},
        {"unit": "u1", "annotator": "a", "question": "quality", "value": "good"},
        {"unit": 2, "annotator": "a", "question": "quality", "value": "meh"},
        "not json",
    ]
    payload = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    parsed = parse_annotations_file(io.BytesIO(payload.encode()), "jsonl")
    assert errors(parsed) == [(3, "value"), (4, "line")]
    assert parsed.rows[0].unit == "u1"


def test_parquet_with_declarations_in_its_metadata():
    table = pa.table(
        {
            "unit": ["u1", "u1"],
            "annotator": ["a", "b"],
            "question": ["score", "score"],
            "value": [1.5, 2.0],
        }
    ).replace_schema_metadata(
        {"judgebench.questions": json.dumps({"score": {"level": "interval"}})}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    parsed = parse_annotations_file(buffer, "parquet")
    assert parsed.errors == []
    assert parsed.questions["score"]["level"] == "interval"
    assert [row.value_text for row in parsed.rows] == ["1.5", "2"]


def test_refusal_shows_the_first_hundred_errors_and_counts_all():
    text = "# level q=interval\n" + HEADER + "".join(f"u{n},a,q,x,,\n" for n in range(150))
    parsed = parse_csv(text)
    refused = ImportRefused(parsed.errors)
    assert refused.extra["error_count"] == 150
    assert len(refused.extra["errors"]) == 100
    assert refused.extra["errors_not_shown"] == 50
    assert refused.extra["errors"][0] == {
        "line": 3,
        "field": "value",
        "message": "'x' is not a number (interval question).",
    }
