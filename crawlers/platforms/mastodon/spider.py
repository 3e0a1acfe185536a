"""Mastodon: hashtag and public timelines of each configured instance.

Targets: ``instances`` (host names or URLs; default the source's base_url),
``hashtags`` (without '#'), ``timelines`` (``public`` and/or ``local``), ``accounts``
(``name`` or ``name@other.host``: their statuses, after ``/api/v1/accounts/lookup``).
Before reading timelines the spider asks the instance once per crawl (``/api/v2/instance``)
whether its feeds are public: since Mastodon 4.4 an admin can restrict them to logged-in
users or disable them (``configuration.timelines_access``), and asking avoids a 401/422 per
target. Older instances do not say; they answer a restricted timeline with 401 or 422 and
``{"error": "This method requires an authenticated user"}``. Either way this is how the
instance is set up, not a failed crawl: it is a *configuration warning* in the crawl's health
message (the status stays ``ok``), so the source is not reported "partial" on every run.
Paging follows the ``Link: <...max_id=...>; rel="next"`` header newest-first; the cursor
is the newest status id seen, sent back as ``since_id`` next time.
"""

from __future__ import annotations

import logging
import html
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import scrapy
from scrapy.http import Response

from crawlers.normalise import parse_iso
from crawlers.base_spider import CrisisSpider, Walk
from crisiswatch.core.model import Author, Engagement, Post

log = logging.getLogger(__name__)
RESTRICTED = [401, 403, 422]
"""Statuses of a timeline the instance does not serve to visitors (handled, not retried)."""


def parse_link_header(value: str | None) -> dict[str, str]:
    """``<url>; rel="next", <url>; rel="prev"`` -> {"next": url, "prev": url}."""
    links: dict[str, str] = {}
    for part in (value or "").split(","):
        url, _, params = part.partition(";")
        url = url.strip().strip("<>")
        for param in params.split(";"):
            name, _, rel = param.strip().partition("=")
            if name == "rel" and url:
                links[rel.strip('"')] = url
    return links


