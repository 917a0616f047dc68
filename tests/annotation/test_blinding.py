"""Blinding: counterbalanced orders, the revealing-text check, and a crawler that walks
everything an annotator can reach and looks for anything that identifies a system."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotation.models import Assignment, FlagResolution, Output, Unit
from annotation.selectors_annotator import position_label
from annotation.services.assignment import assignment_claim
from annotation.services.blinding import find_revealing_spans, mask_text, shown_order_for_slot
from annotation.services.pools import pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_launch, unit_mark_gold
from tests.annotation.conftest import METADATA_KEY, TONES, acknowledge, valid_answers

# -- counterbalancing ------------------------------------------------------------------


def test_rotations_put_every_output_in_every_position():
    base = [11, 22, 33]
    orders = [shown_order_for_slot(base_order=base, slot_ordinal=i) for i in range(3)]
    assert orders == [[11, 22, 33], [22, 33, 11], [33, 11, 22]]
    for position in range(3):
        assert sorted(order[position] for order in orders) == base
    assert shown_order_for_slot(base_order=[1, 2], slot_ordinal=3) == [2, 1]


def test_position_labels():
    assert [position_label(i) for i in (0, 1, 25, 26)] == ["A", "B", "Z", "AA"]


def _drain(s: Any, mode: str) -> list[Assignment]:
    served = []
    for ann in s.annotators:
        while (a := assignment_claim(actor=ann, task=s.task)) is not None:
            served.append(a)
            annotation_submit(
                actor=ann, handle=a.handle, answers=valid_answers(mode, len(a.shown_order))
            )
    return served


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("k", [2, 3])
def test_each_system_sits_in_position_a_about_half_the_time_per_pair(scenario_factory, k):
    s = scenario_factory(mode="pairwise", n_prompts=60, n_systems=3, k=k, n_annotators=k)
    system_of = dict(
        Output.objects.filter(prompt__project=s.project).values_list("pk", "system_id")
    )
    in_a: Counter = Counter()
    per_pair: Counter = Counter()
    per_unit: dict[int, Counter] = defaultdict(Counter)
    served = _drain(s, "pairwise")
    assert len(served) == 180 * k
    for a in served:
        first, second = (system_of[o] for o in a.shown_order)
        pair = tuple(sorted((first, second)))
        per_pair[pair] += 1
        in_a[(pair, first)] += 1
        per_unit[a.unit_id][first] += 1
    assert len(per_pair) == 3
    for pair, total in per_pair.items():
        share = in_a[(pair, pair[0])] / total
        assert 0.42 <= share <= 0.58, (pair, share)
    # Within a unit the k annotators split A/B as evenly as k allows.
    for counts in per_unit.values():
        assert max(counts.values()) - min(counts.values(), default=0) <= 1
        assert sum(counts.values()) == k


@pytest.mark.django_db
def test_ranking_latin_square_per_unit(scenario_factory):
    s = scenario_factory(mode="ranking", n_prompts=10, n_systems=3, k=3, n_annotators=3)
    by_unit: dict[int, list[list[int]]] = defaultdict(list)
    for a in _drain(s, "ranking"):
        by_unit[a.unit_id].append(a.shown_order)
    for orders in by_unit.values():
        for position in range(3):
            assert len({order[position] for order in orders}) == 3


# -- the revealing-text check ----------------------------------------------------------


def test_check_finds_vendor_names_self_identification_and_system_names():
    terms = [
        ("vendor", "OpenAI"),
        ("vendor", "Claude"),
        ("system_name", "atlas-7b"),
        ("system_name", "atlas 7b"),
    ]
    text = "As an AI developed by OpenAI, I can say Atlas_7B is me. Claudette is a name."
    spans = find_revealing_spans(text, terms)
    found = [text[f.start : f.end] for f in spans]
    assert any("As an AI developed by OpenAI" in f for f in found)
    assert "Atlas_7B" in found
    assert not any("Claudette" in f for f in found)  # whole words only
    masked = mask_text(text, [(f.start, f.end) for f in spans])
    assert "OpenAI" not in masked and "Atlas_7B" not in masked and "Claudette" in masked


def test_check_ignores_clean_text():
    assert find_revealing_spans("The tide is caused by the Moon.", [("vendor", "Gemini")]) == []


@pytest.mark.django_db
def test_check_flags_the_systems_own_name(scenario_factory):
    s = scenario_factory(
        n_prompts=1,
        n_systems=2,
        launch=False,
        output_text=lambda i, j: "Hello" if i else "PLACEHOLDER",
    )
    own = s.systems[0].name
    Output.objects.filter(system=s.systems[0]).update(text=f"I am {own}, your helper.")
    from annotation.services.blinding import blinding_check_run

    flags = blinding_check_run(actor=s.lead, task=s.task)
    assert any(f.rule == "system_name" and f.output.system_id == s.systems[0].pk for f in flags)
    assert all(f.resolution == FlagResolution.OPEN for f in flags)


# -- the crawler -----------------------------------------------------------------------


class LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "hx-get", "src") and value and value.startswith("/"):
                self.links.append(value)


ALLOWED_ITEM_KEYS = {
    "handle",
    "task",
    "prompt",
    "responses",
    "rubric",
    "status",
    "lease_expires_at",
    "progress",
    "label",
    "text",
    "submitted",
    "cap",
    "done",
    "completion_code",
    "duplicate",
    "submitted_at",
    "public_id",
    "title",
    "description",
    "mode",
    "detail",
    "key",
    "help",
    "required",
    "type",
    "scope",
    "min",
    "max",
    "anchors",
    "options",
    "allow_tie",
    "strength",
    "strength_levels",
    "max_length",
    "value",
    "results",
    "count",
    "next",
    "previous",
    "errors",
    "code",
    "reason",
    "guideline_version",
}


def _json_keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        keys = set(data)
        for key, value in data.items():
            if key != "errors":  # validation errors are keyed by rubric question keys
                keys |= _json_keys(value)
        return keys
    if isinstance(data, list):
        return set().union(*(_json_keys(v) for v in data)) if data else set()
    return set()


def _annotator_routes() -> list[tuple[str, list[str]]]:
    """(url name, argument names) of every route an annotator uses, from the resolver."""
    found = []

    def walk(patterns: list[Any]) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif (
                isinstance(p, URLPattern)
                and p.name
                and (p.name.startswith(("annotate", "api-annotate")) or p.name == "home")
            ):
                found.append((p.name, list(p.pattern.converters)))

    walk(get_resolver().url_patterns)
    return found


class Crawler:
    def __init__(self, client: Client, forbidden: list[str], forbidden_ids: list[int]) -> None:
        self.client = client
        self.forbidden = [f.lower() for f in forbidden]
        self.id_pattern = re.compile(
            r"(?<!\d)(" + "|".join(str(i) for i in forbidden_ids) + r")(?!\d)"
        )
        self.visited: set[tuple[str, str]] = set()
        self.responses = 0

    def check(self, method: str, url: str, response: Any) -> None:
        self.responses += 1
        assert response.status_code < 500, (url, response.status_code)
        body = response.content.decode()
        lowered = body.lower()
        for word in self.forbidden:
            assert word not in lowered, f"{method} {url} leaks {word!r}"
        match = self.id_pattern.search(body)
        assert match is None, f"{method} {url} leaks id {match and match.group(0)}"
        if response.get("Content-Type", "").startswith("application/json") and body:
            extra = _json_keys(json.loads(body)) - ALLOWED_ITEM_KEYS
            assert not extra, f"{method} {url} has unexpected keys {extra}"
        if response.get("Content-Type", "").startswith("text/html"):
            parser = LinkParser()
            parser.feed(body)
            for link in parser.links:
                if not link.startswith(("/static/", "/accounts/logout", "/admin")):
                    self.get(link)

    def get(self, url: str, **headers: str) -> Any:
        key = ("GET" + ",".join(headers), url)
        if key in self.visited:
            return None
        self.visited.add(key)
        response = self.client.get(url, **headers)
        self.check("GET", url, response)
        return response

    def post(self, url: str, data: Any = None, json_body: bool = True) -> Any:
        if json_body:
            response = self.client.post(
                url, data=json.dumps(data or {}), content_type="application/json"
            )
        else:
            response = self.client.post(url, data=data or {})
        self.check("POST", url, response)
        return response


@dataclass
class BlindingWorld:
    """A pairwise and a single task seen by one annotator, `me`, with gold units and
    another annotator's answers in place, and what must never reach `me`."""

    pairwise: Any
    single: Any
    me: Any
    forbidden: list[str]
    ids: list[int]


