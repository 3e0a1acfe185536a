"""Feeds: RSS 2.0 (``/feed.xml``), Atom (``/atom.xml``) and YouTube channel feeds
(``/feeds/videos.xml?channel_id=...``); ``/private/...`` is the same feed behind robots.txt."""

from __future__ import annotations

import email.utils
import random
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from crisiswatch.core.model import Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native

PLATFORM = "rss"
FEED_SIZE = 100


def _link(post: Post) -> str:
    return post.url or f"https://news.example/{native(post)}"


def rss(posts: list[Post], prefix: str) -> str:
    items = []
    for post in posts:
        creator = f"<dc:creator>{escape(post.author.name)}</dc:creator>" if post.author.name else ""
        items.append(
            f"<item><title>{escape(post.title or '')}</title><link>{escape(_link(post))}</link>"
            f'<guid isPermaLink="false">{escape(native(post))}</guid>'
            f"<pubDate>{email.utils.format_datetime(post.created_at, usegmt=True)}</pubDate>"
            f"<description>{escape(post.text)}</description>{creator}</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Replay news</title>'
            f"<link>{escape(prefix)}/</link><description>Scenario news feed</description>"
            f'<atom:link href={quoteattr(prefix + "/feed.xml")} rel="self" type="application/rss+xml"/>'
            + "".join(items) + "</channel></rss>\n")


def atom(posts: list[Post], prefix: str) -> str:
    entries = []
    for post in posts:
        stamp = post.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        author = f"<author><name>{escape(post.author.name)}</name></author>" if post.author.name else ""
        entries.append(f"<entry><id>{escape(native(post))}</id><title>{escape(post.title or '')}</title>"
                       f'<link rel="alternate" href={quoteattr(_link(post))}/><published>{stamp}</published>'
                       f"<updated>{stamp}</updated>{author}<summary type=\"text\">{escape(post.text)}</summary></entry>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Replay news</title><id>{escape(prefix)}/atom.xml</id>"
            f'<link rel="self" href={quoteattr(prefix + "/atom.xml")}/>'
            + "".join(entries) + "</feed>\n")


def youtube(posts: list[Post], channel: str) -> str:
    entries = []
    for post in posts:
        video = native(post)
        stamp = post.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        views, likes = post.engagement.views or 0, post.engagement.likes or 0
        entries.append(
            f"<entry><id>yt:video:{escape(video)}</id><yt:videoId>{escape(video)}</yt:videoId>"
            f"<yt:channelId>{escape(channel)}</yt:channelId><title>{escape(post.title or '')}</title>"
            f'<link rel="alternate" href="https://www.youtube.com/watch?v={escape(video)}"/>'
            f"<author><name>{escape(post.author.name or channel)}</name>"
            f"<uri>https://www.youtube.com/channel/{escape(channel)}</uri></author>"
            f"<published>{stamp}</published><updated>{stamp}</updated>"
            f"<media:group><media:title>{escape(post.title or '')}</media:title>"
            f'<media:content url="https://www.youtube.com/v/{escape(video)}?version=3" type="application/x-shockwave-flash" width="640" height="390"/>'
            f'<media:thumbnail url="https://i1.ytimg.com/vi/{escape(video)}/hqdefault.jpg" width="480" height="360"/>'
            f"<media:description>{escape(post.text)}</media:description>"
            f'<media:community><media:starRating count="{likes}" average="5.00" min="1" max="5"/>'
            f'<media:statistics views="{views}"/></media:community></media:group></entry>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
            'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
            f'<link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={escape(channel)}"/>'
            f"<id>yt:channel:{escape(channel)}</id><yt:channelId>{escape(channel)}</yt:channelId>"
            f"<title>Replay channel</title><published>2020-01-01T00:00:00+00:00</published>"
            + "".join(entries) + "</feed>\n")


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    path = path.removeprefix("/private")
    if path == "/feeds/videos.xml":
        channel = (query.get("channel_id") or [""])[0]
        posts = catalog.visible(PLATFORM, now, lambda p: p.author.id == channel)[:15]
        return Reply.text(youtube(posts, channel), "application/atom+xml; charset=UTF-8")
    posts = catalog.visible(PLATFORM, now)[:FEED_SIZE]
    if path == "/feed.xml":
        return Reply.text(rss(posts, prefix), "application/rss+xml; charset=utf-8")
    if path == "/atom.xml":
        return Reply.text(atom(posts, prefix), "application/atom+xml; charset=utf-8")
    return Reply.text("<html><body>Not found</body></html>", "text/html", status=404)


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"feeds": ["feed.xml"]}}


# ---- how scenarios write feed entries ------------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    return f"item-{counter:05d}"


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Feeds count nothing."""
    return Engagement()


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=f"https://news.example/zephyr/{index}", titled=True)
