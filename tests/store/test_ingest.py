"""JSONL import and export: bad lines are reported by number and skipped, good ones kept,
other tools' records understood, and an export comes back unchanged."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crisiswatch.core.config import parse_config
from crisiswatch.core.store.export import CSV_COLUMNS, export_posts
from crisiswatch.core.store.ingest import ingest_jsonl, parse_time, read_jsonl
from crisiswatch.core.model import Enrichment
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore
from tests.store.contract import T0, enrichment, post

GOOD = '{"id": "weibo:1", "source": "weibo", "text": "奶粉召回", "created_at": "2026-03-01T08:00:00Z"}'


def write_lines(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


@pytest.fixture
def store(tmp_path: Path):
    with SqliteStore(tmp_path / "cw.db") as store:
        yield store


def test_bad_lines_are_reported_with_numbers_and_good_ones_kept(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "in.jsonl",
        GOOD,
        '{"id": "weibo:2", "source": "weibo", "text": "x", "created_at": "yesterday-ish"}',
        "not json at all",
        "",
        '["a", "list"]',
        b'{"id": "weibo:3", "text": "\xff\xfe"}',
        '{"id": "weibo:4", "source": "weibo", "text": "fine", "created_at": "2026-03-01T09:00:00+08:00"}',
        '{"id": "nocolon", "source": "weibo", "text": "x", "created_at": "2026-03-01T08:00:00Z", "url": 5}',
        '{"text": "no id at all", "created_at": 1772352000}',
    )
    report = read_jsonl(path)
    assert [p.id for p in report.posts] == ["weibo:1", "weibo:4"]
    assert report.posts[1].created_at == datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {2, 3, 5, 6, 8, 9}
    assert "created_at" in reasons[2]
    assert "invalid JSON" in reasons[3]
    assert "JSON object" in reasons[5]
    assert "UTF-8" in reasons[6]
    assert "id" in reasons[8] and "url" in reasons[8]
    assert "no post id" in reasons[9]
    assert report.lines == 8  # the blank line is not counted


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n" + GOOD.replace("weibo:1", "weibo:2").encode() + b"\r\n")
    report = read_jsonl(path)
    assert [p.id for p in report.posts] == ["weibo:1", "weibo:2"] and report.errors == []


def test_loose_records_from_other_tools(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "loose.jsonl",
        json.dumps({"id_str": "99", "platform": "twitter", "full_text": "Acme recall", "lang": "en",
                    "created_at": "Wed Oct 10 20:19:24 +0000 2018", "favorite_count": 3, "retweet_count": 2,
                    "user": {"screen_name": "bob", "followers_count": 1200, "verified": True}}),
        json.dumps({"id": "t3_abc", "title": "Is Acme safe?", "selftext": "asking", "created_utc": 1772352000.0,
                    "score": 41, "num_comments": 7, "author": "carol", "permalink": "/r/x/abc"}),
        json.dumps({"mid": "5001", "content": "微博内容", "timestamp": 1772352000123, "attitudes_count": "12",
                    "followers": 50, "watchlists": "acme; lexicon", "comments": [{"text": "a"}, {"text": "b"}],
                    "reposts_count": "n/a"}),
    )
    report = read_jsonl(path, default_source="reddit")
    assert report.errors == []
    tweet, reddit, weibo = report.posts
    assert tweet.id == "twitter:99" and tweet.source == "twitter" and tweet.language == "en"
    assert tweet.created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=timezone.utc)
    assert (tweet.author.handle, tweet.author.followers, tweet.author.verified) == ("bob", 1200, True)
    assert (tweet.engagement.likes, tweet.engagement.shares) == (3, 2)
    assert tweet.raw["user"]["screen_name"] == "bob"  # the original record is kept
    assert reddit.id == "reddit:t3_abc" and reddit.title == "Is Acme safe?" and reddit.text == "asking"
    assert (reddit.engagement.likes, reddit.engagement.replies, reddit.author.handle) == (41, 7, "carol")
    assert reddit.created_at == datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert weibo.id == "reddit:5001" and weibo.created_at.microsecond == 123000
    assert weibo.engagement.likes == 12 and weibo.author.followers == 50 and weibo.watchlists == ["acme", "lexicon"]
    assert weibo.engagement.replies == 2 and weibo.engagement.shares is None  # unreadable counts are unknown


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-01T08:00:00Z", T0),
    ("2026-03-01 16:00:00+08:00", T0),
    ("Sun, 01 Mar 2026 08:00:00 +0000", T0),
    (1772352000, T0),
    (1772352000000, T0),
    ("1772352000", T0),
])
def test_parse_time_formats(value: object, expected: datetime) -> None:
    assert parse_time(value) == expected


def test_enrichment_in_a_line_is_restored_and_a_bad_one_keeps_the_post(tmp_path: Path, store: SqliteStore) -> None:
    good = json.loads(GOOD) | {"enrichment": {"sentiment": "negative", "emotion": "anger", "language": "zh"}}
    bad = json.loads(GOOD.replace("weibo:1", "weibo:2")) | {"enrichment": {"sentiment": "furious"}}
    path = write_lines(tmp_path / "e.jsonl", json.dumps(good, ensure_ascii=False), json.dumps(bad))
    summary = ingest_jsonl(store, path)
    assert summary.imported == 2 and summary.enrichments == 1 and summary.skipped == 0
    assert [(e.line, e.skipped) for e in summary.errors] == [(2, False)]
    assert "enrichment ignored" in summary.errors[0].reason
    assert store.get_enrichments(["weibo:1"])["weibo:1"].emotion == "anger"
    assert store.count_posts() == 2


def test_ingest_is_idempotent_and_matches_watchlists(tmp_path: Path, store: SqliteStore) -> None:
    config = parse_config("watchlists:\n  - name: acme\n    terms: [Acme, 艾克美]\n    exclude: [acme pie]\n")
    lines = [
        json.dumps({"id": "weibo:1", "source": "weibo", "text": "艾克美奶粉召回", "created_at": "2026-03-01T08:00:00Z"},
                   ensure_ascii=False),
        json.dumps({"id": "reddit:2", "source": "reddit", "text": "ACME recall", "created_at": "2026-03-01T08:00:00Z"}),
        json.dumps({"id": "reddit:3", "source": "reddit", "text": "acme pie recipe", "created_at": "2026-03-01T08:00:00Z"}),
        json.dumps({"id": "reddit:4", "source": "reddit", "text": "Acme", "created_at": "2026-03-01T08:00:00Z",
                    "watchlists": ["given"]}),
    ]
    path = write_lines(tmp_path / "w.jsonl", *lines)
    for _ in range(2):
        summary = ingest_jsonl(store, path, config=config, batch_size=2)
        assert summary.imported == 4 and summary.matched == 2 and summary.errors == []
    assert store.count_posts() == 4
    assert {p.id for p in store.search(PostFilter(watchlists=("acme",)))} == {"weibo:1", "reddit:2"}
    assert store.get_posts(["reddit:4"])[0].watchlists == ["given"]


def test_export_jsonl_round_trips_posts_and_enrichments(tmp_path: Path, store: SqliteStore) -> None:
    originals = [post("1", "奶粉召回，\"引号\"\n第二行", followers=5, likes=2, watchlists=["acme"], raw={"k": [1]}),
                 post("2", "plain", minutes=5, title="T")]
    store.upsert_posts(originals)
    store.update_enrichments([enrichment("weibo:1", "negative", emotion="anger", topic_id=4, language="zh")])
    buffer = io.StringIO()
    assert export_posts(store, buffer, "jsonl") == 2
    path = tmp_path / "export.jsonl"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    with SqliteStore(tmp_path / "other.db") as other:
        summary = ingest_jsonl(other, path)
        assert summary.imported == 2 and summary.enrichments == 1 and summary.errors == []
        assert other.get_posts(["weibo:1", "weibo:2"]) == originals
        assert other.get_enrichments(["weibo:1"]) == store.get_enrichments(["weibo:1"])


def test_export_csv_is_readable_by_a_spreadsheet_parser(store: SqliteStore) -> None:
    store.upsert_posts([post("1", 'comma, "quote"\nnewline 召回', followers=5, likes=2, watchlists=["a", "b"])])
    store.update_enrichments([Enrichment(post_id="weibo:1", sentiment="negative", sentiment_score=-0.5,
                                         language="zh", category="price")])
    buffer = io.StringIO()
    export_posts(store, buffer, "csv", PostFilter(sources=("weibo",)))
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert list(rows[0]) == CSV_COLUMNS
    assert rows[0]["text"] == 'comma, "quote"\nnewline 召回'
    assert (rows[0]["sentiment"], rows[0]["sentiment_score"], rows[0]["language"]) == ("negative", "-0.5", "zh")
    assert (rows[0]["followers"], rows[0]["likes"], rows[0]["shares"], rows[0]["watchlists"]) == ("5", "2", "", "a;b")


# ---- hostile and odd input (issue 12, items 7-9) -------------------------------------------
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def record(native: str, **fields: object) -> str:
    return json.dumps({"id": f"weibo:{native}", "source": "weibo", "text": f"post {native}",
                       "created_at": "2026-03-01T08:00:00Z", **fields}, ensure_ascii=False)


def test_a_huge_epoch_and_a_lone_surrogate_lose_nothing_else(tmp_path: Path, store: SqliteStore) -> None:
    path = write_lines(tmp_path / "bad.jsonl", record("1"),
                       json.dumps({"mid": "2", "content": "loose record", "timestamp": 1e20}),
                       record("3", created_at=1e20), '{"id": "weibo:4", "source": "weibo", '
                       '"text": "bad \\ud800 char", "created_at": "2026-03-01T08:00:00Z"}', record("5"))
    summary = ingest_jsonl(store, path, now=NOW)
    assert {p.id for p in store.iter_posts()} == {"weibo:1", "weibo:4", "weibo:5"}
    reasons = {e.line: e.reason for e in summary.errors}
    assert summary.skipped == 2 and {2, 3} <= set(reasons)
    assert "out of range" in reasons[2] and "created_at" in reasons[2] and "created_at" in reasons[3]
    assert "U+FFFD" in reasons[4]  # kept, with the broken character replaced, and said so
    assert store.get_posts(["weibo:4"])[0].text == "bad \ufffd char"


class _Refusing(SqliteStore):
    """A store that refuses one post the way a backend refuses a bad document."""

    def upsert_posts(self, posts):  # noqa: ANN001, ANN201
        posts = list(posts)
        if any(p.id == "weibo:poison" for p in posts):
            raise ValueError("the backend cannot store this document")
        return super().upsert_posts(posts)


def test_a_post_the_store_refuses_does_not_lose_its_batch(tmp_path: Path) -> None:
    lines = [record(str(k)) for k in range(40)]
    lines[17] = record("poison")
    path = write_lines(tmp_path / "batch.jsonl", *lines)
    with _Refusing(tmp_path / "r.db") as store:
        summary = ingest_jsonl(store, path, now=NOW, batch_size=1000)
        assert store.count_posts() == 39
    refused = [e for e in summary.errors if e.kind == "refused"]
    assert [(e.line, e.skipped) for e in refused] == [(18, True)]
    assert "weibo:poison" in refused[0].reason and "cannot store" in refused[0].reason


def test_a_native_id_with_a_source_is_accepted(tmp_path: Path, store: SqliteStore) -> None:
    path = write_lines(
        tmp_path / "plain.jsonl",
        json.dumps({"id": "1", "source": "twitter", "text": "plain", "created_at": "2026-03-01T08:00:00Z"}),
        json.dumps({"id": 2, "text": "native id, --source", "created_at": "2026-03-01T08:00:00Z"}),
        json.dumps({"id": "3", "source": "twitter", "text": "x", "created_at": "2026-03-01T08:00:00Z",
                    "engagement": {"likes": 4}}),
    )
    summary = ingest_jsonl(store, path, default_source="twitter", now=NOW)
    assert summary.errors == []
    assert {p.id for p in store.iter_posts()} == {"twitter:1", "twitter:2", "twitter:3"}
    assert store.get_posts(["twitter:3"])[0].engagement.likes == 4


@pytest.mark.parametrize(("line", "advice"), [
    ('{"source": "weibo", "text": "x", "created_at": "2026-03-01T08:00:00Z"}', 'add "id"'),
    ('{"id": "weibo:1", "text": "x"}', 'add "created_at"'),
    ('{"id": "weibo:1", "text": "x", "created_at": "soon"}', "ISO 8601"),
    ("{'id': 1}", "one JSON object per line"),
    ('[1, 2]', "{...}"),
    (b'{"id": "weibo:1", "text": "\xb7\xa3"}', "re-encode"),
])
def test_a_rejected_line_says_how_to_fix_it(tmp_path: Path, line: str | bytes, advice: str) -> None:
    report = read_jsonl(write_lines(tmp_path / "one.jsonl", line))
    assert len(report.errors) == 1 and advice in report.errors[0].reason


def test_future_absurd_huge_and_duplicate_posts_are_reported(tmp_path: Path, store: SqliteStore) -> None:
    huge = "召" * 3_000_000
    path = write_lines(
        tmp_path / "odd.jsonl",
        record("ok"),
        record("skew", created_at=(NOW + timedelta(minutes=5)).isoformat()),     # within the clock skew
        record("local", created_at=(NOW + timedelta(hours=8)).isoformat()),     # local time read as UTC
        record("2099", created_at="2099-01-01T00:00:00Z"),
        record("year1", created_at="0001-01-01T00:00:00Z"),
        record("epoch0", created_at=0),
        record("huge", text=huge),
        record("ok", text="second copy"),
    )
    summary = ingest_jsonl(store, path, now=NOW)
    stored = {p.id: p for p in store.iter_posts()}
    assert set(stored) == {"weibo:ok", "weibo:skew", "weibo:local", "weibo:huge"}
    by_line = {e.line: e for e in summary.errors}
    assert set(by_line) == {3, 4, 5, 6, 7, 8}
    assert by_line[3].kind == "future" and not by_line[3].skipped and "UTC offset" in by_line[3].reason
    assert by_line[4].skipped and "future" in by_line[4].reason
    assert by_line[5].skipped and "before 1990" in by_line[5].reason
    assert by_line[6].skipped and "1970-01-01" in by_line[6].reason
    assert by_line[7].kind == "truncated" and not by_line[7].skipped
    text = stored["weibo:huge"].text
    assert len(text) < 101_000 and text.startswith("召" * 1000) and "truncated" in text and "2900000" in text
    assert by_line[8].kind == "duplicate" and "line 1" in by_line[8].reason
    assert stored["weibo:ok"].text == "second copy"  # the later line wins, as the report says
    assert (summary.future, summary.truncated, summary.duplicates, summary.skipped) == (1, 1, 1, 3)
