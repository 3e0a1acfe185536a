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
_ZWSP = "\u200b"
"""Put after ``@`` (and after ``<`` before ``!@#``) in user text: invisible to a reader, but no
chat service reads ``@\u200beveryone`` or ``<\u200b!channel>`` as a mention (the trick Discord's
own docs use). ``clean`` strips these characters first, so a post cannot smuggle its own."""
_USER_LINK = re.compile(r"\[([^\[\]\n]*)\]\(\s*<?([^()<>\s]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
"""``[label](url)`` in user text: a Markdown link whose label can hide where it goes."""
_USER_ANCHOR = re.compile(r"<((?:https?|mailto|ftp)://[^|<>\s]+)\|([^<>\n]*)>", re.IGNORECASE)
"""``<url|label>``: Slack's own labelled-link syntax, the same disguise."""
_MENTION_START = re.compile(r"<(?=[!@#])")
_MARKDOWN_ESCAPES = {
    "commonmark": re.compile(r"([\\`*_\[\]<>#|~])"),
    "slack": re.compile(r"([\[\]<>])"),
    "telegram": re.compile(r"([\\`*_\[<>])"),
}
"""What a backslash must guard, per Markdown flavour. Apprise (2.x) takes a Markdown body as
CommonMark and converts it to the service's own dialect; what survives that conversion differs:

- ``commonmark`` (Discord, webhooks, e-mail via HTML, most services): emphasis, code, links,
  HTML, headings, tables and strike-through; without an unescaped ``[`` or ``<`` no link forms.
- ``slack``: Apprise turns ``\\[ \\]`` into plain brackets and ``\\< \\>`` into ``&lt; &gt;`` (so no
  ``<url|label>``, ``<!channel>`` or ``<@U123>`` can form), but copies every other escape through,
  and Slack's mrkdwn has no backslash escapes: ``keyword\\_burst`` would show its backslash. So
  only the four are escaped; ``*``/``_`` in a post can at worst make text bold or italic.
- ``telegram``: legacy Telegram Markdown knows exactly ``\\_ \\* \\` \\[`` (any other escape shows its
  backslash); MarkdownV2 is re-escaped by Apprise from CommonMark. ``<``/``>`` are escaped so a
  channel switched to ``format=html`` still gets no raw HTML from a post.
"""
_SLACK_BACKSLASH = "\u29f5"
"""A user's ``\\`` in a Slack message (reverse solidus operator: looks the same): Slack has no
escape for it, and left as is it would pair with the next character in Apprise's conversion."""


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
    ack_link: str = ""
    """A signed one-time "Acknowledge" URL in the console (empty without ``alerting.console_url``)."""
    open_link: str = ""
    """The incident's page in the console (empty without ``alerting.console_url``)."""
    target: str = ""
    """The Apprise schema of the channel (``slack``, ``tgram``, ``json`` ...; empty when unknown):
    the same Markdown must be escaped differently for Slack's mrkdwn and Telegram's Markdown."""


# ---- escaping -------------------------------------------------------------------------
def clean(text: Any, limit: int | None = None) -> str:
    """User text on one line, without control or direction-override characters."""
    value = _CONTROL.sub("", str(text if text is not None else ""))
    value = re.sub(r"\s+", " ", value).strip()
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def neutralise(text: str) -> str:
    """User text that can neither ping nor disguise a link, in any format and any service.

    Mentions (``@everyone``, ``@here``, ``@all``, ``<!channel>``, ``<@U123>``) get an invisible
    break; labelled links (``[label](url)``, ``<url|label>``) become ``label (url)``, so the reader
    sees where a link from a post goes. Bare URLs stay text (a client may still make them
    clickable, but what is shown is where it goes). Our own links never pass through here.
    """
    text = _USER_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1).strip() else m.group(2), text)
    text = _USER_ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2).strip() else m.group(1), text)
    text = _MENTION_START.sub("<" + _ZWSP, text)
    return text.replace("@", "@" + _ZWSP)


def user_text(text: Any, limit: int | None = None) -> str:
    """``clean`` and ``neutralise``: how every piece of user text enters any message."""
    return neutralise(clean(text, limit))


