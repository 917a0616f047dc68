"""The demo's written content: natural questions with right and planted-wrong answers,
matched tone variants, and arena answers that do not give their system away."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from demo.arena import ARENA_STRENGTHS, arena_output_texts, arena_prompts
from demo.content import ARENA_REQUESTS, FACTUAL_ITEMS, TONE_FRAMES, join_chunks
from demo.project import SYSTEMS, demo_output_rows
from demo.tone_study import STUDY_QUESTIONS, simulate_tone_study, study_output_rows

# What templated text gave away before: a question nested in a question, a subject in
# lower case after "The", a doubled word.
TEMPLATED = re.compile(r"\?.*\?|^The [a-z]|\b(\w+) \1\b", re.IGNORECASE)


def test_every_question_is_distinct_asked_once_and_has_a_different_wrong_answer():
    questions = [item.question for item in FACTUAL_ITEMS]
    assert len(questions) == len(set(questions)) == 100
    for item in FACTUAL_ITEMS:
        assert item.question.endswith("?") and item.question[0].isupper(), item.question
        assert not TEMPLATED.search(item.question), item.question
        assert item.right != item.wrong
        assert item.right.endswith(".") and item.wrong.endswith("."), item.question


def test_tone_frames_differ_in_confidence_not_in_length():
    for assertive, hedged in TONE_FRAMES:
        assert "{s}" in assertive and "{s}" in hedged
        assert abs(len(assertive) - len(hedged)) <= 12


def test_the_main_outputs_plant_errors_in_a_quarter_and_say_so_in_the_metadata():
    rows = demo_output_rows()
    assert len(rows) == len(FACTUAL_ITEMS) * len(SYSTEMS)
    by_question = {item.question: item for item in FACTUAL_ITEMS}
    for row in rows:
        item = by_question[row["prompt"]]
        wrong = row["metadata"]["known_errors"] == 1
        assert (item.wrong if wrong else item.right) in row["output"]
        assert row["reference"] == item.right
    # The project's description says "a quarter of them".
    assert sum(row["metadata"]["known_errors"] for row in rows) == len(rows) // 4
    assert Counter(row["metadata"]["tone"] for row in rows).keys() == {"assertive", "hedged"}


def test_the_tone_study_variants_share_their_answer_and_differ_in_tone():
    rows = study_output_rows(simulate_tone_study().outputs)
    assert len({row["prompt_id"] for row in rows}) == len(STUDY_QUESTIONS)
    contents = defaultdict(dict)
    for row in rows:
        contents[(row["prompt_id"], row["system"])][row["variant"]] = row
    for variants in contents.values():
        assertive, hedged = variants["assertive"], variants["hedged"]
        assert assertive["metadata"]["known_errors"] == hedged["metadata"]["known_errors"]
        item = next(i for i in FACTUAL_ITEMS if i.question == assertive["prompt"])
        answer = item.wrong if assertive["metadata"]["known_errors"] else item.right
        assert answer in assertive["output"] and answer in hedged["output"]
        assert assertive["output"] != hedged["output"]
        assert abs(len(assertive["output"]) - len(hedged["output"])) <= 12
    assert {row["metadata"]["known_errors"] for row in rows} == {0, 1}


def test_arena_answers_differ_within_a_prompt_and_code_stays_a_block():
    prompts = arena_prompts()
    assert len(prompts) == 45 and len({text for _, text, _ in prompts}) == 45
    for prompt_id, _, request in prompts:
        texts = arena_output_texts(prompt_id=prompt_id, request=request)
        assert list(texts) == list(ARENA_STRENGTHS)
        assert len(set(texts.values())) == len(texts)
    assert all(len(answer) == 5 for request in ARENA_REQUESTS for answer in request.answers)
    code = join_chunks(["Like this:", "```python\nx = 1\n```", "Done."])
    assert code == "Like this:\n\n```python\nx = 1\n```\n\nDone."
    assert join_chunks(["One.", "Two."]) == "One. Two."
