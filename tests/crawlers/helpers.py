"""Shared test helpers: configs on disk, recorded responses, running a parser without a crawl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy
import yaml
from scrapy.http import HtmlResponse, TextResponse, XmlResponse

from crawlers.base_spider import Walk
from crisiswatch.core.model import Post
from scenarios.replay.synthetic import WATCHLISTS

PLATFORMS_DIR = Path(__file__).resolve().parents[2] / "crawlers" / "platforms"


def fixture(name: str) -> Path:
    """A recorded response, from the ``fixtures/`` folder of the platform it belongs to."""
    found = sorted(PLATFORMS_DIR.glob(f"*/fixtures/{name}"))
    if len(found) != 1:
        raise FileNotFoundError(f"{len(found)} recorded responses named {name} under {PLATFORMS_DIR}")
    return found[0]


def write_config(path: Path, sources: list[dict[str, Any]], db: Path, **extra: Any) -> Path:
    document = {"store": {"sqlite_path": str(db)}, "watchlists": WATCHLISTS, "sources": sources, **extra}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def spider_for(spider_cls: type, tmp_path: Path, **source: Any) -> Any:
    """A spider instance for calling its parsers directly (no crawl, no network)."""
    spec = {"name": f"t-{spider_cls.name}", "platform": spider_cls.name, "base_url": "https://example.test",
            "keep_raw": True, **source}
    config = write_config(tmp_path / f"{spider_cls.name}.yaml", [spec], tmp_path / "unused.db")
    return spider_cls(source=spec["name"], config=str(config))


def recorded(url: str, name: str, kind: type = TextResponse, headers: dict[str, str] | None = None) -> Any:
    body = fixture(name).read_bytes()
    return kind(url=url, body=body, headers=headers or {}, request=scrapy.Request(url), encoding="utf-8")


def run(handler: Any, response: Any, walk: Walk | None = None, **context: Any) -> tuple[list[Post], list[scrapy.Request]]:
    outputs = list(handler(response, walk or Walk(key="k", since=None), **context))
    posts = [o for o in outputs if isinstance(o, Post)]
    requests = [o for o in outputs if isinstance(o, scrapy.Request)]
    return posts, requests


__all__ = ["fixture", "HtmlResponse", "TextResponse", "XmlResponse", "recorded", "run", "spider_for", "write_config"]
