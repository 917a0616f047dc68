"""The output import service on real PostgreSQL: all-or-nothing, idempotent, exact."""

from __future__ import annotations

import io
import json
import threading

import pytest
from django.db import connection

from annotation.models import Output, Prompt, System
from annotation.services.outputs import ImportRefused, outputs_import
from common.models import AuditEvent


def jsonl_bytes(rows: list[dict]) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode())


def rows_for(prompts: int, systems: tuple[str, ...] = ("alpha", "beta")) -> list[dict]:
    return [
        {
            "prompt_id": f"p{n}",
            "prompt": f"Question {n}?",
            "system": system,
            "output": f"{system} answers {n}.",
            "reference": f"ref {n}",
            "metadata": {"tone": "hedged" if n % 2 else "assertive", "known_errors": n % 3},
        }
        for n in range(prompts)
        for system in systems
    ]


def do_import(roles, rows, **kwargs):
    return outputs_import(
        actor=roles.lead, project=roles.project, stream=jsonl_bytes(rows), fmt="jsonl", **kwargs
    )


def test_good_import_writes_prompts_systems_outputs_and_an_audit_row(project_roles):
    result = do_import(project_roles, rows_for(10))
    assert (result.outputs_created, result.prompts_created, result.systems_created) == (20, 10, 2)
    assert Output.objects.filter(prompt__project=project_roles.project).count() == 20
    output = Output.objects.get(prompt__external_id="p4", system__name="beta")
    assert (output.tone_condition, output.known_error_count) == ("assertive", 1)
    assert output.prompt.reference == "ref 4"
    event = AuditEvent.objects.get(project=project_roles.project, action="outputs.import")
    assert event.actor == project_roles.lead
    assert event.details["outputs_created"] == 20


def test_bad_file_reports_every_error_and_writes_nothing(project_roles):
    rows = rows_for(5)
    rows[1]["output"] = 7
    rows[3]["system"] = None
    rows[6]["metadata"] = "tone=hedged"
    rows.append({"prompt_id": "p0", "prompt": "Question 0?", "system": "alpha", "output": "dup"})
    with pytest.raises(ImportRefused) as refused:
        do_import(project_roles, rows)
    assert [(e.line, e.field) for e in refused.value.errors] == [
        (2, "output"),
        (4, "system"),
        (7, "metadata"),
        (11, "system"),
    ]
    assert refused.value.extra["error_count"] == 4
    assert Output.objects.count() == Prompt.objects.count() == System.objects.count() == 0
    assert not AuditEvent.objects.filter(action="outputs.import").exists()


def test_only_the_first_hundred_errors_are_listed_with_a_count_of_the_rest(project_roles):
    rows = [{"prompt_id": f"p{n}", "prompt": "", "system": "s", "output": "x"} for n in range(130)]
    with pytest.raises(ImportRefused) as refused:
        do_import(project_roles, rows)
    assert len(refused.value.errors) == 130
    assert len(refused.value.extra["errors"]) == 100
    assert refused.value.extra["errors_not_shown"] == 30


def test_reimport_creates_no_duplicates_and_adds_only_new_rows(project_roles):
    do_import(project_roles, rows_for(10))
    again = do_import(project_roles, rows_for(10))
    assert (again.outputs_created, again.outputs_unchanged, again.prompts_created) == (0, 20, 0)
    grown = do_import(project_roles, rows_for(12, ("alpha", "beta", "gamma")))
    assert (grown.outputs_created, grown.outputs_unchanged, grown.prompts_created) == (16, 20, 2)
    assert Output.objects.count() == 36


def test_reimport_that_changes_an_output_text_is_refused_whole(project_roles):
    do_import(project_roles, rows_for(3))
    changed = rows_for(4)
    changed[2]["output"] = "a silently different answer"
    with pytest.raises(ImportRefused) as refused:
        do_import(project_roles, changed)
    assert [(e.line, e.field) for e in refused.value.errors] == [(3, "output")]
    assert Output.objects.count() == 6


def test_reimport_with_new_metadata_updates_design_fields(project_roles):
    do_import(project_roles, rows_for(2))
    rows = rows_for(2)
    rows[0]["metadata"] = {"tone": "hedged", "known_errors": 2}
    result = do_import(project_roles, rows)
    assert (result.outputs_updated, result.outputs_unchanged) == (1, 3)
    output = Output.objects.get(prompt__external_id="p0", system__name="alpha")
    assert (output.tone_condition, output.known_error_count) == ("hedged", 2)


def test_same_prompt_ids_in_two_projects_stay_apart(project_roles):
    do_import(project_roles, rows_for(2))
    outputs_import(
        actor=project_roles.outsider,
        project=project_roles.other_project,
        stream=jsonl_bytes(rows_for(2)),
        fmt="jsonl",
    )
    assert Prompt.objects.filter(external_id="p0").count() == 2
    assert System.objects.filter(name="alpha").count() == 2


def test_text_is_kept_exactly(project_roles):
    tricky = [
        "  leading and trailing spaces  ",
        "tabs\tand\r\nwindows newlines\n\n\n",
        "Unicode: naïve café — 漢字, emoji 👩🏽‍🔬, RTL مرحبا, combining é",
        '<script>alert(1)</script> & \\backslash\\ "quotes"',
        "x" * 300_000,
    ]
    rows = [
        {"prompt_id": f"t{n}", "prompt": text, "system": "s", "output": text}
        for n, text in enumerate(tricky)
    ]
    do_import(project_roles, rows)
    for n, text in enumerate(tricky):
        output = Output.objects.select_related("prompt").get(prompt__external_id=f"t{n}")
        assert output.text == text
        assert output.prompt.text == text


