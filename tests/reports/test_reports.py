"""The briefing and the incident report show the numbers a reader expects, safely escaped."""

from __future__ import annotations

import base64
from datetime import timedelta

import lxml.html
import pytest
from report_data import EVIL, ONSET, RESPONSE, config

from crisiswatch.reports.briefing import write_briefing
from crisiswatch.reports.incident import IncidentNotFound, write_incident_report
from crisiswatch.core.store.sqlite import SqliteStore


def _kpi(doc, kpi_id: str) -> str:
    return doc.get_element_by_id(kpi_id).find_class("v")[0].text_content().strip()


def _rows(doc, table_id: str) -> list[list[str]]:
    table = doc.get_element_by_id(table_id)
    return [[cell.text_content().strip() for cell in row.findall("td")] for row in table.findall(".//tr")[1:]]


def _assert_safe_and_self_contained(doc, html: str) -> None:
    assert doc.xpath("//script") == []
    assert all(not name.startswith("on") for el in doc.iter() if isinstance(el.tag, str) for name in el.attrib)
    assert EVIL in doc.text_content()  # shown as text, not interpreted
    assert "javascript:" not in " ".join(doc.xpath("//a/@href"))
    images = doc.xpath("//img/@src")
    assert images, "charts are embedded"
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in " ".join(doc.xpath("//link/@href | //img/@src"))


def test_briefing_numbers_incidents_and_escaping(filled, tmp_path):
    store, cfg, _ = filled
    out = tmp_path / "briefings"
    path = write_briefing(store, cfg, ONSET, ONSET + timedelta(hours=24), out)
    assert path.parent == out and path.name == "briefing-20260303T0600-20260304T0600.html"
    html = path.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(html)
    _assert_safe_and_self_contained(doc, html)

    assert _kpi(doc, "kpi-posts") == "51"  # 40 crisis + response + 10 after
    assert "+132% vs previous period" in doc.get_element_by_id("kpi-posts").text_content()  # 22 the day before
    assert _kpi(doc, "kpi-negative") == "86%"  # 44 of 51
    assert _kpi(doc, "kpi-positive") == "12%"
    assert _kpi(doc, "kpi-open") == "1" and _kpi(doc, "kpi-opened") == "2"

    incidents = _rows(doc, "incidents")
    assert [row[0].split()[0] for row in incidents] == ["orange", "yellow"]  # by peak level: red first
    assert "peak red" in incidents[0][0]
    assert incidents[0][4] == "resolved" and incidents[0][5] == "48 min" and incidents[0][6] == "8 h 30 min"
    assert incidents[1][5] == "waiting 22 h" and incidents[1][6] == "–"

    watchlists = {row[0].split()[0]: row for row in _rows(doc, "watchlists")}
    assert watchlists["acme"][1:6] == ["51", "18", "100%", "86%", "12%"]
    assert watchlists["rival"][1:4] == ["0", "4", "0%"]


def test_briefing_links_incident_reports_written_beside_it(filled, tmp_path):
    store, cfg, _ = filled
    report = write_incident_report(store, cfg, "inc00001", tmp_path)
    briefing = write_briefing(store, cfg, ONSET, ONSET + timedelta(hours=24), tmp_path)
    doc = lxml.html.fromstring(briefing.read_text(encoding="utf-8"))
    assert doc.xpath("//table[@id='incidents']//a/@href") == [report.name]


