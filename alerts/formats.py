"""The message formats a channel can ask for: plain text, Markdown, HTML e-mail.

Each format is a ``MessageFormat`` spec registered under the entry-point group
``crisiswatch.formats`` (see ``pyproject.toml``), exactly as a third-party package adds one:
``alerts.render`` looks a channel's ``format`` up in the registry and never names these
three. A format is given one ``MessageContent`` - what every message says, already worked out
from the incident - and writes the body. Everything in it that comes from users (post
text, author names, terms, notes) is raw: a format escapes it for its own markup with the
helpers here, so that a post cannot inject markup, links or mentions into a message.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from crisiswatch.core.extensions import MessageFormat

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!])")
"""Characters that start emphasis, code, links, images, HTML, headings or tables; without
an unescaped ``[`` or ``<`` no link or mention can form."""


@dataclass
class MessageContent:
    """What a notification says, before any format writes it (the argument of a format's
    ``render``). Post lines are ``(text, url or None)``; ``footer`` carries the idempotency
    reference people quote back."""

    title: str
    headline: str
    sentence: str
    numbers: list[str]
    first_posts: list[tuple[str, str | None]]
    top_posts: list[tuple[str, str | None]]
    terms: list[str]
    link_kind: str
    """``Kibana`` (``link`` is a URL) or ``search`` (``link`` is a command line)."""
    link: str
    ack: str
    footer: str
    drill: bool
    has_chart: bool


# ---- escaping -------------------------------------------------------------------------
def clean(text: Any, limit: int | None = None) -> str:
    """User text on one line, without control or direction-override characters."""
    value = _CONTROL.sub("", str(text if text is not None else ""))
    value = re.sub(r"\s+", " ", value).strip()
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def escape_markdown(text: Any, limit: int | None = None) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(text, limit))


def escape_html(text: Any, limit: int | None = None) -> str:
    return html.escape(clean(text, limit), quote=True)


def safe_url(url: Any) -> str | None:
    """Only plain http(s) links are rendered as links; anything else is shown as text or dropped."""
    value = clean(url)
    return value if re.fullmatch(r"https?://[^\s<>\"'`]+", value) else None


# ---- the three built-in formats ----------------------------------------------------------
def render_text(c: MessageContent) -> str:
    lines = [c.headline, clean(c.sentence, 500), ""]
    lines += [f"- {clean(n, 300)}" for n in c.numbers]
    for label, posts in (("First posts", c.first_posts), ("Most engaged", c.top_posts)):
        if posts:
            lines += ["", f"{label}:"] + [f"- {clean(text, 300)}" + (f" <{safe_url(url)}>" if safe_url(url) else "")
                                         for text, url in posts]
    if c.terms:
        lines += ["", "Top terms: " + clean(", ".join(c.terms), 300)]
    lines += ["", f"Posts ({c.link_kind}): {c.link}", f"Acknowledge: {c.ack}", "", c.footer]
    return "\n".join(lines)


def render_markdown(c: MessageContent) -> str:
    lines = [f"**{c.headline}**", "", escape_markdown(c.sentence, 500), ""]
    lines += [f"- {escape_markdown(n, 300)}" for n in c.numbers]
    for label, posts in (("First posts", c.first_posts), ("Most engaged", c.top_posts)):
        if posts:
            lines += ["", f"**{label}**"]
            for text, url in posts:
                link = safe_url(url)
                lines.append(f"- {escape_markdown(text, 300)}" + (f" [open]({link})" if link else ""))
    if c.terms:
        lines += ["", "**Top terms:** " + escape_markdown(", ".join(c.terms), 300)]
    link = f"[open in Kibana]({c.link})" if c.link_kind == "Kibana" else f"`{c.link.replace('`', '')}`"
    lines += ["", f"**Posts:** {link}", f"**Acknowledge:** `{c.ack}`", "", f"_{c.footer}_"]
    return "\n".join(lines)


def render_html(c: MessageContent) -> str:
    def post_items(posts: list[tuple[str, str | None]]) -> str:
        items = []
        for text, url in posts:
            link = safe_url(url)
            anchor = f' <a href="{html.escape(link, quote=True)}">open</a>' if link else ""
            items.append(f"<li>{escape_html(text, 300)}{anchor}</li>")
        return "<ul>" + "".join(items) + "</ul>"

    parts = [f"<h2>{escape_html(c.headline)}</h2>", f"<p>{escape_html(c.sentence, 500)}</p>"]
    if c.numbers:
        parts.append("<ul>" + "".join(f"<li>{escape_html(n, 300)}</li>" for n in c.numbers) + "</ul>")
    for label, posts in (("First posts", c.first_posts), ("Most engaged", c.top_posts)):
        if posts:
            parts.append(f"<h3>{label}</h3>{post_items(posts)}")
    if c.terms:
        parts.append(f"<p><b>Top terms:</b> {escape_html(', '.join(c.terms), 300)}</p>")
    if c.link_kind == "Kibana":
        parts.append(f'<p><a href="{html.escape(c.link, quote=True)}">Open the posts in Kibana</a></p>')
    else:
        parts.append(f"<p><b>Posts:</b> <code>{escape_html(c.link)}</code></p>")
    parts.append(f"<p><b>Acknowledge:</b> <code>{escape_html(c.ack)}</code></p>")
    if c.drill:
        parts.append("<p><b>This is a drill: no action needed.</b></p>")
    elif c.has_chart:
        parts.append("<p>The evidence chart is attached.</p>")
    parts.append(f'<p style="color:#777;font-size:small">{escape_html(c.footer)}</p>')
    return "<html><body>" + "".join(parts) + "</body></html>"


TEXT = MessageFormat(name="text", render=render_text, body_format="text")
MARKDOWN = MessageFormat(name="markdown", render=render_markdown, body_format="markdown")
HTML = MessageFormat(name="html", render=render_html, body_format="html", options={"attach_chart": True})
"""E-mail: the evidence chart travels as an attachment (the other two cannot show one)."""
