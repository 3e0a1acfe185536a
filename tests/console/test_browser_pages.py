"""The console's newer pages in a real browser (Debian's chromium driven by Playwright), on a
390 px phone and on a desktop: the overview, the posts explorer (search, label correction,
export), alert quality, escalate and silence from the incident page, and the audit log."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest

from alerts import muting
from crisiswatch.core.config import EscalationStep
from tests.alerts.test_cli import cli, write_config
from tests.console.conftest import AT
from tests.console.test_browser import PHONE, browser, log_in, served  # noqa: F401  (fixtures)

DESKTOP = {"width": 1280, "height": 800}
SCREENS = pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["phone", "desktop"])


def fits(page, screen: dict) -> None:  # noqa: ANN001
    assert page.evaluate("document.documentElement.scrollWidth") <= screen["width"], page.url  # no sideways scroll


@SCREENS
def test_overview_explorer_export_and_quality(served, browser, screen):  # noqa: F811
    crisis, base = served
    context = browser.new_context(viewport=screen, is_mobile=screen is PHONE)
    page = context.new_page()
    page.goto(f"{base}/login")
    fits(page, screen)
    log_in(page, base, "mei")
    assert page.get_by_role("link", name=crisis.incident.title[:20]).first.is_visible()  # the incident list
    fits(page, screen)

    page.goto(f"{base}/?at={quote(AT.isoformat())}")
    assert crisis.store.get_incident(crisis.incident.id).level.value == "red"  # the world's crisis, 30 min in
    acme = page.locator("li.watchlist", has_text="acme")
    assert acme.locator(".badge").inner_text().lower() == "red"  # acme's level is its open incident's
    assert page.locator("li.card.level-red", has_text=crisis.incident.title[:20]).first.is_visible()  # open, red
    assert "baseline learned" in acme.inner_text() and acme.locator("svg.spark").is_visible()
    assert page.locator("li.watchlist", has_text="zenith").locator(".badge").inner_text().lower() == "calm"
    sources = page.locator("table.sources tbody tr")
    assert sources.count() == len(crisis.config.sources) and sources.first.is_visible()
    fits(page, screen)

    page.get_by_role("link", name="Explore").click()
    page.get_by_label("Query").fill("recall OR 召回")
    page.get_by_label("Watchlist").select_option("acme")
    page.get_by_role("button", name="Search").click()
    total = int(page.locator("strong.total").inner_text().replace(",", ""))
    assert total > 0 and page.locator("svg.histogram").is_visible()
    first = page.locator("ol.results > li").first
    assert "recall" in first.inner_text().lower() or "召回" in first.inner_text()
    fits(page, screen)

    first.get_by_text("Correct labels").click()
    first.get_by_label("Sentiment").select_option("neutral")
    first.get_by_role("button", name="Save sentiment").click()
    assert "set to neutral by mei" in page.locator("p.done").inner_text()
    assert "sentiment: neutral ✓" in page.locator("ol.results > li").first.inner_text()
    labels = crisis.store.get_labels("sentiment")
    assert [(lb.label, lb.source) for lb in labels] == [("neutral", "console")]

    href = page.get_by_role("link", name="CSV").get_attribute("href")
    exported = page.request.get(base + href)  # the browser's session
    assert exported.ok and "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text())))
    assert len(rows) == total and all("acme" in row["watchlists"] for row in rows)

    page.get_by_role("link", name="Quality").click()
    page.get_by_label("Last").select_option("365d")  # the world's crisis is months old
    page.get_by_role("button", name="Show").click()
    table = page.locator("table.quality tbody").inner_text()
    assert crisis.incident.rule in table and "acme" in table
    fits(page, screen)
    context.close()


@SCREENS
def test_escalate_and_silence_from_the_incident_page_then_the_audit_log(served, browser, screen, tmp_path,  # noqa: F811
                                                                       monkeypatch):
    crisis, base = served
    crisis.config.routes[0].escalation = [EscalationStep(after="1d", channels=["hook"])]  # only a person takes it now
    context = browser.new_context(viewport=screen, is_mobile=screen is PHONE)
    page = context.new_page()
    log_in(page, base, "mei")
    page.goto(f"{base}/incidents/{crisis.incident.id}")

    before = len(crisis.webhook.received)
    page.get_by_label("Escalate now (why it cannot wait)").fill("the CEO is named")
    page.get_by_role("button", name="Escalate now").click()
    assert "escalated" in page.locator("p.done").inner_text()
    assert len(crisis.webhook.received) == before + 1 and "the CEO is named" in crisis.webhook.received[-1].body["message"]

    page.get_by_label("Silence notifications for").select_option("watchlist")
    page.locator("select[name=duration]").select_option("6h")
    page.get_by_label("Reason").fill("press briefing")
    page.get_by_role("button", name="Silence", exact=True).click()
    assert "silenced watchlist 'acme'" in page.locator("p.done").inner_text()
    (silence,) = muting.load(crisis.store)
    assert (silence.watchlist, silence.created_by, silence.reason) == ("acme", "mei", "press briefing")
    assert "press briefing" in page.locator("ol.timeline").inner_text()
    fits(page, screen)

    config = write_config(tmp_path, crisis.store.path)  # someone manages users from the server's command line
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "another password 9")
    assert cli("users", "add", "noor", "--role", "viewer", "--by", "ada", "-c", config).exit_code == 0

    page.get_by_role("link", name="Audit").click()
    rows = page.locator("table.audit tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert "ada" in texts[0] and "cli" in texts[0] and "added user noor (viewer)" in texts[0]
    assert any("mei" in t and "web" in t and "silenced" in t for t in texts)
    assert any("mei" in t and "web" in t and "escalated" in t for t in texts)
    fits(page, screen)
    context.close()
