"""``crisiswatch demo``: a crisis replayed through the real pipeline on one machine.

The replay server serves a scenario's posts on 127.0.0.1 in each platform's own format, on
a scenario clock the demo moves forward step by step (days of background in one go, then
the crisis in short steps). At each step the real spiders crawl every source, the offline
models enrich what is new, and the alert engine evaluates its rules at that scenario time
(no look-ahead), so incidents open, escalate and resolve as they would have live. Alerts
go to a local webhook receiver (standing in for a team chat) and the outbox; at the end
the incident reports and the briefing are written and the briefing is sent too.

Everything lives under ``data/demo/`` and is replaced by the next run.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from crisiswatch.app import steps as pipeline
from crisiswatch.core.config import Config, load_config
from crisiswatch.core.model import Incident, Level
from crisiswatch.core.scenario import ExpectedAlert, Scenario
from crisiswatch.core.store import open_store

DEMO_DIR = Path("data/demo")
_OWNED = ("crisiswatch.db", "crisiswatch.db-wal", "crisiswatch.db-shm", "crisiswatch.yaml", "outbox", "inbox", "nlp",
          "reports", "charts")


class LocalInbox:
    """A webhook endpoint on 127.0.0.1 that keeps every message it receives as a JSON file.

    It is the demo's stand-in for a team's chat webhook, so alerts travel through Apprise
    and a real HTTP delivery, and a reader can open what "the team" received.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.received = 0
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with inbox._lock:
                    inbox.received += 1
                    number = inbox.received
                (inbox.directory / f"{number:04d}.json").write_bytes(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._httpd.server_address[1]}/hook"

    def __enter__(self) -> "LocalInbox":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class DemoOptions:
    scenario: str = "food_safety_zh"
    seed: int = 0
    data_dir: Path = DEMO_DIR
    lead: timedelta = timedelta(hours=2)
    """The first crawl collects everything up to this long before the onset (the background)."""
    step: timedelta = timedelta(minutes=30)
    """Scenario time between crawls during the crisis."""
    calm_step: timedelta = timedelta(hours=3)
    """Scenario time between crawls once the crisis has had ``busy`` hours."""
    busy: timedelta = timedelta(hours=6)
    follow: timedelta = timedelta(hours=30)
    """How long after the onset the replay runs (at most to the scenario's end)."""
    parallel: int = 3
    """Sources crawled at once."""
    models: dict[str, Any] | None = None
    """A ``models`` config section (e.g. tiny test models); None = the offline defaults."""
    user_config: Config | None = None
    """Channels and routes of the user's own config are added, so alerts also reach them."""
    crawl_timeout_s: float = 300
    topics: bool = True
    """Fit and assign BERTopic topics during enrichment (models.topics)."""
    responder: str | None = "PR on-call (demo)"
    """Who acknowledges incidents once they reach orange (at the next step, as a person
    paged by the alert would) and takes ownership; None = nobody reacts, escalation runs."""


@dataclass
class ExpectationCheck:
    expected: ExpectedAlert
    incident: Incident | None
    reached_at: datetime | None

    @property
    def met(self) -> bool:
        return self.reached_at is not None and self.reached_at <= self.expected.latest_at


@dataclass
class DemoResult:
    scenario: Scenario
    config_path: Path
    steps: list[pipeline.CycleResult] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    checks: list[ExpectationCheck] = field(default_factory=list)
    reports: pipeline.Reports | None = None
    briefing_sent: dict[str, bool] = field(default_factory=dict)
    inbox_messages: int = 0
    outbox_messages: int = 0
    posts: int = 0
    enriched: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[str]:
        return [e for step in self.steps for e in step.errors]


def schedule(scenario: Scenario, options: DemoOptions) -> list[datetime]:
    """Scenario times of the crawls: one backfill, short steps while busy, longer ones after."""
    end = min(scenario.end, scenario.onset + options.follow)
    times = [scenario.onset - options.lead]
    while times[-1] < end:
        busy = times[-1] < scenario.onset + options.busy
        times.append(min(end, times[-1] + (options.step if busy else options.calm_step)))
    return times


def demo_config(scenario: Scenario, sources: list[dict[str, Any]], data_dir: Path, inbox_url: str,
                options: DemoOptions) -> dict[str, Any]:
    """The config file the demo runs with (the spiders read it in their own processes)."""
    channels = [{"name": "team-webhook", "url": inbox_url, "format": "markdown"}]
    routes = [{"name": "demo-team", "min_level": "blue", "channels": ["team-webhook"]}]
    if options.user_config is not None:
        channels += [c.model_dump(mode="json", exclude_defaults=True) for c in options.user_config.channels]
        routes += [r.model_dump(mode="json", exclude_defaults=True) for r in options.user_config.routes]
    section = {
        "data_dir": str(data_dir),
        "store": {"sqlite_path": str(data_dir / "crisiswatch.db")},
        **{key: scenario.config[key] for key in ("watchlists", "crisis_lexicon", "rules") if key in scenario.config},
        "sources": sources,
        "channels": channels,
        "routes": routes,
        "alerting": {"outbox_dir": str(data_dir / "outbox"), "evaluate_every": _duration(options.step)},
        "airflow": {"briefing_channels": ["team-webhook"]},
    }
    section["models"] = {**(options.models or {}), "topics": options.topics}
    return section


def _duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


