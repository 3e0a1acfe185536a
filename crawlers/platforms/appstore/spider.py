"""App Store customer reviews, per country and app, from Apple's reviews feed in JSON.

Targets: ``apps`` (numeric app ids); ``options.countries`` (default ``[us]``). The feed
``/{country}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json`` gives 50
reviews a page and at most 10 pages, newest first; its ``link`` list names the next and
last pages. A feed with a single review gives ``entry`` as an object, not a list. The
star rating has no place in ``Post`` and is kept in ``raw`` (``keep_raw: true``); the
review text itself is what sentiment models read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.normalise import parse_iso
from crawlers.base_spider import CrisisSpider, Walk
from crisiswatch.core.model import Author, Engagement, Post

APPLE_MAX_PAGES = 10


def label(node: Any, default: Any = None) -> Any:
    return node.get("label", default) if isinstance(node, dict) else default


class AppStoreSpider(CrisisSpider):
    name = "appstore"
    default_base_url = "https://itunes.apple.com"

    def pairs(self) -> list[tuple[str, str]]:
        countries = self.option("countries", ["us"])
        return [(str(country).lower(), str(app).removeprefix("id")) for app in self.targets("apps") for country in countries]

    def walk_keys(self) -> list[str]:
        return [f"{country}:{app}" for country, app in self.pairs()]

    def start_walks(self, cursors: dict[str, str]) -> Iterable[scrapy.Request]:
        for country, app in self.pairs():
            walk = self.new_walk(f"{country}:{app}", cursors)
            yield self.page(walk, country, app, 1)

    def page(self, walk: Walk, country: str, app: str, number: int) -> scrapy.Request:
        url = self.url(f"/{country}/rss/customerreviews/page={number}/id={app}/sortby=mostrecent/json")
        return self.request(url, walk, self.parse_reviews, country=country, app=app, number=number)

    def parse_reviews(self, response: Response, walk: Walk, country: str, app: str, number: int) -> Iterator[Any]:
        feed = self.json_body(response)["feed"]
        entries = feed.get("entry") or []
        if isinstance(entries, dict):
            entries = [entries]
        walk.pages += 1
        reviews = [entry for entry in entries if "im:rating" in entry]  # older feeds list the app itself too
        posts, reached = self.accept_page(walk, reviews, lambda entry: self.review_to_post(entry, country, app),
                                          response.url)
        yield from posts
        links = {label_attr.get("attributes", {}).get("rel"): label_attr.get("attributes", {}).get("href")
                 for label_attr in (feed.get("link") or []) if isinstance(label_attr, dict)}
        last = links.get("last") or ""
        last_page = int(last.split("page=")[1].split("/")[0]) if "page=" in last else APPLE_MAX_PAGES
        limit = min(APPLE_MAX_PAGES, last_page, self.source_config.max_pages)
        if entries and not reached and number < limit:
            yield self.page(walk, country, app, number + 1)

    def review_to_post(self, entry: dict[str, Any], country: str, app: str) -> Post:
        int(label(entry["im:rating"]))  # a review without a numeric rating is malformed
        title = label(entry.get("title"), "") or None
        link = (entry.get("link") or {}).get("attributes", {}).get("href") if isinstance(entry.get("link"), dict) else None
        return self.make_post(
            label(entry["id"]), parse_iso(label(entry["updated"])), label(entry["content"], ""),
            title=title, url=link or f"https://apps.apple.com/{country}/app/id{app}",
            language=None, author=Author(name=label(entry["author"]["name"])),
            engagement=Engagement(likes=int(label(entry.get("im:voteSum"), 0) or 0)),
            thread=f"app:{app}", raw=entry)
