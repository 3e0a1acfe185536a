"""Text, link, count and header normalisation used by the spiders and pipelines."""

from datetime import datetime, timezone

from crawlers.middlewares import retry_after_seconds
from crawlers.normalise import canonical_url, html_to_text, looks_like_html, normalise_whitespace, parse_count


def test_html_becomes_text_with_line_breaks_and_no_scripts():
    html = "<p>Hello <b>world</b> &amp; friends</p><p>line 2<br/>line 3</p><script>alert(1)</script>"
    assert html_to_text(html) == "Hello world & friends\n\nline 2\nline 3"
    assert html_to_text("") == "" and html_to_text("plain") == "plain"


def test_only_real_markup_counts_as_html():
    assert looks_like_html("<p>x</p>") and looks_like_html("fish &amp; chips")
    assert not looks_like_html("I <3 Zephyr") and not looks_like_html("a < b > c")


def test_whitespace_and_control_characters():
    assert normalise_whitespace("  a \t b\r\n\n\n\nc\x00d  ") == "a b\n\ncd"


def test_canonical_urls_drop_tracking_and_fragments_and_sort_queries():
    assert canonical_url("https://Example.com/a?utm_source=x&b=2&a=1&fbclid=z#top") == "https://example.com/a?a=1&b=2"
    assert canonical_url(None) is None
    assert canonical_url("at://did:plc:x/app.bsky.feed.post/1") == "at://did:plc:x/app.bsky.feed.post/1"


def test_counts_in_platform_notations():
    assert parse_count("1.2万") == 12000 and parse_count("356.1万") == 3561000 and parse_count("3亿") == 300000000
    assert parse_count("12.3K") == 12300 and parse_count("2M") == 2000000 and parse_count("48 211") == 48211
    assert parse_count("1万+") == 10000 and parse_count(17) == 17
    assert parse_count("n/a") is None and parse_count(None) is None and parse_count(-3) is None


def test_retry_after_in_seconds_or_http_date():
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Mon, 02 Mar 2026 10:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Mon, 02 Mar 2026 09:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
