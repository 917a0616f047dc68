"""The ORM → DataFrame adapter: one streamed query, canonical order and hash."""

from __future__ import annotations

import io

import pandas as pd

from analysis.loaders import apply_filters, dataset_table, long_table, table_hash
from analysis.services import dataset_import


def test_dataset_table_is_one_query(project_roles, dataset, django_assert_num_queries):
    with django_assert_num_queries(1):
        table, questions = dataset_table(dataset=dataset)
    assert len(table) == dataset.row_count
    assert list(table.columns) == [
        "unit_id",
        "annotator_id",
        "question",
        "value",
        "pool",
        "guideline_version",
    ]
    assert questions["quality"] == {"level": "ordinal", "order": ["bad", "ok", "good"]}


def test_values_take_the_form_their_level_needs(project_roles, dataset):
    table, _ = dataset_table(dataset=dataset)
    by_question = {
        q: rows["value"].tolist() for q, rows in table.groupby("question", observed=True)
    }
    assert all(isinstance(v, float) for v in by_question["minutes"])
    assert set(by_question["quality"]) <= {"bad", "ok", "good"}
    assert set(by_question["correct"]) <= {"yes", "no"}


def test_order_of_rows_in_the_file_does_not_change_the_hash(project_roles, example_bytes):
    lines = example_bytes.decode().splitlines(keepends=True)
    head, rows = lines[:5], lines[5:]
    shuffled = "".join(head + rows[::-1]).encode()
    first = dataset_import(
        actor=None,
        project=project_roles.project,
        name="a",
        stream=io.BytesIO(example_bytes),
        fmt="csv",
    )
    second = dataset_import(
        actor=None, project=project_roles.project, name="b", stream=io.BytesIO(shuffled), fmt="csv"
    )
    assert first.data_hash == second.data_hash
    table_a, questions_a = dataset_table(dataset=first)
    assert table_hash(table_a, questions_a) == first.data_hash


def test_empty_optional_columns_are_dropped_and_filters_apply():
    raw = {
        "unit": ["u2", "u1", "u1"],
        "annotator": ["a", "b", "a"],
        "question": ["q", "q", "q"],
        "value_text": ["x", "y", "x"],
        "value_number": [float("nan")] * 3,
        "pool": ["crowd", "expert", "crowd"],
        "guideline_version": ["", "", ""],
    }
    table = long_table(raw, {"q": {"level": "nominal"}})
    assert "guideline_version" not in table.columns
    assert table["unit_id"].astype(str).tolist() == ["u1", "u1", "u2"]
    assert table["annotator_id"].astype(str).tolist() == ["a", "b", "a"]
    crowd = apply_filters(table, {"pools": ["crowd"]})
    assert crowd["pool"].astype(str).tolist() == ["crowd", "crowd"]
    assert isinstance(crowd, pd.DataFrame)
