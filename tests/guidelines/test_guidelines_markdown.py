"""render_markdown must be safe for hostile text: it also renders untrusted model outputs."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guidelines.markdown import render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<svg onload="alert(1)"></svg>',
    "<iframe src='https://evil.example'></iframe>",
    "<style>body{display:none}</style>",
    '<div style="position:fixed">overlay</div>',
    "[x](<javascript:alert(1)>)",
    "<scr<script>ipt>alert(1)</script>",
    "```html\n<script>alert(1)</script>\n```",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "<!-- <script>alert(1)</script> -->",
    "\x00<script>alert(1)</script>",
]

ALLOWED = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRS = {"href", "title", "rel", "start"}


class TagCollector(HTMLParser):
    """Parses the output as a browser would and records every real tag and attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_safe(html: str) -> None:
    parser = TagCollector()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED, html
        for name, value in attrs:
            assert name in ALLOWED_ATTRS, html
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), html


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_inputs_are_neutralised(text):
    html = render_markdown(text)
    assert_safe(html)
    assert "<script" not in html.lower()


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_normal_markdown_still_works():
    html = render_markdown(
        "# Title\n\n- one\n- two\n\n1. a\n\n`x = 1`\n\n```\ncode <b>\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.org) **bold** ~~old~~"
    )
    for fragment in (
        "<h1>Title</h1>",
        "<li>one</li>",
        "<ol>",
        "<code>x = 1</code>",
        "<pre><code>code &lt;b&gt;",
        "<table>",
        "<td>2</td>",
        "<strong>bold</strong>",
        "<s>old</s>",
        'href="https://example.org"',
        'rel="noopener noreferrer nofollow"',
    ):
        assert fragment in html, (fragment, html)


def test_images_become_alt_text():
    assert render_markdown("![a chart](https://x.example/c.png)") == "<p>a chart</p>\n"
    assert render_markdown("") == ""


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>\"'=/:[]()!`*_-|#&;ajvscriptonerrlhf \n")), max_size=80
    )
)
def test_fuzzed_markup_stays_safe(text):
    assert_safe(render_markdown(text))
