"""Weibo as m.weibo.cn really answers: display dates, unreadable pages, the visitor passport."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawlers.base_spider import Walk
from crawlers.platforms.weibo import passport
from crawlers.platforms.weibo.dates import WeiboDateError, parse_weibo_time, response_time
from crawlers.platforms.weibo.spider import WeiboSpider
from crawlers.run import crawl_source
from crisiswatch.core.store.sqlite import SqliteStore
from tests.crawlers.recorded_server import RecordedServer, Route
from tests.crawlers.helpers import fixture, recorded, run, spider_for, write_config

SERVED_AT = "Mon, 02 Mar 2026 16:05:00 GMT"
"""00:05 on 3 March in China while it is still 2 March in UTC: the day boundary differs."""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


NOW = utc(2026, 3, 2, 16, 5)
DISPLAY_DATES = {  # created_at as the fixture writes it -> the UTC time it means at SERVED_AT
    "5012000000000009": utc(2026, 3, 2, 16, 5),  # 刚刚
    "5012000000000008": utc(2026, 3, 2, 16, 0),  # 5分钟前
    "5012000000000007": utc(2026, 3, 2, 13, 5),  # 3小时前
    "5012000000000006": utc(2026, 3, 2, 16, 1),  # 今天 00:01 (3 March in China)
    "5012000000000005": utc(2026, 3, 2, 15, 50),  # 昨天 23:50 (2 March in China)
    "5012000000000004": utc(2026, 2, 28, 16, 0),  # 03-01, this year, midnight in China
    "5012000000000003": utc(2025, 12, 30, 16, 0),  # 2025-12-31
    "5012000000000002": utc(2026, 3, 2, 10, 20, 11),  # the API form
}


@pytest.mark.parametrize("text, expected", [
    ("Tue Jun 14 10:00:00 +0800 2022", utc(2022, 6, 14, 2, 0)),
    ("刚刚", NOW),
    ("30秒前", utc(2026, 3, 2, 16, 4, 30)),
    ("5分钟前", utc(2026, 3, 2, 16, 0)),
    ("3小时前", utc(2026, 3, 2, 13, 5)),
    ("今天 10:32", utc(2026, 3, 3, 2, 32)),
    ("昨天 10:32", utc(2026, 3, 2, 2, 32)),
    ("06-14", utc(2025, 6, 13, 16, 0)),  # June is still to come in March: last year's 14 June
    ("03-02 09:15", utc(2026, 3, 2, 1, 15)),
    ("2021-06-14", utc(2021, 6, 13, 16, 0)),
    ("2026-03-02T10:00:00Z", utc(2026, 3, 2, 10, 0)),
])
def test_every_display_form_is_read_in_china_time(text, expected):
    assert parse_weibo_time(text, NOW) == expected


def test_this_years_month_day_and_new_years_eve_seen_in_january():
    summer = utc(2022, 7, 1, 4, 0)
    assert parse_weibo_time("06-14", summer) == utc(2022, 6, 13, 16, 0)
    january = utc(2027, 1, 1, 1, 0)  # 09:00 on 1 January in China
    assert parse_weibo_time("12-31", january) == utc(2026, 12, 30, 16, 0)
    assert parse_weibo_time("昨天 23:59", january) == utc(2026, 12, 31, 15, 59)


def test_the_machines_time_zone_changes_nothing(monkeypatch):
    before = [parse_weibo_time(t, NOW) for t in ("今天 00:01", "昨天 23:50", "03-01", "2025-12-31")]
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        after = [parse_weibo_time(t, NOW) for t in ("今天 00:01", "昨天 23:50", "03-01", "2025-12-31")]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert after == before


@pytest.mark.parametrize("text", ["三天以前", "", None, 1772445600, "02-30", "发布于 2小时以前"])
def test_an_unknown_form_is_a_clear_error(text):
    with pytest.raises(WeiboDateError, match="created_at"):
        parse_weibo_time(text, NOW)


def test_response_time_comes_from_the_date_header():
    assert response_time(SERVED_AT.encode()) == NOW
    assert abs((response_time(None) - datetime.now(timezone.utc)).total_seconds()) < 5
    assert abs((response_time(b"yesterday-ish") - datetime.now(timezone.utc)).total_seconds()) < 5


def test_search_page_with_display_dates_keeps_every_post(tmp_path):
    spider = spider_for(WeiboSpider, tmp_path, targets={"keywords": ["泽飞可乐"]})
    response = recorded("https://example.test/api/container/getIndex?containerid=100103type%3D61",
                        "weibo_search_display_dates.json", headers={"Date": SERVED_AT})
    posts, requests = run(spider.parse_index, response, container="100103type=61&q=泽飞可乐", page=1)
    assert {p.id.split(":")[1]: p.created_at for p in posts} == DISPLAY_DATES
    assert len(spider.errors) == 1 and "三天以前" in spider.errors[0] and "5012000000000001" in spider.errors[0]
    assert any("page=2" in r.url for r in requests)  # one bad post does not end the walk
    repost = next(p for p in posts if p.id.endswith("5012000000000005"))
    assert repost.parent_id == "t-weibo:5011999999999999"  # the deleted original is still its parent


def test_a_page_where_no_date_can_be_read_ends_the_walk(tmp_path):
    spider = spider_for(WeiboSpider, tmp_path, targets={"keywords": ["泽飞可乐"]})
    response = recorded("https://example.test/api/container/getIndex?containerid=100103type%3D61",
                        "weibo_search_unreadable_dates.json", headers={"Date": SERVED_AT})
    walk = Walk(key="search:泽飞可乐", since=None)
    posts, requests = run(spider.parse_index, response, walk, container="100103type=61&q=泽飞可乐", page=1)
    assert posts == [] and requests == []  # "page": 2 is offered, but paging on would fail the same way
    assert walk.failed  # the cursor stays where it was
    assert any("none of the page's 3 posts could be read" in e for e in spider.errors)
    assert any("1772445600" in e for e in spider.errors) and any("发布于 2小时以前" in e for e in spider.errors)


def test_user_timeline_pinned_statement_from_an_earlier_year(tmp_path):
    spider = spider_for(WeiboSpider, tmp_path, targets={"users": ["1900000001"]})
    walk = Walk(key="user:1900000001", since="2026-03-01T00:00:00.000000Z")
    response = recorded("https://example.test/api/container/getIndex?containerid=1076031900000001",
                        "weibo_user_display_dates.json", headers={"Date": SERVED_AT})
    posts, requests = run(spider.parse_index, response, walk, container="1076031900000001", page=1)
    assert [(p.created_at, p.engagement.shares) for p in posts] == [
        (utc(2026, 3, 2, 15, 49), 20000), (utc(2026, 3, 2, 10, 0), 450)]
    assert posts[0].author.followers == 3561000 and posts[0].author.verified
    assert "since_id=5012000000000099" in requests[0].url  # the old pinned post does not stop paging


def test_passport_answers_are_read_and_refusals_named():
    ticket = passport.read_genvisitor(200, fixture("weibo_genvisitor.js").read_text())
    assert ticket.new_tid and ticket.confidence == 95 and ticket.tid.startswith("Q4dlxK7W")
    url = passport.incarnate_url("https://passport.weibo.com", ticket)
    assert "a=incarnate" in url and "w=2" in url and "c=095" in url and "cb=cross_domain" in url
    cookie = passport.read_incarnate(200, fixture("weibo_incarnate.js").read_text())
    assert cookie.startswith("SUB=_2AkMRvisitor") and "; SUBP=0033WrSXq" in cookie
    with pytest.raises(passport.PassportError, match="retcode=20003001 tid is invalid"):
        passport.read_incarnate(200, fixture("weibo_incarnate_refused.js").read_text())
    with pytest.raises(passport.PassportError, match="HTTP 403"):
        passport.read_genvisitor(403, "<html>Forbidden</html>")


# ---- a real crawl against the recorded responses --------------------------------------------
def weibo_routes(incarnate: str = "weibo_incarnate.js") -> list:
    def index(seen):
        if "SUB=_2AkMRvisitor" not in seen.headers.get("cookie", ""):
            return Route('{"ok":-100,"url":"https://passport.weibo.cn/signin/welcome"}')
        if "page=2" in seen.path:
            return Route('{"ok":0,"msg":"这里还没有内容","data":{"cards":[]}}')
        return Route.file("weibo_search_display_dates.json")

    js = "application/javascript; charset=utf-8"
    return [("POST", r"^/visitor/genvisitor$", Route.file("weibo_genvisitor.js", content_type=js)),
            ("GET", r"^/visitor/visitor\?", Route.file(incarnate, content_type=js)),
            ("GET", r"^/api/container/getIndex", index)]


def crawl(tmp_path: Path, server: RecordedServer) -> tuple:
    source = {"name": "weibo", "platform": "weibo", "base_url": server.base_url, "keep_all": True,
              "targets": {"keywords": ["泽飞可乐"]}, "download_delay_s": 0, "options": {"retries": 0}}
    db = tmp_path / "weibo.db"
    config = write_config(tmp_path / "weibo.yaml", [source], db)
    health = crawl_source("weibo", str(config))
    with SqliteStore(db) as store:
        store.setup()
        return health, {p.id.split(":")[1]: p for p in store.iter_posts()}


def test_a_crawl_without_cookies_becomes_a_visitor_and_stores_every_readable_post(tmp_path):
    with RecordedServer(weibo_routes(), date=SERVED_AT) as server:
        health, stored = crawl(tmp_path, server)
        genvisitor, incarnate = server.to("/visitor/genvisitor")[0], server.to("/visitor/visitor")[0]
    assert genvisitor.method == "POST" and b"cb=gen_callback" in genvisitor.body
    assert "t=Q4dlxK7Wm2bHcN9sPzT1fYvR0a8jUe3Lw6iGoXk5B%2BM%3D" in incarnate.path
    assert {k: p.created_at for k, p in stored.items()} == DISPLAY_DATES
    assert stored["5012000000000007"].engagement.likes == 24000 and stored["5012000000000007"].author.verified
    assert stored["5012000000000008"].text == "泽飞可乐客服说24小时内回电 & 给补偿，等着看吧 😤"
    assert stored["5012000000000009"].text == "#泽飞可乐#刚开的一罐泽飞可乐有股铁锈味"
    assert health.items == len(DISPLAY_DATES) and health.errors == 1 and health.status == "partial"
    assert "三天以前" in health.message


def test_a_refused_passport_is_one_clear_message_in_crawl_health(tmp_path):
    with RecordedServer(weibo_routes("weibo_incarnate_refused.js"), date=SERVED_AT) as server:
        health, stored = crawl(tmp_path, server)
    assert stored == {}
    assert "Weibo visitor passport failed (incarnate: retcode=20003001 tid is invalid)" in health.message
    assert "credentials.cookie" in health.message and health.status != "ok"
    assert "ok=-100" in health.message


def test_configured_cookies_skip_the_passport(tmp_path, monkeypatch):
    monkeypatch.setenv("CRISISWATCH_WEIBO_COOKIE", "SUB=_2AkMRvisitorConfigured")
    with RecordedServer(weibo_routes(), date=SERVED_AT) as server:
        source = {"name": "weibo", "platform": "weibo", "base_url": server.base_url, "keep_all": True,
                  "targets": {"keywords": ["泽飞可乐"]}, "credentials": {"cookie": "${CRISISWATCH_WEIBO_COOKIE}"}}
        config = write_config(tmp_path / "weibo.yaml", [source], tmp_path / "w.db")
        health = crawl_source("weibo", str(config))
        assert server.to("/visitor/") == []
    assert health.items == len(DISPLAY_DATES)

