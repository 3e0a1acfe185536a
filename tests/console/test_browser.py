"""The console in a real browser (Debian's chromium driven by Playwright), as a person uses it:
on a 390 px phone screen, from the link in a message captured by a loopback webhook."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from crisiswatch.app.console.app import create_app
from crisiswatch.core import signing
from tests.alerts.helpers import free_port
from tests.console.conftest import PASSWORD, SECRET, make_crisis

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[console]')")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} missing: run `make install` "
                                "(apt-get install chromium)")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def served(world, tmp_path, webhook, secret):  # noqa: ARG001
    import uvicorn

    port = free_port()
    crisis = make_crisis(world, tmp_path, webhook, f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(create_app(crisis.config, crisis.store), host="127.0.0.1", port=port,
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield crisis, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    args = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-default-apps"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


def log_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/incidents")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_acknowledge_from_the_message_on_a_phone_then_work_the_incident(served, browser):
    crisis, base = served
    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    page = phone.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, base, "mei")
    page.get_by_role("link", name=crisis.incident.title[:20]).first.click()
    first_screen = page.get_by_role("button", name="Acknowledge").bounding_box()  # level, summary, numbers above it
    assert first_screen and first_screen["y"] + first_screen["height"] <= PHONE["height"]
    assert "normal" in page.locator("section.summary").inner_text()

    link = crisis.ack_link()
    page.goto(link)
    button = page.get_by_role("button", name="Acknowledge")
    box = button.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"] and box["width"] <= PHONE["width"]  # first screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone
    button.click()
    assert "acknowledged by hook" in page.locator("main").inner_text()
    assert crisis.store.get_incident(crisis.incident.id).acknowledged_by == "hook"
    page.goto(link)  # the same link again
    assert "already used" in page.locator("main").inner_text()

    page.goto(f"{base}/incidents?state=acknowledged")
    page.get_by_role("link", name=crisis.incident.title[:20]).first.click()
    summary = page.locator("section.summary")
    assert crisis.incident.level.value in summary.inner_text().lower() and "normal" in summary.inner_text()
    page.get_by_label("Assign to").select_option("ada")
    page.get_by_role("button", name="Assign").click()
    page.get_by_label("Note").fill("holding statement sent")
    page.get_by_role("button", name="Add note").click()
    page.get_by_label("Rate this alert").select_option("useful")
    page.get_by_role("button", name="Rate").click()
    page.get_by_label("How it ended").fill("recall explained")
    page.get_by_role("button", name="Resolve").click()
    text = page.locator("main").inner_text()
    assert "resolved by mei: recall explained" in text and "owner ada" in text and "holding statement sent" in text
    assert "rated useful by mei" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    blocked = [e for e in errors if "Content Security Policy" in e or "Refused to" in e]
    assert not blocked, blocked  # the CSP blocks nothing the console itself needs (its CSS)
    phone.close()


def test_a_viewer_cannot_act_forged_links_and_forms_without_csrf_fail_and_posts_stay_inert(served, browser):
    crisis, base = served
    incident = crisis.store.get_incident(crisis.incident.id)
    incident.evidence["top_posts"] = [{"author": "troll", "source": "weibo", "engagement": 9,
                                       "text": "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"}]
    crisis.store.save_incident(incident)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(crisis.ack_link()[:-4] + "AAAA")  # forged
    assert "not valid" in page.locator("main").inner_text()
    expired = signing.sign_action(SECRET.encode(), incident.id, "acknowledge", "hook", 60, now=time.time() - 3600)
    page.goto(f"{base}/a/{incident.id}/{expired}")
    assert "expired" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Acknowledge").count() == 0

    log_in(page, base, "vic")
    page.goto(f"{base}/incidents/{incident.id}")
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert "<script>document.title='pwned'</script>" in page.locator("main").inner_text()  # shown as text
    assert page.title() != "pwned" and not dialogs
    refused = page.request.post(f"{base}/incidents/{incident.id}/acknowledge", form={}, max_redirects=0)
    assert refused.status == 403 and "Form expired" in refused.text()
    assert crisis.store.get_incident(incident.id).state.value == "open"
    context.close()
