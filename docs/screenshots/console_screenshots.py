"""Screenshots of the incident console for the README, desktop and phone (390 px), taken by
headless Chromium (Playwright) from a real ``crisiswatch serve`` over the demo's data.

Run after ``make run`` (or ``crisiswatch demo --data-dir DIR``), from the repository root::

    .venv/bin/python docs/screenshots/console_screenshots.py [--data-dir data/demo]

The demo's store is copied first (the console runs on the copy, with a throw-away responder
account), so the demo is left as it was. The pages are shown as of the demo's last incident
update (``?at=``), because the demo replays a crisis on a scenario clock. Writes
``docs/screenshots/console-{overview,incident}-{desktop,phone}.png`` as 256-colour PNGs, and
checks on the phone shot that the level, the one-sentence summary, the numbers against normal
and the Acknowledge button are all on the first screen. Needs Debian's chromium and a Chinese
font (``apt-get install fonts-wqy-microhei``). The README's shots come from
``crisiswatch demo --follow 90m``: the replay stops while an incident is still open, before
the demo's team acknowledges it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml
from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from crisiswatch.app.users import Users  # noqa: E402
from crisiswatch.core.model import Incident  # noqa: E402
from crisiswatch.core.store.sqlite import SqliteStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LEVELS = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}


def copy_demo(data_dir: Path, work: Path) -> tuple[Path, SqliteStore]:
    """A copy of the demo's config and store (SQLite's backup API: consistent even while open)."""
    config = yaml.safe_load((data_dir / "crisiswatch.yaml").read_text(encoding="utf-8"))
    source = Path((config.get("store") or {}).get("sqlite_path") or data_dir / "crisiswatch.db")
    target = work / "crisiswatch.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    config["store"] = {**(config.get("store") or {}), "sqlite_path": str(target)}
    config["data_dir"] = str(work)
    path = work / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    store = SqliteStore(target)
    store.setup()
    return path, store


def pick_incident(store: SqliteStore) -> Incident:
    """The incident a responder would open first: the highest level among the open ones (else any)."""
    found = store.list_incidents(states=["open"], limit=500) or store.list_incidents(states=None, limit=500)
    if not found:
        raise SystemExit("the demo's store has no incident: run `make run` first")
    return max(found, key=lambda i: (LEVELS[i.level.value], i.score))


def serve(config: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CRISISWATCH_SECRET_KEY": secrets.token_urlsafe(32)}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("crisiswatch")), "serve", "--port", str(port),
                             "-c", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit("crisiswatch serve did not start:\n" + (proc.stdout.read().decode() if proc.stdout else ""))
        time.sleep(0.3)


def small_png(path: Path) -> None:
    """256 colours: a screenshot of flat UI loses nothing visible and shrinks several times."""
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    if shutil.which("fc-list") and not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout:
        raise SystemExit("no Chinese font: the demo's posts would show as boxes (Debian: apt-get install "
                         "fonts-wqy-microhei)")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "demo")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        config, store = copy_demo(args.data_dir, Path(tmp))
        incident = pick_incident(store)
        at = quote(max(i.updated_at for i in store.list_incidents(states=None, limit=500)).isoformat())
        Users(store).add("screenshots", "responder", password)
        store.close()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = serve(config, port)
        base = f"http://127.0.0.1:{port}"
        launch = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
        if os.geteuid() == 0:
            launch.append("--no-sandbox")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch)
                for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                    context = browser.new_context(viewport=viewport, is_mobile=name == "phone")
                    page = context.new_page()
                    page.goto(f"{base}/login?next=/")
                    page.get_by_label("User name").fill("screenshots")
                    page.get_by_label("Password").fill(password)
                    page.get_by_role("button", name="Log in").click()
                    page.goto(f"{base}/?at={at}")
                    page.screenshot(path=str(args.out / f"console-overview-{name}.png"))
                    page.goto(f"{base}/incidents/{incident.id}")
                    if name == "phone":
                        check_first_screen(page, incident)
                    page.screenshot(path=str(args.out / f"console-incident-{name}.png"))
                    context.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    for shot in sorted(args.out.glob("console-*.png")):
        small_png(shot)
        print(f"{shot.relative_to(REPO) if shot.is_relative_to(REPO) else shot}: {shot.stat().st_size // 1024} KiB")


def check_first_screen(page, incident: Incident) -> None:  # noqa: ANN001
    """Level, summary, numbers against normal and Acknowledge all within the phone's first screen."""
    summary = page.locator("section.summary")
    for what, locator in (("level", summary.locator(".badge")), ("summary", summary.locator("h1")),
                          ("numbers", summary.locator(".numbers")),
                          ("Acknowledge", page.get_by_role("button", name="Acknowledge"))):
        if incident.state.value != "open" and what == "Acknowledge":
            print(f"note: incident {incident.id} is {incident.state.value}: no Acknowledge button to show")
            continue
        box = locator.first.bounding_box()
        if not box or box["y"] + box["height"] > PHONE["height"]:
            raise SystemExit(f"{what} is not on the phone's first screen ({box})")
    if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
        raise SystemExit("the incident page is wider than the phone")


if __name__ == "__main__":
    main()
