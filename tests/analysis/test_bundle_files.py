"""The study bundle's files, parsed and checked against each other: pure, no database.

Every error names its file, line and field; values are made comparable (NFC, finite
numbers, yes/no answers) before anything is stored."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.importing import parse_annotations_file, parse_declarations
from analysis.importing_bundle import check_bundle, parse_annotators_file, parse_units_file


def csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def where(errors) -> list[tuple[str, int, str]]:
    return [(e.file, e.line, e.field) for e in errors]


def annotations(text: str, **kwargs):
    return parse_annotations_file(csv(text), "csv", **kwargs)


UNITS = (
    "unit,prompt_id,system,output,tone,known_errors,variant,system_a,system_b,output_a,"
    "output_b,shown_order\n"
    'o1,p1,m1,Paris is in France.,assertive,"[""wrong date""]",assertive,,,,,\n'  # 2
    "o2,p1,m1,,hedged,0,hedged,,,,,\n"  # 3 an empty response
    "pair1,p1,,,,,,m1,m2,Text a.,Text b.,ba\n"  # 4 a pair everyone saw b-first
)


def test_units_hold_single_outputs_and_pairs_with_their_design():
    parsed = parse_units_file(csv(UNITS), "csv")
    assert parsed.errors == []
    one, empty, pair = parsed.rows
    assert (one.unit, one.prompt_id, one.pairwise) == ("o1", "p1", False)
    assert one.outputs[0].known_errors == 1
    assert one.outputs[0].known_error_list == ["wrong date"]
    assert (one.outputs[0].tone, one.outputs[0].variant) == ("assertive", "assertive")
    assert empty.outputs[0].text == "" and empty.outputs[0].known_errors == 0
    assert pair.pairwise and pair.shown_order == "ba"
    assert [o.system for o in pair.outputs] == ["m1", "m2"]
    assert [o.text for o in pair.outputs] == ["Text a.", "Text b."]


def test_every_units_error_is_reported_by_file_line_and_field():
    text = "unit,system,output,known_errors,system_a,system_b,shown_order,colour\nu1,m1,x,0,,,,\n"
    assert where(parse_units_file(csv(text), "csv").errors) == [("units", 1, "colour")]
    text = (
        "unit,system,output,known_errors,system_a,system_b,shown_order\n"
        "u0,m1,x,0,,,\n"  # 2 fine
        "u1,m1,x,two,,,\n"  # 3 not a count
        "u2,m1,x,-1,,,\n"  # 4 negative
        "u3,,,,m1,,\n"  # 5 a pair without system_b
        "u4,m1,,,m1,m2,\n"  # 6 a pair and a single output at once
        ",m1,x,0,,,\n"  # 7 no unit id
        "u5,m1,x,0,,,ab\n"  # 8 a shown order on a single output
        "u0,m2,y,0,,,\n"  # 9 duplicate unit
        "u6,,,,m1,m2,cb\n"  # 10 unknown shown order
        'u7,m1,x,"[1,",,,\n'  # 11 broken list
    )
    errors = parse_units_file(csv(text), "csv").errors
    assert where(errors) == [
        ("units", 3, "known_errors"),
        ("units", 4, "known_errors"),
        ("units", 5, "system_b"),
        ("units", 6, "system"),
        ("units", 7, "unit"),
        ("units", 8, "shown_order"),
        ("units", 9, "unit"),
        ("units", 10, "shown_order"),
        ("units", 11, "known_errors"),
    ]
    assert "line 2" in errors[6].message


def test_units_in_jsonl_and_parquet_distinguish_no_text_from_an_empty_one():
    lines = [
        {"unit": "a", "system": "m", "output": ""},
        {"unit": "b", "system": "m"},
        {"unit": "c", "known_errors": ["x", "y"], "tone": "simple"},
        {"unit": "d", "output": 5},
    ]
    parsed = parse_units_file(csv("\n".join(json.dumps(line) for line in lines)), "jsonl")
    assert where(parsed.errors) == [("units", 4, "output")]
    assert [row.outputs[0].text for row in parsed.rows] == ["", None, None]
    assert parsed.rows[2].outputs[0].known_errors == 2
    buffer = io.BytesIO()
    pq.write_table(
        pa.table({"unit": ["a", "b"], "system_a": ["m1", "m2"], "system_b": ["m2", "m1"]}), buffer
    )
    buffer.seek(0)
    assert all(row.pairwise for row in parse_units_file(buffer, "parquet").rows)


def test_annotators_carry_pools_kinds_and_attributes():
    text = (
        "annotator,pool,pool_kind,attr.age,attr.country\n"
        "w1,prolific,crowd,34,GB\n"
        "w2,prolific,,29.5,\n"  # the pool's kind holds for w2 too
        "e1,,expert,,\n"  # named only by kind: the pool of that name
        "w3,prolific,expert,,\n"  # 5 a pool has one kind
        "w1,prolific,crowd,,\n"  # 6 duplicate
        "w4,other,judge,,\n"  # 7 unknown kind
    )
    parsed = parse_annotators_file(csv(text), "csv")
    assert where(parsed.errors) == [
        ("annotators", 5, "pool_kind"),
        ("annotators", 6, "annotator"),
        ("annotators", 7, "pool_kind"),
    ]
    by_id = {row.annotator: row for row in parsed.rows}
    assert by_id["w1"].attributes == {"age": 34, "country": "GB"}
    assert by_id["w2"].attributes == {"age": 29.5}
    assert (by_id["w2"].pool, by_id["w2"].pool_kind) == ("prolific", "crowd")
    assert (by_id["e1"].pool, by_id["e1"].pool_kind) == ("expert", "expert")


def test_the_files_are_checked_against_each_other():
    answers = annotations(
        "# role flag=error_flag\n"
        "unit,annotator,question,value,shown_order\n"
        "o1,w1,flag,true,\n"  # 3 fine
        "o9,w1,flag,true,\n"  # 4 unknown unit
        "o1,zz,flag,false,\n"  # 5 unknown annotator
        "o1,w2,flag,maybe,\n"  # 6 not yes/no
        "o2,w1,flag,no,ab\n"  # 7 a shown order on a single output
        "pair1,w1,preference,a,ba\n"  # 8 fine: the preference of a pair
        "pair1,w2,preference,left,\n"  # 9 not A, B or tie
    )
    units = parse_units_file(csv(UNITS), "csv")
    people = parse_annotators_file(csv("annotator,pool,pool_kind\nw1,crowd,crowd\nw2,,\n"), "csv")
    errors = check_bundle(answers, units, people)
    assert where(errors) == [
        ("annotations", 4, "unit"),
        ("annotations", 5, "annotator"),
        ("annotations", 6, "value"),
        ("annotations", 7, "shown_order"),
        ("annotations", 9, "value"),
    ]
    assert answers.questions["preference"]["type"] == "pairwise"
    rows = {row.line: row for row in answers.rows}
    assert rows[8].value_text == "A" and rows[8].shown_order == "ba"
    # An answer without a pool takes its annotator's.
    assert rows[3].pool == "crowd"


def test_a_declared_preference_must_be_answered_on_pairs():
    answers = annotations(
        "# role pick=preference\nunit,annotator,question,value\no1,w1,pick,B\npair1,w1,pick,Tie\n"
    )
    errors = check_bundle(answers, parse_units_file(csv(UNITS), "csv"), None)
    assert where(errors) == [("annotations", 3, "unit")]
    assert [row.value_text for row in answers.rows] == ["B", "tie"]


def test_roles_are_declared_like_levels_and_checked():
    declared, problems = parse_declarations("role q=quality\n# role f=error_flag\n")
    assert problems == []
    assert declared == {"q": {"role": "quality"}, "f": {"role": "error_flag"}}
    parsed = annotations(
        "# role q=quality\n# role r=quality\n# role s=judge\n# role gone=assertiveness\n"
        "# level p=ordinal\n# role p=preference\n"
        "unit,annotator,question,value\nu,a,q,1\nu,a,r,2\nu,a,s,3\nu,a,p,1\n"
    )
    fields = {(e.line, e.field) for e in parsed.errors}
    assert fields == {(0, "role r"), (0, "role s"), (0, "role gone"), (0, "role p")}
    # A score named by its role is ordinal unless declared otherwise.
    scored = annotations(
        "unit,annotator,question,value\nu,a,q,4\nu,a,f,yes\n",
        declarations={"q": {"role": "quality"}, "f": {"role": "error_flag"}},
    )
    assert scored.questions == {
        "f": {"level": "nominal", "order": None, "role": "error_flag"},
        "q": {"level": "ordinal", "order": None, "role": "quality"},
    }


def test_ids_and_labels_are_nfc_so_one_word_is_one_category():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    parsed = annotations(
        "unit,annotator,question,value\n"
        f"{composed},a,drink,{composed}\n"
        f"{decomposed},b,drink,{decomposed}\n",
        declarations={"drink": {"level": "nominal"}},
    )
    assert parsed.errors == []
    assert {row.unit for row in parsed.rows} == {composed}
    assert {row.value_text for row in parsed.rows} == {composed}
    units = parse_units_file(csv(f"unit,tone\n{decomposed},{decomposed}\n"), "csv")
    assert units.rows[0].unit == composed and units.rows[0].outputs[0].tone == composed
    assert check_bundle(parsed, units, None) == []


def test_non_finite_and_overflowing_numbers_are_refused_by_line():
    parsed = annotations(
        "# level score=interval\n# level rank=ordinal\n"
        "unit,annotator,question,value\n"
        "u1,a,score,inf\n"  # 4
        "u2,a,score,nan\n"  # 5
        "u3,a,score,1e300\n"  # 6 finite, but squares overflow
        "u4,a,score,-2.5e15\n"  # 7
        "u5,a,score,1e15\n"  # 8 the largest accepted
        "u6,a,rank,1e20\n"  # 9
        "u7,a,label,1e400\n"  # 10 a nominal label may look like anything
    )
    assert [(e.line, e.field) for e in parsed.errors] == [
        (4, "value"),
        (5, "value"),
        (6, "value"),
        (7, "value"),
        (9, "value"),
    ]
    assert "not a finite number" in parsed.errors[0].message
    assert "too large" in parsed.errors[2].message
    label = next(row for row in parsed.rows if row.question == "label")
    assert (label.value_text, label.value_number) == ("1e400", None)
    buffer = io.BytesIO()
    table = pa.table(
        {
            "unit": ["u1", "u2"],
            "annotator": ["a", "a"],
            "question": ["s", "s"],
            "value": [1.0, 1e300],
        }
    ).replace_schema_metadata({"judgebench.questions": json.dumps({"s": {"level": "ratio"}})})
    pq.write_table(table, buffer)
    buffer.seek(0)
    refused = parse_annotations_file(buffer, "parquet")
    assert [(e.line, e.field) for e in refused.errors] == [(2, "value")]


def test_empty_values_are_left_out_and_counted_in_every_format():
    lines = [
        {"unit": "u1", "annotator": "a", "question": "q", "value": "x"},
        {"unit": "u1", "annotator": "b", "question": "q", "value": None},
        {"unit": "u1", "annotator": "c", "question": "q", "value": "  "},
    ]
    parsed = parse_annotations_file(csv("\n".join(json.dumps(line) for line in lines)), "jsonl")
    assert parsed.errors == [] and len(parsed.rows) == 1 and parsed.empty_values == 2


def test_true_false_questions_are_yes_no_and_json_booleans_read_as_words():
    lines = [
        {"unit": "u1", "annotator": "a", "question": "flag", "value": True},
        {"unit": "u1", "annotator": "b", "question": "flag", "value": "FALSE"},
        {"unit": "u1", "annotator": "a", "question": "word", "value": "true"},
        {"unit": "u1", "annotator": "b", "question": "word", "value": "maybe"},
    ]
    parsed = parse_annotations_file(csv("\n".join(json.dumps(line) for line in lines)), "jsonl")
    assert parsed.errors == []
    assert parsed.questions["flag"] == {"level": "nominal", "order": None, "boolean": True}
    assert "boolean" not in parsed.questions["word"]
    assert parsed.rows[0].value_text == "true"
