"""Messages per channel format: plain text, Markdown, HTML e-mail.

Every message says the level, what happened in one sentence, the numbers against normal,
the first and most-engaged posts with links, the top terms, a link to the posts (Kibana
Discover, or the local ``crisiswatch search`` command line) and how to acknowledge.
Everything that comes from users - post text, author names, terms, notes - is escaped for
the channel's format, so a post cannot inject markup, links or mentions into a message.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, IncidentEvent
from crisiswatch.core.store.base import PostFilter

LEVEL_LABEL = {"blue": "BLUE (watch)", "yellow": "YELLOW (warning)", "orange": "ORANGE (serious)",
               "red": "RED (critical)"}
LEVEL_MARK = {"blue": "🔵", "yellow": "🟡", "orange": "🟠", "red": "🔴"}
KIND_LABEL = {"fired": "new incident", "reopened": "incident reopened", "level_changed": "level changed",
              "reminder": "still ongoing", "escalated": "ESCALATION - not acknowledged",
              "acknowledged": "acknowledged", "resolved": "resolved", "drill": "DRILL - test message"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!])")
"""Characters that start emphasis, code, links, images, HTML, headings or tables; without
an unescaped ``[`` or ``<`` no link or mention can form."""


@dataclass
class Message:
    title: str
    body: str
    format: str
    attachments: list[str] = field(default_factory=list)


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


# ---- content ----------------------------------------------------------------------------
def posts_link(config: Config, incident: Incident) -> tuple[str, str]:
    """("Kibana", url) or ("search", command line) for the posts behind the incident."""
    evidence = incident.evidence
    flt = PostFilter.model_validate(evidence["filter"]) if evidence.get("filter") else PostFilter(
        watchlists=(incident.watchlist,) if incident.watchlist else None)
    window = evidence.get("window") or [None, None]
    end = datetime.fromisoformat(window[1]) if window[1] else incident.updated_at
    start = datetime.fromisoformat(window[0]) if window[0] else incident.opened_at
    start = min(start, incident.opened_at)
    if config.kibana_url:
        from crisiswatch.core.kibana import discover_url

        return "Kibana", discover_url(config.kibana_url, flt.narrow(since=None, until=None), start, end)
    parts = ["crisiswatch", "search", flt.text or "", "--since", start.isoformat(timespec="minutes"),
             "--until", end.isoformat(timespec="minutes")]
    for name in flt.watchlists or ():
        parts += ["--watchlist", name]
    for name in flt.sources or ():
        parts += ["--source", name]
    for name in flt.sentiments or ():
        parts += ["--sentiment", name]
    return "search", shlex.join(parts)


def _numbers(incident: Incident) -> list[str]:
    e = incident.evidence
    lines = []
    if e.get("observed") is not None:
        unit = e.get("unit", "posts")
        if unit == "share":
            normal = f"{e['baseline']:.0%}" if e.get("baseline") is not None else "n/a"
            spread = f" ± {e['spread']:.0%}" if e.get("spread") else ""
            lines.append(f"observed {e['observed']:.0%} vs normal {normal}{spread}")
        else:
            normal = f"{e['baseline']:.1f}" if isinstance(e.get("baseline"), (int, float)) else "n/a"
            spread = f" ± {e['spread']:.1f}" if isinstance(e.get("spread"), (int, float)) else ""
            lines.append(f"observed {e['observed']:g} {unit} vs normal {normal}{spread}")
        lines.append(f"rule score {e.get('score', 0):.1f} ({e.get('detector', '')}); "
                     f"composite crisis score {incident.score:.0f}/100")
    for signal in (e.get("signals") or {}).values():
        if signal.get("rule") != e.get("rule"):
            lines.append(f"also firing: {signal['rule']} ({signal.get('level')}): {signal.get('title', '')}")
    return lines


def _post_line(post: dict[str, Any]) -> tuple[str, str | None]:
    who = post.get("author") or "unknown author"
    followers = f", {post['followers']:,} followers" if post.get("followers") else ""
    text = " ".join(filter(None, [post.get("title"), post.get("text")]))
    return f"{who} on {post.get('source')}{followers}, {post.get('engagement') or 0:,} interactions: {text}", post.get("url")


@dataclass
class _Content:
    title: str
    headline: str
    sentence: str
    numbers: list[str]
    first_posts: list[tuple[str, str | None]]
    top_posts: list[tuple[str, str | None]]
    terms: list[str]
    link_kind: str
    link: str
    ack: str
    footer: str
    drill: bool
    has_chart: bool


def _content(config: Config, incident: Incident, event: IncidentEvent, key: str) -> _Content:
    level = incident.level.value
    drill = event.kind == "drill" or incident.rule == "drill"
    prefix = "[DRILL] " if drill else ""
    scope = incident.watchlist or "all watchlists"
    title = clean(f"{prefix}[{level.upper()}] {scope}: {KIND_LABEL.get(event.kind, event.kind)} - {incident.title}", 250)
    sentence = event.message or incident.title
    link_kind, link = posts_link(config, incident)
    e = incident.evidence
    return _Content(
        title=title,
        headline=f"{prefix}{LEVEL_MARK.get(level, '')} {LEVEL_LABEL.get(level, level)} - {KIND_LABEL.get(event.kind, event.kind)}",
        sentence=sentence, numbers=_numbers(incident),
        first_posts=[_post_line(p) for p in e.get("first_posts", [])[:2]],
        top_posts=[_post_line(p) for p in e.get("top_posts", [])[:3]],
        terms=[f"{t} ({n})" for t, n in e.get("top_terms", [])[:10]],
        link_kind=link_kind, link=link,
        ack=f"crisiswatch alerts ack {incident.id} --by YOUR_NAME",
        footer=f"incident {incident.id} · state {incident.state.value} · opened {incident.opened_at:%Y-%m-%d %H:%M} UTC"
               f" · ref {key}", drill=drill, has_chart=bool(e.get("chart")))


# ---- formats ------------------------------------------------------------------------------
def render(config: Config, incident: Incident, event: IncidentEvent, fmt: str, key: str) -> Message:
    content = _content(config, incident, event, key)
    chart = incident.evidence.get("chart")
    attachments = [chart] if fmt == "html" and chart else []
    body = {"text": _text, "markdown": _markdown, "html": _html}[fmt](content)
    return Message(title=content.title, body=body, format=fmt, attachments=attachments)


def _text(c: _Content) -> str:
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


def _markdown(c: _Content) -> str:
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


def _html(c: _Content) -> str:
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