def test_incident_report_kpis_response_and_posts(filled, tmp_path):
    store, cfg, facts = filled
    path = write_incident_report(store, cfg, "inc00001", tmp_path)
    assert path.name == "incident-inc00001.html"
    html = path.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(html)
    _assert_safe_and_self_contained(doc, html)

    assert _kpi(doc, "kpi-ack") == "48 min"
    assert _kpi(doc, "kpi-resolve") == "8 h 30 min"
    assert _kpi(doc, "kpi-response") == "3 h 30 min"  # the verified acme_official post
    assert "brand post" in doc.get_element_by_id("kpi-response").text_content()
    assert _kpi(doc, "kpi-posts") == "51"

    before, after = _rows(doc, "sentiment")
    assert before[0] == "before" and before[2:6] == ["35", "100%", "0%", "0%"]
    assert after[0] == "after" and after[2:6] == ["11", "36%", "9%", "55%"]
    assert "moved by -64 points" in doc.text_content()

    kinds = [row[1] for row in _rows(doc, "timeline")]
    assert kinds == ["first post", "fired", "most spread", "level_changed", "acknowledged", "public response",
                     "resolved"]
    first_table, spread_table = doc.xpath("//h2[contains(., 'first posts')]/following-sibling::table[1]"), \
        doc.xpath("//h2[contains(., 'most engaged')]/following-sibling::table[1]")
    assert "made my whole family sick" in first_table[0].findall(".//tr")[1].text_content()
    assert "Acme poisoning again 7" in spread_table[0].findall(".//tr")[1].text_content()
    assert [row[:3] for row in _rows(doc, "notifications")] == [["ops-mail", "fired", "sent"]]


def test_incident_report_falls_back_to_the_acknowledgement_or_a_given_time(filled, tmp_path):
    store, cfg, _ = filled
    cfg.watchlists[0].terms = ["Acme Corp"]  # the official account no longer looks like the brand
    doc = lxml.html.fromstring(write_incident_report(store, cfg, "inc00001", tmp_path).read_text(encoding="utf-8"))
    assert _kpi(doc, "kpi-response") == "48 min" and "acknowledgement" in doc.text_content()
    doc = lxml.html.fromstring(write_incident_report(store, cfg, "inc00001", tmp_path,
                                                     response_at=RESPONSE + timedelta(hours=1)).read_text("utf-8"))
    assert _kpi(doc, "kpi-response") == "4 h 30 min"


def test_unknown_incident_and_bad_period_are_clear_errors(filled, tmp_path):
    store, cfg, _ = filled
    out = tmp_path / "reports"
    with pytest.raises(IncidentNotFound, match="nope"):
        write_incident_report(store, cfg, "nope", out)
    with pytest.raises(ValueError, match="must end after it starts"):
        write_briefing(store, cfg, ONSET, ONSET, out)
    assert not out.exists() or list(out.iterdir()) == []


def test_briefing_of_an_empty_store(tmp_path):
    store = SqliteStore(tmp_path / "empty.db")
    store.setup()
    path = write_briefing(store, config(), ONSET, ONSET + timedelta(days=1), tmp_path)
    doc = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    assert _kpi(doc, "kpi-posts") == "0" and _kpi(doc, "kpi-negative") == "–"
    assert "No incident was open in this period." in doc.text_content()
    store.close()


def test_brand_account_is_recognised_without_a_verified_mark():
    from datetime import datetime, timezone

    from crisiswatch.core.model import Author, Post
    from crisiswatch.reports.incident import _compact, _is_brand_account

    terms = {_compact(t) for t in ["Bluefinch", "bluefinchair", "沁禾乳业"]}

    def post(handle, name=None, verified=False):
        return Post(id="bluesky:x", source="bluesky", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    author=Author(handle=handle, name=name, verified=verified))

    assert _is_brand_account(post("bluefinchair.com"), terms)  # Bluesky domain handle
    assert _is_brand_account(post("bluefinchair.bsky.social"), terms)
    assert _is_brand_account(post("sky", name="Bluefinch"), terms)
    assert _is_brand_account(post("沁禾乳业", verified=True), terms)
    assert _is_brand_account(post("bluefinch_support", verified=True), terms)
    assert not _is_brand_account(post("bluefinch_fan.bsky.social"), terms)  # a fan only contains the name
    assert not _is_brand_account(post("jess-travels.bsky.social", name="Jess"), terms)
