"""Telegram's public channel preview pages, ``/s/<channel>`` with ``?before=`` paging."""

from __future__ import annotations

import html
import random
import re
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Author, Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "telegram"
PAGE = 20
_NATIVE = re.compile(r"^(?P<channel>[A-Za-z0-9_]+)/(?P<number>\d+)$")


def channel_of(post: Post) -> str:
    match = _NATIVE.match(native(post))
    return match.group("channel") if match else (post.author.handle or "channel")


def numbered(catalog: Catalog, channel: str) -> dict[str, int]:
    """Message numbers of a channel's posts: the scenario's own, else their order in time."""
    cache: dict[str, dict[str, int]] = catalog.options.setdefault("telegram_numbers", {})
    if channel not in cache:
        posts = [p for p in catalog.posts.get(PLATFORM, []) if channel_of(p).lower() == channel.lower()]
        numbers: dict[str, int] = {}
        for index, post in enumerate(posts, start=2):  # message 1 is "Channel created"
            match = _NATIVE.match(native(post))
            numbers[post.id] = int(match.group("number")) if match else index
        cache[channel] = numbers
    return cache[channel]


def _count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 1000:
        return f"{value / 1000:.1f}K".replace(".0K", "K")
    return str(value)


def render_message(post: Post, channel: str, number: int, title: str) -> str:
    text = "<br/>".join(html.escape(line) for line in post.text.split("\n"))
    views = _count(post.engagement.views or 0)
    stamp = post.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    reply = ""
    if post.parent_id:
        parent_number = post.parent_id.rsplit("/", 1)[-1]
        reply = (f'<a class="tgme_widget_message_reply" href="https://t.me/{channel}/{parent_number}">'
                 f'<div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_author_name">'
                 f"{html.escape(title)}</span></div></a>")
    return f"""
<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{channel}/{number}" data-view="eyJjIjotMTAwfQ">
  <div class="tgme_widget_message_user"><a href="https://t.me/{channel}"><i class="tgme_widget_message_user_photo bgcolor0" data-content="R"></i></a></div>
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">{html.escape(title)}</span></a></div>
    {reply}<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>
    <div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short js-message_info">
      <span class="tgme_widget_message_views">{views}</span><span class="copyonly"> views</span>
      <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{channel}/{number}"><time datetime="{stamp}" class="time">{post.created_at:%H:%M}</time></a></span>
    </div></div>
  </div>
</div></div>"""


def page(catalog: Catalog, channel: str, now: datetime, before: int | None) -> str | None:
    numbers = numbered(catalog, channel)
    if not numbers:
        return None
    posts = [p for p in catalog.visible(PLATFORM, now) if p.id in numbers]
    posts.sort(key=lambda p: numbers[p.id])
    if before is not None:
        posts = [p for p in posts if numbers[p.id] < before]
    shown = posts[-PAGE:]
    owner = next((p for p in catalog.posts[PLATFORM] if p.id in numbers), None)
    title = (owner.author.name or channel) if owner else channel
    subscribers = catalog.author_followers(PLATFORM, owner) if owner else 0
    more = ""
    if len(posts) > len(shown) and shown:
        oldest = numbers[shown[0].id]
        more = (f'<a href="/s/{channel}?before={oldest}" class="tme_messages_more js-messages_more" '
                f'data-before="{oldest}"></a>')
    messages = "".join(render_message(p, channel, numbers[p.id], title) for p in shown)
    return f"""<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>{html.escape(title)} – Telegram</title>
    <meta property="og:title" content="{html.escape(title)}"></head>
  <body class="widget_frame_base tgme_webpreview_body">
    <header class="tgme_header search_collapsed"><div class="tgme_header_info"><div class="tgme_header_title">{html.escape(title)}</div>
      <div class="tgme_header_counter">{(subscribers or 0):,} subscribers</div></div></header>
    <main class="tgme_main"><section class="tgme_channel_history js-message_history">
      <div class="tgme_channel_info"><div class="tgme_channel_info_header"><div class="tgme_channel_info_header_title"><span dir="auto">{html.escape(title)}</span></div>
        <div class="tgme_channel_info_header_username"><a href="https://t.me/{channel}">@{channel}</a></div></div>
        <div class="tgme_channel_info_counters">
          <div class="tgme_channel_info_counter"><span class="counter_value">{_count(subscribers or 0)}</span> <span class="counter_type">subscribers</span></div>
          <div class="tgme_channel_info_counter"><span class="counter_value">{len(numbers)}</span> <span class="counter_type">links</span></div>
        </div></div>
      {more}{messages}
    </section></main>
  </body>
</html>
"""


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    if not path.startswith("/s/"):
        return Reply.text("<html><body>Not found</body></html>", "text/html; charset=utf-8", status=404)
    channel = path[3:].strip("/")
    before = (query.get("before") or [None])[0]
    document = page(catalog, channel, now, int(before) if before and before.isdigit() else None)
    if document is None:  # t.me redirects unknown or private channels to the channel card
        return Reply(302, b"", "text/html", {"Location": f"{prefix}/{channel}"})
    return Reply.text(document, "text/html; charset=utf-8")


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"channels": sorted({channel_of(p) for p in catalog.posts.get(PLATFORM, [])})}}


# ---- how scenarios write channel messages --------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    return str(1000 + counter * 13 + rng.randrange(13))


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Channels show views only."""
    return Engagement(views=int(reach * 40))


def default_url(native_id: str, author: Author) -> str:
    return f"https://t.me/{author.handle or 'user'}/{native_id}"


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=f"zephyrnews/{index + 2}", handle="zephyrnews", views=True)