def markdown_flavour(target: str) -> str:
    """The Markdown flavour a channel's service reads: ``slack``, ``telegram`` or ``commonmark``."""
    scheme = (target or "").split("://", 1)[0].lower()
    if scheme == "slack" or (scheme in ("http", "https") and "hooks.slack" in target.lower()):
        return "slack"
    if scheme in ("tgram", "telegram") or (scheme in ("http", "https") and "api.telegram.org" in target.lower()):
        return "telegram"
    return "commonmark"


def escape_markdown(text: Any, limit: int | None = None, flavour: str = "commonmark") -> str:
    """User text as inert Markdown for ``flavour`` (see ``_MARKDOWN_ESCAPES`` for why they differ)."""
    value = user_text(text, limit)
    if flavour == "slack":
        value = value.replace("\\", _SLACK_BACKSLASH)
    return _MARKDOWN_ESCAPES.get(flavour, _MARKDOWN_ESCAPES["commonmark"]).sub(r"\\\1", value)


def escape_html(text: Any, limit: int | None = None) -> str:
    return html.escape(user_text(text, limit), quote=True)


def safe_url(url: Any) -> str | None:
    """Only plain http(s) links are rendered as links; anything else is shown as text or dropped."""
    value = clean(url)
    return value if re.fullmatch(r"https?://[^\s<>\"'`]+", value) else None


# ---- the three built-in formats ----------------------------------------------------------
def render_text(c: MessageContent) -> str:
    lines = [c.headline, user_text(c.sentence, 500), ""]
    lines += [f"- {user_text(n, 300)}" for n in c.numbers]
    for label, posts in (("First posts", c.first_posts), ("Most engaged", c.top_posts)):
        if posts:
            lines += ["", f"{label}:"] + [f"- {user_text(text, 300)}" + (f" <{safe_url(url)}>" if safe_url(url) else "")
                                         for text, url in posts]
    if c.terms:
        lines += ["", "Top terms: " + user_text(", ".join(c.terms), 300)]
    lines += ["", f"Posts ({c.link_kind}): {c.link}"]
    if c.ack_link:
        lines += [f"Acknowledge: {c.ack_link}", f"Open incident: {c.open_link}", f"or run: {c.ack}"]
    else:
        lines.append(f"Acknowledge: {c.ack}")
    lines += ["", c.footer]
    return "\n".join(lines)


def render_markdown(c: MessageContent) -> str:
    flavour = markdown_flavour(c.target)

    def esc(text: Any, limit: int | None = None) -> str:
        return escape_markdown(text, limit, flavour)

    lines = [f"**{c.headline}**", "", esc(c.sentence, 500), ""]
    lines += [f"- {esc(n, 300)}" for n in c.numbers]
    for label, posts in (("First posts", c.first_posts), ("Most engaged", c.top_posts)):
        if posts:
            lines += ["", f"**{label}**"]
            for text, url in posts:
                link = safe_url(url)
                lines.append(f"- {esc(text, 300)}" + (f" [open]({link})" if link else ""))
    if c.terms:
        lines += ["", "**Top terms:** " + esc(", ".join(c.terms), 300)]
    link = f"[open in Kibana]({c.link})" if c.link_kind == "Kibana" else f"`{c.link.replace('`', '')}`"
    lines += ["", f"**Posts:** {link}"]
    if c.ack_link:  # the signed links are [A-Za-z0-9_.:/-]: nothing a Markdown flavour rewrites
        lines += [f"**Acknowledge:** <{c.ack_link}>", f"**Open incident:** <{c.open_link}>",
                  f"or run `{c.ack}`"]
    else:
        lines.append(f"**Acknowledge:** `{c.ack}`")
    lines += ["", f"_{c.footer}_"]
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
    if c.ack_link:
        parts.append(f'<p><a href="{html.escape(c.ack_link, quote=True)}"><b>Acknowledge</b></a> · '
                     f'<a href="{html.escape(c.open_link, quote=True)}">Open incident</a></p>')
    parts.append(f"<p><b>{'Or run' if c.ack_link else 'Acknowledge'}:</b> <code>{escape_html(c.ack)}</code></p>")
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