def level_reached_at(incident: Incident, level: Level) -> datetime | None:
    """When the incident's timeline first shows ``level`` or higher."""
    for event in incident.events:
        value = event.data.get("level") or event.data.get("new")
        if event.kind in ("fired", "reopened", "level_changed", "updated") and value in Level.__members__:
            if Level(value).rank >= level.rank:
                return event.at
    if incident.peak_level.rank >= level.rank and not incident.events:
        return incident.opened_at
    return None


def check_expectations(scenario: Scenario, incidents: list[Incident]) -> list[ExpectationCheck]:
    checks = []
    for expected in scenario.expected_alerts:
        best: tuple[datetime, Incident] | None = None
        for incident in incidents:
            if incident.watchlist != expected.watchlist:
                continue
            if expected.rule and expected.rule != incident.rule and not any(
                    fp.startswith(expected.rule + "|") for fp in incident.related):
                continue
            reached = level_reached_at(incident, expected.min_level)
            if reached is not None and (best is None or reached < best[0]):
                best = (reached, incident)
        checks.append(ExpectationCheck(expected, best[1] if best else None, best[0] if best else None))
    return checks


def respond(store, config: Config, now: datetime, who: str) -> list[str]:
    """The PR team reacts: acknowledge and take every open incident that has reached orange.

    Called a step after the alert went out, this is the moment a paged person says "on it";
    it stops reminders and escalation and starts the response clock of the reports.
    """
    try:
        from alerts import muting as silences
        from alerts.incidents import IncidentBook, Lifecycle
        from alerts.notify import deliver_pending
    except ImportError as exc:
        return [pipeline.missing_component("alerts (acknowledging incidents)", exc)]
    life = Lifecycle(IncidentBook(store), config, silences.load(store))
    touched = []
    for incident in store.list_incidents(states=["open"], limit=1000):
        reached = level_reached_at(incident, Level.orange)
        if reached is None or reached >= now:
            continue
        for change in (life.acknowledge(incident, by=who, now=now), life.assign(incident, to=who, by=who, now=now)):
            store.save_incident(change.incident)
        touched.append(incident.id)
    if touched:
        deliver_pending(store, config, now, incident_ids=touched)
    return []


def prepare_data_dir(data_dir: Path) -> None:
    """Remove what a previous demo left (only the demo's own files) so the replay starts clean."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_demo(options: DemoOptions, on_step: Callable[[int, int, pipeline.CycleResult], None] | None = None,
             on_phase: Callable[[str], None] | None = None) -> DemoResult:
    """Replay ``options.scenario`` through crawl -> enrich -> alerts -> reports; see the module docstring."""
    import scenarios
    from scenarios.replay.server import ReplayServer

    began = time.monotonic()
    say = on_phase or (lambda message: None)
    scenario = scenarios.load(options.scenario, options.seed)
    data_dir = Path(options.data_dir).resolve()  # the spiders may run from another directory
    prepare_data_dir(data_dir)
    config_path = data_dir / "crisiswatch.yaml"
    result = DemoResult(scenario=scenario, config_path=config_path)
    times = schedule(scenario, options)

    with ReplayServer(scenario, speedup=0, clock_start=times[0]) as server, \
            LocalInbox(data_dir / "inbox") as inbox:
        sources = [s.model_dump(mode="json", exclude_defaults=True) for s in server.source_configs()]
        for source in sources:  # every review of the brand's own app is about the brand
            if source["platform"] == "appstore":
                source["keep_all"] = True
        section = demo_config(scenario, sources, data_dir, inbox.url, options)
        config_path.write_text(yaml.safe_dump(section, allow_unicode=True, sort_keys=False), encoding="utf-8")
        config = load_config(config_path)  # the same validation a user's file gets
        say(f"replay server {server.base_url}: {len(scenario.posts)} posts on "
            f"{', '.join(sorted({p.source for p in scenario.posts}))}; {len(times)} crawl steps")
        with open_store(config) as store:
            for number, moment in enumerate(times, 1):
                server.clock.set(moment)
                step = pipeline.run_cycle(store, config, config_path, now=moment, parallel=options.parallel,
                                          crawl_timeout_s=options.crawl_timeout_s)
                if options.responder and number > 1:
                    step.errors += respond(store, config, moment, options.responder)
                result.steps.append(step)
                if on_step is not None:
                    on_step(number, len(times), step)
            end = times[-1]
            result.incidents = sorted(store.list_incidents(limit=1000), key=lambda i: i.opened_at)
            result.checks = check_expectations(scenario, result.incidents)
            say("writing the incident reports and the briefing")
            start = min(scenario.onset - timedelta(hours=24), end - timedelta(hours=24))
            result.reports = pipeline.write_reports(store, config, start, end, data_dir / "reports",
                                                    result.incidents)
            result.briefing_sent = pipeline.send_briefing(config, result.reports.briefing, start, end, store=store)
            result.posts = store.count_posts()
            result.enriched = sum(step.enriched for step in result.steps)
        time.sleep(0.2)  # let the receiver finish writing the last message
        result.inbox_messages = inbox.received
    outbox = data_dir / "outbox"
    result.outbox_messages = len(list(outbox.glob("*.json"))) if outbox.is_dir() else 0
    result.seconds = time.monotonic() - began
    return result


def outbox_summary(data_dir: Path, limit: int = 5) -> list[dict[str, Any]]:
    """The first messages of the outbox (what the team was told, in order)."""
    items = []
    for path in sorted((data_dir / "outbox").glob("*.json")):
        try:
            items.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(items, key=lambda m: m.get("queued_at", ""))[:limit]
