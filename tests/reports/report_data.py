"""A small SQLite store filled by hand: posts whose numbers a reader can check, and incidents.

(A module of its own rather than conftest.py: test directories share one module namespace.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crisiswatch.core.config import Config
from crisiswatch.core.model import (Author, Engagement, Enrichment, Incident, IncidentEvent, Level, NotificationRecord,
                               Post)
from crisiswatch.core.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
ONSET = T0 + timedelta(hours=30)
RESPONSE = ONSET + timedelta(hours=4)
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def config() -> Config:
    return Config.model_validate({
        "watchlists": [{"name": "acme", "terms": ["Acme", "艾克美"]}, {"name": "rival", "terms": ["Rival"]}],
        "rules": [{"name": "volume_spike", "detector": "volume_spike"}],
    })


def _post(n: int, at: datetime, text: str, watchlists: list[str], *, followers: int = 100, likes: int = 1,
          handle: str | None = None, verified: bool = False, url: str | None = None) -> Post:
    return Post(id=f"mastodon:{n}", source="mastodon" if n % 3 else "weibo", text=text, created_at=at,
                watchlists=watchlists, url=url or f"https://social.example/@u{n}/{n}",
                author=Author(handle=handle or f"user{n}", followers=followers, verified=verified),
                engagement=Engagement(likes=likes, shares=0, replies=0))


def fill(store: SqliteStore) -> dict:
    """Yesterday 24 calm posts about acme (20 positive, 4 negative) and 6 about rival; then a
    crisis: 40 negative acme posts in 4 hours, the brand's response, then 10 posts (4 negative)."""
    posts, sentiment = [], {}
    n = 0

    def add(at, text, wl, label, **kw):
        nonlocal n
        n += 1
        post = _post(n, at, text, wl, **kw)
        posts.append(post)
        sentiment[post.id] = label
        return post

    for i in range(24):
        add(T0 + timedelta(hours=i), f"Acme coffee is lovely {i}", ["acme"], "negative" if i % 6 == 0 else "positive")
    for i in range(6):
        add(T0 + timedelta(hours=i * 4, minutes=5), f"Rival launches a new cup {i}", ["rival"], "neutral")
    first = add(ONSET, "Acme coffee made my whole family sick " + EVIL, ["acme"], "negative",
                handle="first<b>poster</b>",
                url="javascript:alert(document.cookie)")
    for i in range(39):
        add(ONSET + timedelta(minutes=6 * (i + 1)), f"Acme poisoning again {i}", ["acme"], "negative",
            likes=5000 if i == 7 else 3)
    response = add(RESPONSE, "Acme statement: we are recalling batch 12 and refunding everyone.", ["acme"], "neutral",
                   handle="acme_official", verified=True, followers=250_000)
    for i in range(10):
        add(RESPONSE + timedelta(minutes=10 * (i + 1)), f"Acme recall {i}", ["acme"],
            "negative" if i < 4 else "positive")
    store.upsert_posts(posts)
    store.update_enrichments(Enrichment(post_id=pid, language="en", sentiment=label,
                                        emotion="anger" if label == "negative" else "joy",
                                        category="product_quality" if label == "negative" else "other")
                             for pid, label in sentiment.items())
    resolved = Incident(
        id="inc00001", fingerprint="volume_spike|acme|", rule="volume_spike", watchlist="acme",
        title="Acme volume " + EVIL, level=Level.orange, peak_level=Level.red, state="resolved", score=91,
        opened_at=ONSET + timedelta(minutes=30), updated_at=ONSET + timedelta(hours=9),
        acknowledged_at=ONSET + timedelta(minutes=78), acknowledged_by="Mina", assignee="Mina",
        resolved_at=ONSET + timedelta(hours=9),
        evidence={"observed": 12, "baseline": 1.5, "note": EVIL},
        events=[IncidentEvent(at=ONSET + timedelta(minutes=30), kind="fired", message="12 posts vs 1.5 normal"),
                IncidentEvent(at=ONSET + timedelta(minutes=75), kind="level_changed",
                              data={"old": "orange", "new": "red"}),
                IncidentEvent(at=ONSET + timedelta(minutes=78), kind="acknowledged", actor="Mina"),
                IncidentEvent(at=ONSET + timedelta(hours=9), kind="resolved", actor="Mina", message=EVIL)],
        notifications=[NotificationRecord(idempotency_key="inc00001:0:ops-mail", channel="ops-mail", event_kind="fired",
                                          status="sent", attempts=2, created_at=ONSET + timedelta(minutes=30),
                                          sent_at=ONSET + timedelta(minutes=31))])
    still_open = Incident(
        id="inc00002", fingerprint="volume_spike|rival|", rule="volume_spike", watchlist="rival", title="Rival chatter",
        level=Level.yellow, peak_level=Level.yellow, opened_at=ONSET + timedelta(hours=2),
        updated_at=ONSET + timedelta(hours=2))
    store.save_incident(resolved)
    store.save_incident(still_open)
    return {"posts": posts, "first": first, "response": response, "sentiment": sentiment}