def build_blinding_world(
    scenario_factory: Any,
    *,
    pairwise_prompts: int = 3,
    single_prompts: int = 4,
    gold_units: int = 3,
    pairwise_acknowledged: bool = True,
    single_cap: int | None = None,
) -> BlindingWorld:
    pairwise = scenario_factory(
        mode="pairwise",
        n_prompts=pairwise_prompts,
        n_systems=3,
        k=2,
        n_annotators=2,
        acknowledged=pairwise_acknowledged,
    )
    single = scenario_factory(
        mode="single",
        n_prompts=single_prompts,
        n_systems=2,
        k=2,
        n_annotators=2,
        gold_share=0.5,
        launch=False,
        cap=single_cap,
    )
    for unit in Unit.objects.filter(task=single.task)[:gold_units]:
        unit_mark_gold(
            actor=single.lead,
            unit=unit,
            answers={**valid_answers("single", 1), "comment": "GOLD-ANSWER-MARKER"},
        )
    task_launch(actor=single.lead, task=single.task)
    single.task.refresh_from_db()
    me = pairwise.annotators[0]
    pool_member_add(actor=single.lead, pool=single.pool, user=me)
    acknowledge(me, single.version)
    # Another annotator answers first, with a recognisable comment.
    other_single = single.annotators[0]
    while (a := assignment_claim(actor=other_single, task=single.task)) is not None:
        annotation_submit(
            actor=other_single,
            handle=a.handle,
            answers={**valid_answers("single", 1), "comment": "OTHER-ANSWER-MARKER"},
        )
    forbidden = [
        "OTHER-ANSWER-MARKER",
        "GOLD-ANSWER-MARKER",
        METADATA_KEY,
        *TONES,
        "is_gold",
        "gold",
        "tone_condition",
        "known_error",
        "metadata",
        "system_id",
        "output_id",
        "prompt_id",
        '"system"',
        "sysname-",
        "pext-",
    ]
    for s in (pairwise, single):
        forbidden += [system.name for system in s.systems]
        forbidden += [prompt.external_id for prompt in s.prompts]
    ids = [o.pk for s in (pairwise, single) for o in [*s.outputs, *s.systems, *s.prompts]]
    return BlindingWorld(pairwise, single, me, forbidden, ids)


