"""Markdown to safe HTML, for guideline prose and for untrusted model outputs.

Two independent layers: markdown-it renders with raw HTML disabled (so `<script>`
in the source comes out as text) and refuses unsafe link schemes, then nh3 removes
anything outside a small allow-list. Either layer alone would be one bug away from
script injection; the CSP is the third layer.
"""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
        "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
# No class or style attributes: classes could borrow the site's own styling to
# impersonate interface elements, and the CSP blocks inline styles anyway.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Tags whose content is dropped with them rather than kept as text.
CLEAN_CONTENT_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "template"})

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def _image_as_text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    # Images would load remote content (tracking, spoofed screenshots); show the alt text.
    return escapeHtml(tokens[idx].content)


_md.add_render_rule("image", _image_as_text)


def render_markdown(text: str) -> str:
    """Safe HTML for `text`: no raw HTML, scripts, event handlers, images or
    javascript:/data: links; paragraphs, emphasis, lists, code, tables and links work."""
    if not text:
        return ""
    # NUL is replaced by markdown-it anyway; stripping it first keeps nh3's input clean.
    html = _md.render(text.replace("\x00", "\ufffd"))
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        # Relative links in untrusted text could point at this site's own actions.
        url_relative="deny",
    )
