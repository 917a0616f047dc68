"""Battle logs from elsewhere: parsed with every error by line and field, then ranked."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from analysis.battles_file import parse_battles_file


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def test_arena_columns_and_winner_spellings_are_read() -> None:
    parsed = parse_battles_file(
        _csv(
            "model_a,model_b,winner,question_id,judge,turn\n"
            "x,y,model_a,q1,j1,1\n"
            "y,x,model_b,q1,j2,1\n"
            "x,y,tie (bothbad),q2,,1\n"
            "y,x,Tie,q2,j1,1\n"
            "x,y,B,,j1,1\n"
        ),
        "csv",
    )
    assert not parsed.errors
    table = parsed.table
    assert list(table["value"]) == ["A", "B", "tie", "tie", "B"]
    assert list(table["shown_order"]) == [
        ("x", "y"),
        ("y", "x"),
        ("x", "y"),
        ("y", "x"),
        ("x", "y"),
    ]
    assert list(table["prompt_id"])[:4] == ["q1", "q1", "q2", "q2"]
    assert table["prompt_id"].iloc[4] is None
    assert table["annotator_id"].iloc[2] == "line-4"
    assert not parsed.pooled


def test_a_bad_file_is_refused_with_every_error_by_line_and_field() -> None:
    parsed = parse_battles_file(
        _csv("model_a,model_b,winner\nx,y,model_a\n,y,model_a\nx,x,tie\nx,y,draw\nx,,\n"),
        "csv",
    )
    assert parsed.table is None
    found = {(e.line, e.field) for e in parsed.errors}
    assert found == {(3, "model_a"), (4, "model_b"), (5, "winner"), (6, "model_b"), (6, "winner")}
    assert "draw" in next(e.message for e in parsed.errors if e.line == 5)


def test_jsonl_and_parquet_read_the_same_votes() -> None:
    rows = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "pool": "crowd"},
        {"model_a": "y", "model_b": "x", "winner": "tie", "pool": "expert"},
    ]
    jsonl = io.BytesIO(b"\n".join(json.dumps(r).encode() for r in rows) + b"\nnot json\n")
    parsed = parse_battles_file(jsonl, "jsonl")
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "line")]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    buffer.seek(0)
    from_parquet = parse_battles_file(buffer, "parquet")
    assert not from_parquet.errors and from_parquet.pooled
    assert list(from_parquet.table["value"]) == ["A", "tie"]
    assert list(from_parquet.table["pool"]) == ["crowd", "expert"]


def test_an_empty_file_is_refused() -> None:
    parsed = parse_battles_file(_csv("model_a,model_b,winner\n"), "csv")
    assert [(e.line, e.field) for e in parsed.errors] == [(0, "file")]


def test_rank_battles_prints_rankings_and_stability(tmp_path) -> None:
    lines = ["model_a,model_b,winner,question_id,pool"]
    # strong beats mid 3 of 4 and weak 7 of 8; mid beats weak 3 of 4; ties sprinkled.
    pattern = {
        ("strong", "mid"): ["model_a", "model_a", "model_a", "model_b"],
        ("strong", "weak"): ["model_a"] * 7 + ["model_b"],
        ("mid", "weak"): ["model_a", "model_a", "tie", "model_b"],
    }
    for repeat in range(30):
        for (a, b), outcomes in pattern.items():
            for k, outcome in enumerate(outcomes):
                pool = "crowd" if k % 2 else "expert"
                lines.append(f"{a},{b},{outcome},q{repeat},{pool}")
    path = tmp_path / "battles.csv"
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    call_command("rank_battles", str(path), "--n-bootstrap", "50", stdout=out)
    document = json.loads(out.getvalue())
    assert document["source"] == {"file": "battles.csv", "format": "csv", "votes": 480}
    overall = document["rankings"]["leaderboards"]["overall"]
    assert [row["system"] for row in overall["systems"]] == ["strong", "mid", "weak"]
    assert set(document["rankings"]["leaderboards"]) == {"overall", "crowd", "expert"}
    assert document["rankings"]["bootstrap"]["unit"] == "prompt"
    assert document["rank_stability"]["leaderboards"]["overall"]["verdict"]


def test_rank_battles_refuses_a_bad_file_and_lists_the_errors(tmp_path) -> None:
    path = tmp_path / "battles.csv"
    path.write_text("model_a,model_b,winner\nx,y,maybe\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="refused: 1 errors"):
        call_command("rank_battles", str(path), stdout=io.StringIO(), stderr=err)
    assert "line 2, winner" in err.getvalue()


def test_the_bootstrap_can_resample_votes_instead_of_prompts(tmp_path) -> None:
    lines = ["model_a,model_b,winner,question_id"]
    for repeat in range(40):
        lines += [f"x,y,model_a,q{repeat}", f"y,x,model_a,q{repeat}", f"x,y,tie,q{repeat}"]
    path = tmp_path / "battles.csv"
    path.write_text("\n".join(lines) + "\n")
    units = {}
    for resample in ("prompt", "vote"):
        out = io.StringIO()
        call_command(
            "rank_battles", str(path), "--n-bootstrap", "30", "--resample", resample, stdout=out
        )
        document = json.loads(out.getvalue())
        units[resample] = document["rankings"]["bootstrap"]["unit"]
        assert document["parameters"]["resample"] == resample
    assert units == {"prompt": "prompt", "vote": "vote"}


def test_report_parameters_check_the_resampling_unit() -> None:
    from analysis.services import report_parameters
    from common.exceptions import ApplicationError

    assert report_parameters({})["ranking_resample"] == "prompt"
    assert report_parameters({"ranking_resample": "vote"})["ranking_resample"] == "vote"
    with pytest.raises(ApplicationError, match="ranking_resample"):
        report_parameters({"ranking_resample": "annotator"})