class MastodonSpider(CrisisSpider):
    name = "mastodon"
    default_base_url = "https://mastodon.social"
    text_kind = "html"
    """``content`` is HTML; ``spoiler_text`` (the content warning) is plain and is escaped into it."""

    def instances(self) -> list[str]:
        configured = self.targets("instances") or [self.base_url]
        return [(i if "://" in i else f"https://{i}").rstrip("/") for i in configured]

    def feeds(self, instance: str) -> list[tuple[str, str, str]]:
        """(cursor key, API path, access kind) per timeline of one instance."""
        host = urlsplit(instance).netloc
        feeds = [(f"{host}|tag:{t.lstrip('#').lower()}", f"/api/v1/timelines/tag/{quote(t.lstrip('#'))}", "hashtag_feeds")
                 for t in self.targets("hashtags")]
        for timeline in self.targets("timelines"):
            local = timeline == "local"
            feeds.append((f"{host}|{timeline}", "/api/v1/timelines/public" + ("?local=true" if local else ""),
                          "live_feeds"))
        return feeds

    def account_keys(self, instance: str) -> list[tuple[str, str]]:
        host = urlsplit(instance).netloc
        return [(f"{host}|account:{a.lstrip('@').lower()}", a.lstrip("@")) for a in self.targets("accounts")]

    def walk_keys(self) -> list[str]:
        return [key for instance in self.instances()
                for key in [k for k, _, _ in self.feeds(instance)] + [k for k, _ in self.account_keys(instance)]]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for instance in self.instances():
            setup = self.new_walk(f"{instance}|instance", {})
            yield self.request(f"{instance}/api/v2/instance", setup, self.parse_instance, instance=instance,
                               cursors=cursors, fallback=self.parse_instance_unknown)

    def parse_instance_unknown(self, walk: Walk, instance: str, cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        """Instances older than 4.0 have no /api/v2/instance: try their timelines anyway."""
        yield from self.parse_instance(None, walk, instance, cursors)

    def parse_instance(self, response: Response | None, walk: Walk, instance: str,
                       cursors: dict[str, str]) -> Iterator[scrapy.Request]:
        info = self.json_body(response) if response is not None else {}
        access = ((info.get("configuration") or {}).get("timelines_access") or {}) if isinstance(info, dict) else {}
        limit = int(self.option("limit", 40))
        for key, path, kind in self.feeds(instance):
            setting = access.get(kind) or {}
            scope = "local" if key.endswith("|local") else "remote"
            if setting.get(scope, "public") != "public":
                self.config_warning(f"{instance}: {scope} {kind} are '{setting.get(scope)}' on this instance "
                                    f"(not public); skipped {key}")
                continue
            feed_walk = self.new_walk(key, cursors, numeric=True)
            separator = "&" if "?" in path else "?"
            since = f"&since_id={feed_walk.since}" if feed_walk.since else ""
            yield self.timeline(f"{instance}{path}{separator}limit={limit}{since}", feed_walk)
        for key, account in self.account_keys(instance):
            account_walk = self.new_walk(key, cursors, numeric=True)
            yield self.request(self.url_at(instance, "/api/v1/accounts/lookup", acct=account), account_walk,
                               self.parse_account, instance=instance)

    def parse_account(self, response: Response, walk: Walk, instance: str) -> Iterator[scrapy.Request]:
        account = self.json_body(response)
        url = self.url_at(instance, f"/api/v1/accounts/{account['id']}/statuses", limit=self.option("limit", 40),
                          since_id=walk.since)
        yield self.request(url, walk, self.parse_timeline)

    def timeline(self, url: str, walk: Walk) -> scrapy.Request:
        request = self.request(url, walk, self.parse_timeline)
        request.meta["handle_httpstatus_list"] = RESTRICTED
        return request

    def config_warning(self, message: str) -> None:
        """How the instance is set up, reported in the crawl's health message but not counted
        as an error: the crawl's status stays ``ok`` (nothing failed; nothing will change by
        retrying). Each warning once per crawl."""
        text = f"configuration warning: {message}"
        if text not in self.errors:
            self.errors.insert(0, text)
            log.warning("%s: %s", self.source, text)

    def parse_timeline(self, response: Response, walk: Walk) -> Iterator[Any]:
        if response.status in RESTRICTED:
            answer = self.json_body(response) if response.body.strip() else {}
            reason = answer.get("error") if isinstance(answer, dict) else None
            self.config_warning(f"{response.url.split('?')[0]} answers HTTP {response.status} "
                                f"({reason or 'no reason given'}): the instance does not make this timeline "
                                f"public (not public); skipped {walk.key}")
            return
        statuses = self.json_body(response)
        if not isinstance(statuses, list):
            raise ValueError(f"expected a list of statuses, got {type(statuses).__name__}")
        walk.pages += 1
        reached_cursor = False
        for status in statuses:
            post = self.post_or_none(lambda: self.status_to_post(status), response.url)
            if post is None:
                continue
            if not self.accept(walk, post, str(int(status["id"]))):
                reached_cursor = True
                continue
            yield post
        following = parse_link_header(response.headers.get("Link", b"").decode("latin-1")).get("next")
        if following and statuses and not reached_cursor and walk.pages < self.source_config.max_pages:
            yield self.timeline(following, walk)

    def status_to_post(self, status: dict[str, Any]) -> Post | None:
        if status.get("reblog"):
            status = status["reblog"]  # a boost: collect the original post once
        account = status["account"]
        text = status.get("content") or ""
        if status.get("spoiler_text"):
            text = f"<p>{html.escape(status['spoiler_text'])}</p>{text}"
        return self.make_post(
            status["id"], parse_iso(status["created_at"]), text,
            url=status.get("url") or status.get("uri"), language=status.get("language"),
            author=Author(id=str(account["id"]), handle=account.get("acct") or account.get("username"),
                          name=account.get("display_name") or None, followers=account.get("followers_count")),
            engagement=Engagement(likes=status.get("favourites_count"), shares=status.get("reblogs_count"),
                                  replies=status.get("replies_count")),
            parent=status.get("in_reply_to_id"), raw=status)
