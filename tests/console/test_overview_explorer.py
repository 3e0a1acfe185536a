"""The overview (the console's home) and the posts explorer, over HTTP as a person uses them."""

from __future__ import annotations

import csv
from markupsafe import escape
import io
import json
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from crisiswatch.app.console.app import create_app
from crisiswatch.core.model import CrawlHealth, utc_now
from tests.alerts.helpers import ONSET
from tests.console.conftest import AT, make_crisis
from tests.console.test_console import csrf_of, login

WHEN = quote(AT.isoformat())


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    return make_crisis(world, tmp_path, webhook, "http://testserver")


@pytest.fixture
def client(crisis):
    with TestClient(create_app(crisis.config, crisis.store), follow_redirects=False) as c:
        yield c


def test_the_home_page_is_the_overview_and_needs_a_login(client):
    assert client.get("/").status_code == 303
    login(client, "vic")
    page = client.get("/")
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
    assert "<script" not in page.text


def test_overview_shows_each_watchlists_level_sparkline_incidents_and_health(client, crisis):
    now = AT
    crisis.store.record_crawl(CrawlHealth(source="weibo", started_at=now - timedelta(minutes=5), finished_at=now,
                                          status="failed", items=0, message="HTTP 503 from the API"))
    login(client, "vic")
    html = client.get(f"/?at={WHEN}").text
    acme = html.split("<strong>acme</strong>", 1)[0].rsplit("<li", 1)[1]
    level = crisis.store.get_incident(crisis.incident.id).level.value
    assert f'badge level-{level}">{level}<' in acme  # acme is at the level of its open incident
    zenith = html.split("<strong>zenith</strong>", 1)[0].rsplit("<li", 1)[1]
    assert ">calm<" in zenith  # no incident on zenith
    spark = re.search(r'<svg class="spark"[^>]*aria-label="acme: (\d+) posts in 24 h', html)
    assert spark and int(spark.group(1)) > 100  # the crisis volume is in acme's sparkline
    assert html.count("<polyline") == 2
    points = re.search(r'aria-label="acme[^"]*".*?<polyline points="([^"]+)"', html, re.S).group(1).split()
    assert len(points) == 24  # hourly over 24 h
    assert str(escape(crisis.incident.title)) in html and f"/incidents/{crisis.incident.id}" in html
    assert "baseline learned" in html  # a week of acme's history
    assert "failing" in html and "HTTP 503 from the API" in html and "need attention" in html
    assert "All notifications delivered" in html  # the webhook received everything


def test_overview_counts_undelivered_notifications_and_learning_watchlists(client, crisis):
    incident = crisis.store.get_incident(crisis.incident.id)
    for record in incident.notifications:
        record.status = "failed"
    crisis.store.save_incident(incident)
    login(client, "vic")
    html = client.get(f"/?at={WHEN}").text
    n = len(incident.notifications)
    assert f"{n} undelivered notification" in html and f"{n} failed" in html
    early = quote((ONSET - timedelta(days=6, hours=20)).isoformat())  # a day into the world's history
    assert "learning:" in client.get(f"/?at={early}").text


def test_explorer_searches_with_the_query_language_filters_and_histogram(client, crisis):
    login(client, "vic")
    page = client.get("/explore", params={"q": "recall OR 召回", "watchlist": "acme", "sentiment": "negative"})
    assert page.status_code == 200
    total = int(re.search(r'<strong class="total">([\d,]+)</strong>', page.text).group(1).replace(",", ""))
    from crisiswatch.core.store.base import PostFilter
    expected = crisis.store.count_posts(PostFilter(text="recall OR 召回", watchlists=("acme",), sentiments=("negative",)))
    assert total == expected > 0
    assert '<svg class="histogram"' in page.text and page.text.count("<rect") >= 2
    assert page.text.count('<li id="p-') == min(50, total)
    assert "sentiment: negative" in page.text  # enrichment labels on each result
    assert "<script" not in page.text
    # a source filter that matches nothing shows nothing, not everything
    assert "No posts match" in client.get("/explore", params={"q": "recall", "source": "nowhere"}).text


def test_a_query_that_cannot_be_read_shows_where_not_a_500(client):
    login(client, "vic")
    page = client.get("/explore", params={"q": 'acme AND ("recall'})
    assert page.status_code == 400
    assert "position" in page.text and "Cannot read the query" in page.text
    assert client.get("/explore", params={"since": "yesterday-ish"}).status_code == 400
    assert client.get("/explore", params={"page": "x"}).status_code == 200


def test_results_are_paged(client, crisis):
    login(client, "vic")
    first = client.get("/explore", params={"watchlist": "zenith"}).text
    second = client.get("/explore", params={"watchlist": "zenith", "page": "2"}).text
    ids = lambda html: re.findall(r'name="post_id" value="([^"]+)"', html)  # noqa: E731
    assert 'older →' in first and '← newer' in second
    assert ids(first) == [] and ids(second) == []  # a viewer gets no correction forms
    times = lambda html: re.findall(r"<small>(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", html)  # noqa: E731
    assert times(first)[-1] >= times(second)[0] and len(times(second)) == 50


