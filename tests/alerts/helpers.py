"""Test worlds for the alert engine: posts written into a real SqliteStore, and loopback
receivers (an HTTP webhook and an aiosmtpd SMTP server) that notifications really reach."""

from __future__ import annotations

import math
import random
import socket
from datetime import datetime, timedelta, timezone

from crisiswatch.core.config import Config, parse_config
from crisiswatch.core.model import Author, Engagement, Enrichment, Post
from scenarios.webhook import Received, WebhookReceiver  # noqa: F401 - the tests' receiver

START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
ONSET = START + timedelta(days=7, hours=10)
"""The crisis of the standard world: Monday of the second week, 10:00 UTC."""
SOURCES = ["weibo", "mastodon", "news"]


def daily_rate(t: datetime, peak: float) -> float:
    """Posts per 15 minutes: quiet at night (04:00), busiest in the afternoon (16:00)."""
    return peak * (0.55 + 0.45 * math.sin((t.hour + t.minute / 60 - 10) / 24 * 2 * math.pi))


def make_world(days: int = 8, seed: int = 7, crisis: bool = True) -> tuple[list[Post], list[Enrichment]]:
    """Background for 'acme' (busy) and 'zenith' (small), plus a crisis on acme at ONSET.

    The crisis has everything the detectors look for: 6x volume, mostly negative posts,
    crisis terms in Simplified and Traditional Chinese and English, a new topic (7), an
    author with 500k followers, on three sources.
    """
    rng = random.Random(seed)
    posts: list[Post] = []
    enrichments: list[Enrichment] = []
    t = START
    n = 0
    while t < START + timedelta(days=days):
        for watchlist, peak in (("acme", 6.0), ("zenith", 1.0)):
            in_crisis = crisis and watchlist == "acme" and ONSET <= t < ONSET + timedelta(hours=3)
            rate = daily_rate(t, peak) * (6 if in_crisis else 1)
            count = _poisson(rng, rate)
            for _ in range(count):
                n += 1
                source = SOURCES[n % 3]
                created = t + timedelta(seconds=rng.randint(0, 899))
                if in_crisis and rng.random() < 0.85:
                    text = rng.choice([f"{watchlist} milk recall, my kid got food poisoning",
                                       f"{watchlist} 牛奶 召回 中毒 太可怕", f"我要起訴 {watchlist} 公司 維權",
                                       f"boycott {watchlist} until they explain the recall"])
                    sentiment, topic = "negative", 7
                else:
                    text = rng.choice([f"{watchlist} new flavour is nice", f"bought {watchlist} at the store",
                                       f"{watchlist} 味道不错", f"anyone tried the {watchlist} app?"])
                    sentiment = "negative" if rng.random() < 0.15 else rng.choice(["neutral", "positive"])
                    topic = rng.choice([1, 2, 3])
                posts.append(Post(id=f"{source}:{n}", source=source, text=text, created_at=created,
                                  collected_at=created + timedelta(minutes=3), url=f"https://{source}.example/p/{n}",
                                  author=Author(handle=f"user{n % 500}", followers=rng.randint(10, 3000)),
                                  engagement=Engagement(likes=rng.randint(0, 20), shares=rng.randint(0, 5)),
                                  watchlists=[watchlist]))
                enrichments.append(Enrichment(post_id=posts[-1].id, sentiment=sentiment, topic_id=topic,
                                              topic_keywords=["recall", "召回", "poisoning"] if topic == 7 else
                                              ["flavour", "store"]))
        t += timedelta(minutes=15)
    if crisis:
        star = Post(id="weibo:influencer-1", source="weibo", text="acme 召回 事件 I will never buy acme again",
                    created_at=ONSET + timedelta(minutes=12), collected_at=ONSET + timedelta(minutes=20),
                    url="https://weibo.example/p/influencer-1",
                    author=Author(handle="famous_critic", followers=500_000),
                    engagement=Engagement(likes=9000, shares=3000, replies=800), watchlists=["acme"])
        posts.append(star)
        enrichments.append(Enrichment(post_id=star.id, sentiment="negative", topic_id=7,
                                      topic_keywords=["recall", "召回", "poisoning"]))
    return posts, enrichments


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def world_config(data_dir: str, channels: str = "", routes: str = "", extra: str = "") -> Config:
    """The standard rules over the standard world, optionally with channels and routes (YAML)."""
    text = f"""
data_dir: {data_dir}
watchlists:
  - {{name: acme, terms: [acme]}}
  - {{name: zenith, terms: [zenith]}}
crisis_lexicon: [recall, poisoning, boycott, 召回, 中毒, 起诉, 维权]
sources:
  - {{name: weibo, platform: weibo, schedule: "*/15 * * * *", expected_interval: 2h}}
  - {{name: mastodon, platform: mastodon, schedule: 15m, expected_interval: 2h}}
  - {{name: news, platform: rss, schedule: 15m, expected_interval: 2h}}
rules:
  - {{name: volume, detector: volume_spike, bucket: 15m, min_count: 8}}
  - {{name: negative, detector: negative_share, bucket: 15m, window: 1h, min_count: 10}}
  - {{name: crisis-terms, detector: keyword_burst, bucket: 15m, window: 1h, min_count: 5}}
  - {{name: influencer, detector: influencer, bucket: 15m, window: 1h}}
  - {{name: new-topic, detector: emerging_topic, bucket: 15m, window: 1h, min_count: 8}}
  - {{name: spread, detector: cross_platform, bucket: 15m, window: 1h, min_count: 5}}
  - {{name: silence, detector: source_silence, bucket: 15m}}
{channels}
{routes}
alerting:
  outbox_dir: {data_dir}/outbox
  auto_resolve_after_calm: 3
  renotify_every: 2h
  retry_backoff: 30s
{extra}
"""
    return parse_config(text, "test-config.yaml")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 collecting every message it is handed."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
                import email

                receiver.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=alerts@example.com&to=crisis-team@example.com&mode=insecure"

    def stop(self) -> None:
        self.controller.stop()


def two_rule_config_file(tmp_path, store_path, channels: str = "", routes: str = "", extra: str = "",
                         alerting: str = "") -> str:  # noqa: ANN001
    """A config file with two rules (volume, crisis terms) over the standard world's store, for
    tests that run the real CLI in other processes; ``alerting`` adds keys to that section."""
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(f"""
data_dir: {tmp_path}
store: {{sqlite_path: {store_path}}}
watchlists: [{{name: acme, terms: [acme]}}, {{name: zenith, terms: [zenith]}}]
crisis_lexicon: [recall, 召回, poisoning]
rules:
  - {{name: volume, detector: volume_spike, min_count: 8}}
  - {{name: crisis-terms, detector: keyword_burst, window: 1h, min_count: 5}}
{channels}
{routes}
{extra}
alerting: {{outbox_dir: {tmp_path}/outbox, charts: false{alerting}}}
""", encoding="utf-8")
    return str(path)