def test_csv_and_parquet_import_the_same_rows(project_roles, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_text = (
        "prompt_id,prompt,system,output,metadata.tone,metadata.known_errors\n"
        'c1,"Q, with comma?",s1,"multi\nline",assertive,1\n'
    )
    outputs_import(
        actor=project_roles.lead,
        project=project_roles.project,
        stream=io.BytesIO(csv_text.encode()),
        fmt="csv",
    )
    path = tmp_path / "o.parquet"
    pq.write_table(
        pa.table(
            {"prompt_id": ["c1"], "prompt": ["Q, with comma?"], "system": ["s2"], "output": ["o"]}
        ),
        path,
    )
    with path.open("rb") as stream:
        outputs_import(
            actor=project_roles.lead, project=project_roles.project, stream=stream, fmt="parquet"
        )
    assert sorted(Output.objects.values_list("system__name", "text", "known_error_count")) == [
        ("s1", "multi\nline", 1),
        ("s2", "o", None),
    ]


@pytest.mark.slow
def test_a_50_megabyte_file_imports_in_one_transaction(project_roles, tmp_path):
    path = tmp_path / "big.jsonl"
    long_answer = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 80
    with path.open("w", encoding="utf-8") as handle:
        n = 0
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(
                json.dumps(
                    {
                        "prompt_id": f"b{n}",
                        "prompt": f"Big question {n}?",
                        "system": "s",
                        "output": f"{n} {long_answer}",
                    }
                )
                + "\n"
            )
            n += 1
    assert path.stat().st_size >= 50 * 1024 * 1024
    with path.open("rb") as stream:
        result = outputs_import(
            actor=project_roles.lead, project=project_roles.project, stream=stream, fmt="jsonl"
        )
    assert result.outputs_created == n == Output.objects.count()
    assert Output.objects.get(prompt__external_id=f"b{n - 1}").text == f"{n - 1} {long_answer}"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_one_file_store_each_row_once(project_roles):
    rows = rows_for(200)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(do_import(project_roles, rows))
        except Exception as exc:  # the test reports any failure below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not isinstance(result, Exception) for result in results), results
    assert sorted(result.outputs_created for result in results) == [0, 400]
    assert Output.objects.count() == 400


def test_variants_of_one_prompt_and_system_are_separate_outputs(project_roles):
    base = {"prompt_id": "v1", "prompt": "Capital of Australia?", "system": "s"}
    rows = [
        {**base, "output": "Canberra."},
        {
            **base,
            "variant": "assertive",
            "output": "Canberra. No doubt.",
            "metadata": {"tone": "assertive", "known_errors": 0},
        },
        {
            **base,
            "variant": "hedged",
            "output": "Maybe Canberra?",
            "metadata": {"tone": "hedged", "known_errors": 0},
        },
        {
            **base,
            "variant": "assertive-error",
            "output": "Sydney. No doubt.",
            "metadata": {"tone": "assertive", "known_errors": 1},
        },
    ]
    result = do_import(project_roles, rows)
    assert result.outputs_created == 4 and result.prompts_created == 1
    assert sorted(Output.objects.values_list("variant", "tone_condition", "known_error_count")) == [
        ("", "", None),
        ("assertive", "assertive", 0),
        ("assertive-error", "assertive", 1),
        ("hedged", "hedged", 0),
    ]
    assert do_import(project_roles, rows).outputs_unchanged == 4


def test_a_repeated_variant_in_one_file_is_an_error(project_roles):
    base = {"prompt_id": "v1", "prompt": "Q?", "system": "s", "variant": "hedged"}
    with pytest.raises(ImportRefused) as refused:
        do_import(project_roles, [{**base, "output": "a"}, {**base, "output": "b"}])
    assert [(e.line, e.field) for e in refused.value.errors] == [(2, "system")]
    assert "variant 'hedged'" in refused.value.errors[0].message


def test_empty_outputs_are_imported_flagged_and_shown_as_empty_responses(project_roles):
    from django.test import Client
    from django.urls import reverse

    from annotation.services.assignment import assignment_claim
    from tests.annotation.conftest import build_scenario

    rows = rows_for(2)
    rows[0]["output"] = ""
    result = do_import(project_roles, rows)
    assert (result.outputs_created, result.empty_outputs) == (4, 1)
    assert Output.objects.get(prompt__external_id="p0", system__name="alpha").text == ""
    event = AuditEvent.objects.get(project=project_roles.project, action="outputs.import")
    assert event.details["empty_outputs"] == 1

    scenario = build_scenario(mode="single", n_prompts=1, n_systems=1, k=1, n_annotators=1)
    Output.objects.filter(pk=scenario.outputs[0].pk).update(text="")
    assignment_claim(actor=scenario.annotators[0], task=scenario.task)
    client = Client()
    client.force_login(scenario.annotators[0])
    page = client.get(reverse("annotate-task", args=[scenario.task.public_id]))
    assert page.status_code == 200
    assert "(empty response)" in page.content.decode()
