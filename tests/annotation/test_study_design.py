"""The study-design helper: a rewrite sheet for matched variants that imports back."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import Output
from annotation.selectors import study_design_summary
from annotation.services.outputs import outputs_import
from annotation.services.study import VariantSpec, study_variant_rows

BASE = [
    {"prompt_id": f"p{n}", "prompt": f"Q{n}?", "system": system, "output": f"{system} says {n}."}
    for n in range(3)
    for system in ("s1", "s2")
]


def import_rows(roles, rows):
    payload = "\n".join(__import__("json").dumps(r) for r in rows).encode()
    return outputs_import(
        actor=roles.lead, project=roles.project, stream=io.BytesIO(payload), fmt="jsonl"
    )


def test_the_rewrite_sheet_round_trips_through_the_import(project_roles):
    import_rows(project_roles, BASE)
    variants = [
        VariantSpec.parse("assertive:assertive:0"),
        VariantSpec.parse("hedged-error:hedged:1"),
    ]
    out = io.StringIO()
    call_command(
        "study_variants_template",
        "--project",
        "alpha",
        "--variant",
        "assertive:assertive:0",
        "--variant",
        "hedged-error:hedged:1",
        stdout=out,
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 6 * 2
    assert {r["metadata.tone"] for r in rows} == {"assertive", "hedged"}
    for row in rows:  # the lead rewrites each text
        row["output"] = f"[{row['variant']}] {row['output']}"
    sheet = io.StringIO()
    writer = csv.DictWriter(sheet, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    result = outputs_import(
        actor=project_roles.lead,
        project=project_roles.project,
        stream=io.BytesIO(sheet.getvalue().encode()),
        fmt="csv",
    )
    assert result.outputs_created == 12 and result.prompts_created == 0
    summary = study_design_summary(project=project_roles.project)
    assert summary["complete_matched_sets"] == 6
    assert summary["variants"] == {"assertive": 6, "hedged-error": 6}
    assert summary["outputs_with_known_errors"] == 6
    hedged = Output.objects.get(prompt__external_id="p1", system__name="s2", variant="hedged-error")
    assert (hedged.tone_condition, hedged.known_error_count) == ("hedged", 1)
    # Variants already written are not asked for again.
    assert list(study_variant_rows(project=project_roles.project, variants=variants)) == []


@pytest.mark.parametrize("bad", ["assertive", "a:b:x", "Bad Label:t:0", "x::0"])
def test_bad_variant_specs_are_refused_clearly(project_roles, bad):
    with pytest.raises(CommandError):
        call_command(
            "study_variants_template", "--project", "alpha", "--variant", bad, stdout=io.StringIO()
        )


def test_the_page_is_for_leads_and_streams_the_sheet(project_roles):
    import_rows(project_roles, BASE)
    client = Client()
    client.force_login(project_roles.lead)
    page = client.get("/p/alpha/study/")
    assert page.status_code == 200 and b"Base outputs" in page.content
    sheet = client.get("/p/alpha/study/", {"download": "1", "variants": "hedged:hedged:0"})
    assert sheet["Content-Type"] == "text/csv"
    assert len(b"".join(sheet.streaming_content).decode().strip().splitlines()) == 1 + 6
    refused = client.get("/p/alpha/study/", {"download": "1", "variants": "nope"})
    assert refused.status_code == 400
    researcher = Client()
    researcher.force_login(project_roles.researcher)
    assert researcher.get("/p/alpha/study/").status_code == 403
