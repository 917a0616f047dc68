"""Untrusted outputs render inert and readable in real Chromium: no script runs from a
<script> tag, an <img onerror>, a javascript: link or an inline handler; a 200 KB
answer scrolls inside its own panel; the page is served with the CSP."""

from __future__ import annotations

import pytest

from annotation.services.assignment import assignment_claim
from tests.annotation.conftest import build_scenario
from tests.browser_support import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = (
    "Here is my answer.\n\n"
    "<script>window.__pwned = 'script'; document.title = 'PWNED';</script>\n\n"
    '<img src="x" onerror="window.__pwned = \'img\'">\n\n'
    "[click me](javascript:window.__pwned='link')\n\n"
    "<a href=\"javascript:window.__pwned='raw-link'\" onclick=\"window.__pwned='onclick'\">raw link</a>\n\n"
    '<div style="position:fixed;inset:0;background:red" onmouseover="window.__pwned=\'hover\'">overlay</div>\n\n'
    "<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>\n\n"
    "```python\nprint('<script>alert(1)</script>')\n```\n\n"
    "| col | <b onmouseover=alert(1)>x</b> |\n|---|---|\n| 1 | 2 |\n"
)
LONG = "\n\n".join(f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 38 for n in range(200))


def test_hostile_and_huge_outputs_render_inert(page, live_server):
    assert len(LONG.encode()) >= 200_000
    s = build_scenario(
        mode="pairwise",
        n_prompts=1,
        n_systems=2,
        k=1,
        n_annotators=1,
        output_text=lambda i, j: HOSTILE if i == 0 else LONG,
    )
    me = s.annotators[0]
    me.set_password("pw")
    me.save(update_fields=["password"])
    assignment_claim(actor=me, task=s.task)
    log_in(page, me.username)
    response = page.goto(f"/annotate/t/{s.task.public_id}/")
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.wait_for_selector("#ws-form")

    responses = page.locator(".ws-response .ws-md")
    texts = [responses.nth(i).inner_text() for i in range(2)]
    hostile = next(t for t in texts if "Here is my answer." in t)
    # Readable: the markup shows as text, the code block and the table survive.
    assert "<script>" in hostile and "print('<script>alert(1)</script>')" in hostile
    assert page.locator(".ws-response pre code").count() == 1
    assert page.locator(".ws-response table").count() >= 1
    # Inert: no live script, handler, iframe, image, style or javascript: URL in the panels.
    inert = page.evaluate(
        """() => {
          const panels = [...document.querySelectorAll('.ws-response .ws-md')];
          const all = panels.flatMap(p => [...p.querySelectorAll('*')]);
          return {
            scripts: all.filter(e => e.tagName === 'SCRIPT').length,
            frames: all.filter(e => ['IFRAME', 'IMG', 'OBJECT', 'EMBED'].includes(e.tagName)).length,
            handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
            styles: all.filter(e => e.hasAttribute('style')).length,
            jsLinks: all.filter(e => (e.getAttribute('href') || '').trim().toLowerCase().startsWith('javascript')).length,
          };
        }"""
    )
    assert inert == {"scripts": 0, "frames": 0, "handlers": 0, "styles": 0, "jsLinks": 0}
    # Poke everything a person might: hover and click every link-like thing in the panel.
    for link in page.locator(".ws-response .ws-md a").all():
        link.hover()
        link.click(modifiers=["Control"], no_wait_after=True)
    page.mouse.move(400, 400)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "PWNED"

    # The 200 KB answer scrolls inside its panel; the page stays usable.
    long_panel = next(i for i, t in enumerate(texts) if t.startswith("Paragraph 0"))
    box = responses.nth(long_panel).evaluate(
        "el => ({scroll: el.scrollHeight, client: el.clientHeight, overflow: getComputedStyle(el).overflowY})"
    )
    assert box["scroll"] > 20 * box["client"] and box["overflow"] == "auto"
    assert page.evaluate("document.documentElement.scrollHeight") < 5000
    assert "Paragraph 199" in texts[long_panel]
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "annotate-hostile-output")
    csp_errors = [e for e in page.console_errors if "Content Security Policy" in e]
    assert page.console_errors == [] and csp_errors == []