def test_export_of_the_current_query_as_csv_and_jsonl(client, crisis):
    login(client, "vic")
    params = {"q": "recall", "watchlist": "acme"}
    from crisiswatch.core.store.base import PostFilter
    n = crisis.store.count_posts(PostFilter(text="recall", watchlists=("acme",)))
    response = client.get("/explore/export.csv", params=params)
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == n and all("recall" in (r["text"] + r["title"]).lower() for r in rows)
    lines = client.get("/explore/export.jsonl", params=params).text.splitlines()
    assert len(lines) == n and "enrichment" in json.loads(lines[0])
    assert client.get("/explore/export.jsonl", params={"q": "(oops"}).status_code == 400


def test_a_responder_corrects_labels_and_they_become_team_labels(client, crisis):
    login(client, "mei")
    page = client.get("/explore", params={"watchlist": "acme", "q": "recall"}).text
    post_id = re.search(r'name="post_id" value="([^"]+)"', page).group(1)
    token = csrf_of(page)
    sent = client.post("/explore/label", data={"csrf": token, "post_id": post_id, "task": "sentiment",
                                               "label": "positive", "back": "/explore?watchlist=acme&q=recall"})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/explore?watchlist=acme")
    client.post("/explore/label", data={"csrf": token, "post_id": post_id, "task": "emotion", "label": "fear"})
    labels = {(lb.post_id, lb.task): lb for lb in crisis.store.get_labels()}
    assert labels[(post_id, "sentiment")].label == "positive" and labels[(post_id, "sentiment")].source == "console"
    assert labels[(post_id, "emotion")].label == "fear"
    shown = client.get(sent.headers["location"]).text
    assert "set to positive by mei" in shown and "sentiment: positive ✓" in shown
    # a label outside the label set, an unknown post, no CSRF token: nothing stored
    assert client.post("/explore/label", data={"csrf": token, "post_id": post_id, "task": "sentiment",
                                               "label": "furious"}).status_code == 400
    assert client.post("/explore/label", data={"csrf": token, "post_id": "weibo:nope", "task": "sentiment",
                                               "label": "neutral"}).status_code == 404
    refused = client.post("/explore/label", data={"post_id": post_id, "task": "sentiment", "label": "neutral"})
    assert refused.status_code == 403 and "Form expired" in refused.text
    assert {(lb.post_id, lb.task): lb.label for lb in crisis.store.get_labels()}[(post_id, "sentiment")] == "positive"


def test_a_viewer_cannot_correct_labels(client, crisis):
    login(client, "vic")
    page = client.get("/explore", params={"q": "recall"}).text
    token = csrf_of(page)
    post = crisis.store.search(__import__("crisiswatch.core.store.base", fromlist=["PostFilter"]).PostFilter(), limit=1)[0]
    response = client.post("/explore/label", data={"csrf": token, "post_id": post.id, "task": "sentiment", "label": "neutral"})
    assert response.status_code == 403 and crisis.store.get_labels() == []


def test_a_post_with_script_renders_inert_in_the_explorer(client, crisis):
    from crisiswatch.core.model import Author, Post
    crisis.store.upsert_posts([Post(id="news:x1", source="news", created_at=utc_now(),
                                    text="<script>alert(1)</script> acme", url="javascript:alert(1)",
                                    author=Author(handle="evil"), watchlists=["acme"])])
    login(client, "vic")
    html = client.get("/explore", params={"q": "alert(1)"}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'href="javascript:' not in html


def test_the_platform_filter_keeps_the_posts_of_that_platforms_sources(client, crisis):
    login(client, "vic")
    sources = lambda html: set(re.findall(r"<small>[\d: -]+UTC · (\w+) ·", html))  # noqa: E731
    rss = client.get("/explore", params={"platform": "rss"}).text
    assert sources(rss) == {"news"}  # the source named news is the rss platform's
    from crisiswatch.core.store.base import PostFilter
    total = int(re.search(r'<strong class="total">([\d,]+)</strong>', rss).group(1).replace(",", ""))
    assert total == crisis.store.count_posts(PostFilter(sources=("news",))) > 0
    both = client.get("/explore", params={"platform": "weibo", "source": "weibo"}).text
    assert sources(both) == {"weibo"}
    assert "No posts match" in client.get("/explore", params={"platform": "weibo", "source": "news"}).text
    assert "No posts match" in client.get("/explore", params={"platform": "myspace"}).text
    rows = list(csv.DictReader(io.StringIO(client.get("/explore/export.csv", params={"platform": "rss"}).text)))
    assert len(rows) == total and {r["source"] for r in rows} == {"news"}
