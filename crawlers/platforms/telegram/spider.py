"""Telegram public channels through their web preview, ``t.me/s/<channel>``.

Targets: ``channels`` (user names without '@'). The preview page lists about twenty
messages, oldest first, each a ``div.tgme_widget_message`` with ``data-post="channel/N"``;
a ``a.tme_messages_more[data-before]`` link pages to older messages (``?before=N``). The
subscriber count in the channel header becomes every post's follower count. A page that
does not end with ``</html>`` was cut off in transit and is skipped whole, so no message
is stored from a partial page. The cursor is the highest message number seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response

from crawlers.normalise import parse_count, parse_iso
from crawlers.base_spider import CrisisSpider, PageError, Walk
from crisiswatch.core.model import Author, Engagement, Post


class TelegramSpider(CrisisSpider):
    name = "telegram"
    default_base_url = "https://t.me"
    text_kind = "html"
    """The message text is the preview page's HTML (``<br/>``, ``<a>``, ``<b>``, entities)."""

    def walk_keys(self) -> list[str]:
        return [f"channel:{c.lstrip('@').lower()}" for c in self.targets("channels")]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for channel in self.targets("channels"):
            channel = channel.lstrip("@")
            walk = self.new_walk(f"channel:{channel.lower()}", cursors, numeric=True)
            yield self.request(self.url(f"/s/{channel}"), walk, self.parse_page, channel=channel)

    def parse_page(self, response: Response, walk: Walk, channel: str) -> Iterator[Any]:
        html = self.text_body(response)
        if "</html>" not in html[-4096:].lower():
            raise PageError("page is truncated (no closing </html>)")
        page = Selector(text=html)
        walk.pages += 1
        subscribers = walk.extra.get("subscribers")
        for counter in page.css(".tgme_channel_info_counter"):
            if (counter.css(".counter_type::text").get() or "").strip() in ("subscribers", "subscriber"):
                subscribers = parse_count(counter.css(".counter_value::text").get())
        walk.extra["subscribers"] = subscribers
        title = " ".join(page.css(".tgme_channel_info_header_title span::text").getall()).strip() or None
        messages = page.css("div.tgme_widget_message[data-post]")
        # service messages ("channel photo updated" and the like) are not posts
        posts_html = [m for m in messages if "service_message" not in (m.attrib.get("class") or "")]
        posts, reached = self.accept_page(walk, posts_html,
                                          lambda message: self.message_to_post(message, channel, title, subscribers),
                                          response.url, cursor=lambda message, post: post.id.rsplit("/", 1)[-1])
        yield from posts
        more = page.css("a.tme_messages_more::attr(data-before)").get()
        if more and messages and not reached and walk.pages < self.source_config.max_pages:
            yield self.request(self.url(f"/s/{channel}", before=more), walk, self.parse_page, channel=channel)

    def message_to_post(self, message: Selector, channel: str, title: str | None, subscribers: int | None) -> Post:
        data_post = message.attrib["data-post"]
        name, _, number = data_post.rpartition("/")
        if not name or not number.isdigit():
            raise ValueError(f"data-post {data_post!r} is not 'channel/number'")
        stamp = message.css("a.tgme_widget_message_date time::attr(datetime)").get()
        if not stamp:
            raise ValueError(f"message {data_post} has no time")
        text = message.css(".tgme_widget_message_text.js-message_text").get() or ""  # not the quoted reply
        owner = message.css(".tgme_widget_message_owner_name span::text").get()
        reply = message.css("a.tgme_widget_message_reply::attr(href)").get()
        parent = None
        if reply and reply.rstrip("/").rsplit("/", 1)[-1].isdigit():
            parent = f"{name}/{reply.rstrip('/').rsplit('/', 1)[-1]}"
        return self.make_post(
            data_post, parse_iso(stamp), text,
            url=message.css("a.tgme_widget_message_date::attr(href)").get() or f"https://t.me/{data_post}",
            author=Author(id=name, handle=name, name=(owner or title), followers=subscribers),
            engagement=Engagement(views=parse_count(message.css(".tgme_widget_message_views::text").get())),
            parent=parent, raw={"html": message.get()})
