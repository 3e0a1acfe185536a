"""What an incident notification says, written in the format its channel asks for.

Every message says the level, what happened in one sentence, the numbers against normal,
the first and most-engaged posts with links, the top terms, a link to the posts (Kibana
Discover, or the local ``crisiswatch search`` command line) and how to acknowledge.
This module works the content out once (``MessageContent``); the channel's format - found
by name in the registry, ``alerts.formats`` for the built-in text, Markdown and HTML - writes
it and escapes everything that comes from users for its own markup.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.core import registry, signing
from crisiswatch.core.config import Config, parse_duration
from crisiswatch.core.extensions import MessageFormat
from crisiswatch.core.model import Incident, IncidentEvent
from crisiswatch.core.store.base import PostFilter

from alerts.formats import MessageContent, user_text

LEVEL_LABEL = {"blue": "BLUE (watch)", "yellow": "YELLOW (warning)", "orange": "ORANGE (serious)",
               "red": "RED (critical)"}
LEVEL_MARK = {"blue": "🔵", "yellow": "🟡", "orange": "🟠", "red": "🔴"}
KIND_LABEL = {"fired": "new incident", "reopened": "incident reopened", "level_changed": "level changed",
              "reminder": "still ongoing", "escalated": "ESCALATION - not acknowledged",
              "acknowledged": "acknowledged", "resolved": "resolved", "drill": "DRILL - test message"}


@dataclass
class Message:
    """One notification as the sender takes it; ``format`` names a registered message format
    (its ``body_format`` tells Apprise whether the body is text, Markdown or HTML)."""

    title: str
    body: str
    format: str
    attachments: list[str] = field(default_factory=list)


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


def _content(config: Config, incident: Incident, event: IncidentEvent, key: str, target: str = "") -> MessageContent:
    level = incident.level.value
    drill = event.kind == "drill" or incident.rule == "drill"
    prefix = "[DRILL] " if drill else ""
    scope = incident.watchlist or "all watchlists"
    title = user_text(f"{prefix}[{level.upper()}] {scope}: {KIND_LABEL.get(event.kind, event.kind)} - {incident.title}", 250)
    sentence = event.message or incident.title
    link_kind, link = posts_link(config, incident)
    e = incident.evidence
    return MessageContent(
        title=title,
        headline=f"{prefix}{LEVEL_MARK.get(level, '')} {LEVEL_LABEL.get(level, level)} - {KIND_LABEL.get(event.kind, event.kind)}",
        sentence=sentence, numbers=_numbers(incident),
        first_posts=[_post_line(p) for p in e.get("first_posts", [])[:2]],
        top_posts=[_post_line(p) for p in e.get("top_posts", [])[:3]],
        terms=[f"{t} ({n})" for t, n in e.get("top_terms", [])[:10]],
        link_kind=link_kind, link=link,
        ack=f"crisiswatch alerts ack {incident.id} --by YOUR_NAME",
        **_console_links(config, incident, event, key),
        footer=f"incident {incident.id} · state {incident.state.value} · opened {incident.opened_at:%Y-%m-%d %H:%M} UTC"
               f" · ref {key}", drill=drill, has_chart=bool(e.get("chart")), target=_scheme_of(target))


def _console_links(config: Config, incident: Incident, event: IncidentEvent, key: str) -> dict[str, str]:
    """A signed, expiring "Acknowledge" link for this recipient (the channel the message goes
    to: the last part of its idempotency key) and the incident's page, when the console's URL
    is configured and the signing key is in the environment; otherwise none."""
    base, key_bytes = config.alerting.console_url, signing.secret_key()
    if not base or key_bytes is None or event.kind == "drill" or incident.rule == "drill":
        return {}
    base = base.rstrip("/")
    links = {"open_link": f"{base}/incidents/{incident.id}"}
    if incident.state.value == "open" and event.kind not in ("acknowledged", "resolved"):
        recipient = key.rsplit(":", 1)[-1]
        ttl = int(parse_duration(config.alerting.action_link_ttl).total_seconds())
        token = signing.sign_action(key_bytes, incident.id, "acknowledge", recipient, ttl)
        links["ack_link"] = f"{base}/a/{incident.id}/{token}"
    return links


# ---- formats ------------------------------------------------------------------------------
def message_format(name: str) -> MessageFormat:
    """The format a channel names, from the registry (built in or from another package)."""
    return registry.get("formats", name)


def _scheme_of(url: str) -> str:
    """What a format may know of the channel's URL: the schema, and for an https webhook its host
    (``https://hooks.slack.com``) - never a path, token or query, which may carry secrets."""
    scheme, _, rest = (url or "").partition("://")
    if not rest:
        return ""
    if scheme.lower() in ("http", "https"):
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme.lower()}://{host.lower()}"
    return scheme.lower()


def render(config: Config, incident: Incident, event: IncidentEvent, fmt: str, key: str,
           target: str = "") -> Message:
    """The message of ``event`` written in the format ``fmt`` (a name in the format registry).

    ``target`` is the channel's Apprise URL (placeholders unresolved): one Markdown body cannot
    be right for every service, so the format learns the service's schema from it."""
    spec = message_format(fmt)
    content = _content(config, incident, event, key, target)
    chart = incident.evidence.get("chart")
    attachments = [chart] if spec.options.get("attach_chart") and chart else []
    return Message(title=content.title, body=spec.render(content), format=fmt, attachments=attachments)