@pytest.mark.django_db
def test_crawler_finds_nothing_that_identifies_a_system(scenario_factory):
    world = build_blinding_world(scenario_factory)
    pairwise, single, me = world.pairwise, world.single, world.me
    forbidden, ids = world.forbidden, world.ids
    # (Unit, task and pool ids are small numbers a regex cannot tell from a count; the
    # JSON key check and the opaque handles/public ids in every URL cover them.)
    client = Client()
    client.force_login(me)
    crawler = Crawler(client, forbidden, ids)

    routes = dict(_annotator_routes())
    assert {"api-annotate-task-next", "api-annotate-submit", "annotate-task"} <= set(routes)
    handles: list[str] = []
    for s, mode in ((pairwise, "pairwise"), (single, "single")):
        pid = s.task.public_id
        crawler.get(reverse("annotate-task", args=[pid]))
        for step in range(4):
            response = crawler.post(reverse("api-annotate-task-next", args=[pid]))
            item = response.json()
            if item.get("done"):
                break
            handle = item["handle"]
            handles.append(handle)
            crawler.get(reverse("annotate-task", args=[pid]))
            crawler.get(reverse("annotate-task", args=[pid]), HTTP_HX_REQUEST="true")
            crawler.get(reverse("api-annotate-item", args=[handle]))
            crawler.post(reverse("api-annotate-interact", args=[handle]))
            crawler.post(reverse("api-annotate-submit", args=[handle]), {"answers": {"bad": 1}})
            if step == 2:
                crawler.post(reverse("api-annotate-skip", args=[handle]), {"reason": "unsure"})
            elif step == 3:
                crawler.post(reverse("api-annotate-flag", args=[handle]), {"reason": "broken"})
            else:
                n = len(item["responses"])
                crawler.post(
                    reverse("api-annotate-submit", args=[handle]),
                    {"answers": valid_answers(mode, n)},
                )
                crawler.post(
                    reverse("api-annotate-submit", args=[handle]),
                    {"answers": valid_answers(mode, n)},
                )
            crawler.get(reverse("api-annotate-item", args=[handle]))
        crawler.get(reverse("api-annotate-task-progress", args=[pid]))
        crawler.post(reverse("annotate-next", args=[pid]), json_body=False)
        crawler.get(reverse("annotate-task", args=[pid]))
    crawler.post(reverse("api-annotate-next"))
    crawler.get(reverse("api-annotate-tasks"))
    crawler.get(reverse("annotate-home"))
    crawler.get(reverse("home"))
    # Every annotator route was exercised with real arguments.
    args = {"public_id": pairwise.task.public_id, "handle": handles[0]}
    for name, params in routes.items():
        url = reverse(name, kwargs={p: args[p] for p in params})
        if name in ("annotate-acknowledge",):
            continue
        crawler.get(url)
    # Other annotators' items are invisible, whatever the handle.
    theirs = Assignment.objects.filter(annotator=single.annotators[0]).first()
    crawler.get(reverse("api-annotate-item", args=[theirs.handle]))
    assert client.get(reverse("api-annotate-item", args=[theirs.handle])).status_code == 403
    assert crawler.responses > 40
