"""Every feed format news sites serve, read into posts with their language (issue 13, items 3 and 4)."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.pipelines import NormalisePipeline
from crawlers.platforms.rss.spider import RssSpider
from tests.crawlers.helpers import TextResponse, XmlResponse, recorded, run, spider_for


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def read(tmp_path, name: str, kind=XmlResponse, headers=None):
    spider = spider_for(RssSpider, tmp_path, targets={"feeds": ["https://feeds.example/f"]})
    posts, _ = run(spider.parse_feed, recorded(f"https://feeds.example/{name}", name, kind, headers))
    normalise = NormalisePipeline.for_spider(spider).process_item
    return [normalise(p) for p in posts], spider


def test_rss_1_0_rdf_feed_is_read_with_dc_fields_and_language(tmp_path):
    posts, spider = read(tmp_path, "rss10_rdf.xml")
    assert spider.errors == []
    assert [p.url for p in posts] == ["https://getraenke.example/2026/03/zephyr-rueckruf",
                                      "https://getraenke.example/2026/03/zephyr-hotline",
                                      "https://getraenke.example/2026/03/zephyr-faq"]
    first, hotline, _ = posts
    assert first.title == "Zephyr Cola ruft Dosen zurück – Verbraucher & Händler betroffen"
    assert first.text == "Der Hersteller nennt die Chargen L2291 und L2292.\n\nKunden erhalten den Kaufpreis zurück."
    assert first.created_at == utc(2026, 3, 2, 9, 15, 30) and first.author.name == "Redaktion Getränke"
    assert hotline.text == "Anrufer warten über eine Stunde — das Unternehmen verspricht mehr Personal."
    assert {p.language for p in posts} == {"de-DE"}  # <dc:language>


def test_rss_0_91_latin1_feed_with_language(tmp_path):
    posts, spider = read(tmp_path, "rss091.xml")
    assert spider.errors == [] and [p.language for p in posts] == ["es", "es"]
    assert posts[0].text == "Varios lectores dicen que el refresco sabe metálico & sin gas."
    assert posts[0].created_at == utc(2026, 3, 2, 0, 10)  # -0300
    assert posts[1].text.endswith("según el fabricante.") and posts[1].created_at == utc(2026, 3, 2, 8, 0)


def test_atom_text_kinds_xml_lang_and_relative_links(tmp_path):
    posts, spider = read(tmp_path, "atom_lang.xml")
    assert spider.errors == []
    recall, crash, petition = posts
    assert recall.title == "Zephyr Cola : le rappel s'étend <enfin>"  # type="html" title, entities decoded
    assert recall.text == "Les canettes de 33 cl sont concernées.\n\nRemboursement en magasin : sans ticket."
    assert recall.url == "https://boissons.example/2026/03/rappel-zephyr"  # xml:base
    assert recall.created_at == utc(2026, 3, 2, 9, 41, 9, 125000) and recall.language == "fr"
    # type="text": angle brackets are the author's text, never markup to strip
    assert 'line 12, in <module>' in crash.text and '<div class="titlebox">' in crash.text
    assert crash.language == "en" and crash.author.name == "Sam Reader"
    assert petition.title == "Une pétition contre Zephyr" and petition.text == "Plus de 2 000 signatures en un jour."
    assert petition.id == "t-rss:urn:uuid:0b9e5b2c-7d2e-4e4e-9f3e-2a5c0b1d9e71" and petition.url is None
    assert petition.created_at == utc(2026, 3, 2, 4, 59, 59) and petition.language == "fr"


def test_json_feed_1_1_items_languages_and_the_undated_item(tmp_path):
    posts, spider = read(tmp_path, "jsonfeed_11.json", TextResponse, {"Content-Type": "application/feed+json"})
    recall, app, note = posts
    assert recall.url == "https://qishui.example/2026/03/02/zephyr-recall"  # tracking parameter dropped
    assert recall.title == "泽飞可乐召回：批次 L2291 & L2292"
    assert recall.text == "泽飞可乐宣布召回部分 330ml 罐装产品。\n\n消费者可凭罐底批次号退款 。"
    assert recall.created_at == utc(2026, 3, 2, 10, 20) and recall.language == "zh-Hans"
    assert recall.author.name == "汽水观察编辑部"  # the feed's authors
    assert app.id == "t-rss:20260302001" and app.language == "en" and app.author.name == "Lin Wei"
    assert app.created_at == utc(2026, 3, 2, 9, 5, 7, 500000)
    assert '<div class="titlebox">' in app.text and "in <module>" in app.text and "AT&T" in app.text
    assert note.created_at == utc(2026, 3, 2, 10, 30) and note.title is None  # date_modified only
    assert len(spider.errors) == 1 and "date_published" in spider.errors[0]


def test_json_feed_1_0_author_object(tmp_path):
    posts, spider = read(tmp_path, "jsonfeed_10.json", TextResponse)
    assert spider.errors == []
    assert [p.author.name for p in posts] == ["Fizz Watch Desk", "Ana Núñez"]
    assert posts[0].text == "Stores will refund Zephyr Cola cans — receipt or not."
    assert posts[0].created_at == utc(2026, 3, 2, 16, 0) and posts[1].text.endswith("🥤 since Friday.")


def test_feed_language_falls_back_to_the_response_header(tmp_path):
    posts, _ = read(tmp_path, "jsonfeed_10.json", TextResponse)
    assert posts[0].language is None
    xml_posts, _ = read(tmp_path, "youtube_channel.xml", XmlResponse, {"Content-Language": "en-GB"})
    assert xml_posts[0].language == "en-GB"


def test_a_json_document_that_is_not_a_feed_is_a_clear_page_error(tmp_path):
    import pytest

    from crawlers.base_spider import PageError

    spider = spider_for(RssSpider, tmp_path, targets={"feeds": ["https://feeds.example/f"]})
    response = TextResponse(url="https://feeds.example/api", body=b'{"error": "rate limited"}', encoding="utf-8")
    with pytest.raises(PageError, match="not a JSON Feed|JSON Feed version"):
        list(spider.parse_feed(response, None))
